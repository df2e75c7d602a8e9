import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  // __filename in the ESM build (the native addon is found next to the package's package.json).
  shims: true,
  format: ['esm', 'cjs'],
  dts: { compilerOptions: { composite: false } },
  tsconfig: 'tsconfig.json',
  sourcemap: true,
  clean: true,
  target: 'es2022',
  external: [/^@tensorflow\//, /^@busi\//, 'sharp'],
});
