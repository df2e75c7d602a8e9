/** One jest run over every package; sources are tested directly (no build needed). */
const fs = require('node:fs');
const os = require('node:os');

// The webgpu tests run on SwiftShader where it is installed (or on BUSI_WEBGPU_ICD). Dawn's Vulkan
// loader reads VK_ICD_FILENAMES from the real environment, of which a test's process.env is only
// a copy, so it is set here, before the workers start.
if (!process.env.VK_ICD_FILENAMES) {
  const wanted = process.env.BUSI_WEBGPU_ICD;
  const candidates = require('./packages/kernels/src/webgpu/swiftshader-icds.json');
  const icd = wanted && wanted !== 'swiftshader' ? wanted : candidates.find((f) => fs.existsSync(f));
  if (icd) {
    process.env.VK_ICD_FILENAMES = icd;
    process.env.XDG_RUNTIME_DIR = process.env.XDG_RUNTIME_DIR || os.tmpdir();
  }
}
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
