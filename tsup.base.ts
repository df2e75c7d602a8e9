import { defineConfig, type Options } from 'tsup';

/**
 * The build every workspace package shares (ESM + CJS with declarations, workspace and tfjs
 * packages left external); a package passes only what differs, e.g. its entry points.
 */
export function packageBuild(overrides: Options = {}) {
  return defineConfig({
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: { compilerOptions: { composite: false } },
    tsconfig: 'tsconfig.json',
    sourcemap: true,
    clean: true,
    target: 'es2022',
    external: [/^@tensorflow\//, /^@busi\//, 'sharp'],
    ...overrides,
  });
}
