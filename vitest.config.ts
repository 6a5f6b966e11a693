import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // One line per file; a failed test's logs and every TEST_SEED line still shown.
    reporters: ['./test/support/quiet-reporter.ts'],
    silent: 'passed-only',
    projects: [
      {
        test: {
          name: 'node',
          include: ['test/node/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'gpu',
          include: ['test/gpu/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test/setup/gpu-global-setup.ts'],
          // SwiftShader runs WebGPU on the CPU: large cases take seconds, not milliseconds.
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // All files share one browser on a machine with few cores; parallel tabs would only
          // compete for them and make timeouts flaky.
          fileParallelism: false,
          maxWorkers: 1,
        },
      },
      {
        test: {
          name: 'node-gpu',
          include: ['test/node-gpu/**/*.test.ts'],
          environment: 'node',
          // Builds the library as published, then checks that Dawn gives the GPU host an adapter.
          globalSetup: ['test/node-gpu/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'docs',
          // Every TypeScript block of README.md and docs/*.md, type-checked and run (WebGPU from Dawn).
          include: ['test/docs/**/*.test.ts'],
          environment: 'node',
        },
      },
      // The portable GPU suite (test/portable) outside the browser, one project per implementation:
      // Dawn on lavapipe, Deno (wgpu) on SwiftShader, Dawn's OpenGL ES backend in compatibility mode.
      // Each runs after the others have finished (groupOrder): all of them run WebGPU on the CPU,
      // and in parallel they would only slow each other and the browser suite's larger cases.
      ...(['lavapipe', 'deno', 'compat'] as const).map((implementation, k) => ({
        test: {
          name: `portable-${implementation}`,
          include: [`test/portable/${implementation}.test.ts`],
          environment: 'node',
          globalSetup: ['test/portable/global-setup.ts'],
          testTimeout: 300_000,
          hookTimeout: 120_000,
          sequence: { groupOrder: k + 1 },
        },
      })),
    ],
  },
});
