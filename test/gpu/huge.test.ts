import { expect, it } from 'vitest';
import { describeGpu, useHarness } from '../support/browser';
import { seedFromEnv } from '../support/random';

const seed = seedFromEnv();
console.log(`huge-tensor GPU tests: TEST_SEED=${seed}`);

/** WebGPU's default maxStorageBufferBindingSize. */
const DEFAULT_BINDING = 128 * 1024 * 1024;

/**
 * Real tensors larger than one storage binding, on a device created with the default binding limit
 * (128 MiB) and the adapter's maxBufferSize: every kernel works on slabs bound at aligned offsets
 * (src/gpu/slabs.ts). The same checks as forward.test.ts and backward.test.ts (float64 reference,
 * poisoned outputs, resident and host-array paths). Two ways of splitting: NHWC in slabs of whole
 * rows; NCHW with one batch row (C · H · W values) wider than a binding, in slabs of channels.
 */
const shapes = [
  { layout: 'NHWC', shape: [3, 1800, 1800, 4] },
  { layout: 'NCHW', shape: [1, 3, 3500, 3500] },
] as const;

describeGpu('tensors larger than maxStorageBufferBindingSize (default-limits device)', () => {
  const harness = useHarness();

  it.each(shapes.map((s) => [`${s.layout} [${s.shape}]`, s] as const))('forward train %s', async (_name, { layout, shape }) => {
    const bytes = (shape as readonly number[]).reduce((a, b) => a * b, 4);
    const started = performance.now();
    const report = await harness().call('forwardCase', {
      name: `huge ${layout}`,
      seed,
      shape: [...shape],
      layout,
      pass: 'train',
      activation: 'relu',
      convention: 'pytorch',
      device: 'default-bindings',
    });
    console.log(`forward train ${layout} [${shape}] (${(bytes / 2 ** 20).toFixed(0)} MiB per tensor, binding limit ${report.bindingLimit / 2 ** 20} MiB): ` +
      report.checks.map((c) => `${c.path} ${c.output} ${c.maxAbs.toExponential(1)}`).join(', ') + `; ${((performance.now() - started) / 1000).toFixed(1)} s`);
    expect(report.bindingLimit).toBe(DEFAULT_BINDING);
    expect(bytes).toBeGreaterThan(report.bindingLimit);
    expect(report.backend).toBe('webgpu');
    expect(report.inputUnmodified).toBe(true);
    expect(report.checks.filter((c) => c.failure !== null).map((c) => c.failure)).toEqual([]);
  }, 300_000);

  it.each(shapes.map((s) => [`${s.layout} [${s.shape}]`, s] as const))('backward %s', async (_name, { layout, shape }) => {
    const bytes = (shape as readonly number[]).reduce((a, b) => a * b, 4);
    const started = performance.now();
    const report = await harness().call('backwardCase', { name: `huge ${layout}`, seed, shape: [...shape], layout, mode: 'train', activation: 'relu', device: 'default-bindings' });
    console.log(`backward ${layout} [${shape}]: ` + report.checks.map((c) => `${c.path} ${c.output} ${c.maxAbs.toExponential(1)}`).join(', ') + `; ${((performance.now() - started) / 1000).toFixed(1)} s`);
    expect(report.bindingLimit).toBe(DEFAULT_BINDING);
    expect(bytes).toBeGreaterThan(report.bindingLimit);
    expect(report.backend).toBe('webgpu');
    expect(report.inputUnmodified).toBe(true);
    expect(report.masked).toBeGreaterThan(0);
    expect(report.checks.filter((c) => c.failure !== null).map((c) => c.failure)).toEqual([]);
  }, 300_000);

  it("refuses what the device cannot take with a 'too-large' error before any upload", async () => {
    const report = await harness().call('tooLargeCase');
    for (const r of report.refusals) console.log(`${r.what}: ${r.code}: ${r.message} (${r.buffersCreated} buffers created)`);
    expect(report.refusals).toHaveLength(4);
    for (const r of report.refusals) {
      expect(r.code, r.what).toBe('too-large');
      expect(r.buffersCreated, r.what).toBe(0);
    }
    expect(report.usableAfter).toBe(true);
  });
});
