import { packageBuild } from '../../tsup.base';

// __filename in the ESM build (the native addon is found next to the package's package.json).
export default packageBuild({ shims: true });
