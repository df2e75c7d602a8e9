/** One jest run over every package; sources are tested directly (no build needed). */
const packages = ['core', 'backbones', 'decoders', 'losses', 'kernels', 'data', 'onnx', 'node'];
module.exports = {
  testEnvironment: 'node',
  roots: packages.map((p) => `<rootDir>/packages/${p}`),
  testMatch: ['**/test/**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', diagnostics: false }],
  },
  moduleNameMapper: Object.fromEntries(
    packages.map((p) => [`^@busi/${p}$`, `<rootDir>/packages/${p}/src/index.ts`]),
  ),
  testTimeout: 600000,
  maxWorkers: 2,
};
