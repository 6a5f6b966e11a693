import { expect, it } from 'vitest';
import { describeGpu, useHarness } from '../support/browser';
import { seedFromEnv } from '../support/random';

const seed = seedFromEnv();
console.log(`layer GPU tests: TEST_SEED=${seed}`);

describeGpu('BatchNorm layer on the GPU', () => {
  const harness = useHarness();

  // The running statistics are float32 on the GPU and float64 in the reference; five steps of
  // keep·r + take·stat add a few float32 roundings of values of order |mean| + var (≤ ~20 here):
  // 1e-5 absolute for the mean and 2e-5 relative for the variance.
  it.each([
    ['pytorch', 0.1],
    ['pytorch', null],
    ['keras', 0.99],
    ['keras', 0.5],
    ['onnx', 0.9],
  ] as const)('running statistics over 5 steps, %s momentum %s, against float64', async (convention, momentum) => {
    const report = await harness().call('layerRunningStats', { seed, convention, momentum });
    expect(report.numBatchesTracked).toBe(5);
    for (const step of report.steps) {
      expect(step.meanErr, `step ${step.step} mean`).toBeLessThan(1e-5);
      expect(step.varErr, `step ${step.step} variance`).toBeLessThan(2e-5);
    }
  });

  // Same float32 bounds as the forward statistics (test/support/tolerances.ts): the GPU partials
  // carry ~16ε of |mean| + std and 2e-5 relative variance; the merge is float64. With mean 1e4 ± 1
  // each shard's float32 mean carries 2^-24·1e4 of rounding, which Chan's between-shard term turns
  // into 2^-23·(|mean|/std)/sqrt(shard count) ≈ 1.2e-4 relative variance for shards of ≥ 30:
  // allowed 2.5e-4 there (see src/channel-statistics.ts).
  it.each([
    ['NCHW', [12, 3, 5, 7], [3, 3, 3, 3], 0],
    ['NHWC', [10, 4, 3, 8], [1, 2, 3, 4], 0],
    ['NC', [400, 6], [100, 70, 200, 30], 1e4],
  ] as const)('synchronized BN: the merged partials of 4 %s shards equal the full batch', async (layout, shape, parts, center) => {
    const report = await harness().call('syncStatsCase', { seed, layout, shape: [...shape], parts: [...parts], center });
    expect(report.count).toBe(report.expectedCount);
    expect(report.meanErr).toBeLessThan(16 * 2 ** -24);
    expect(report.varianceRelErr).toBeLessThan(center > 100 ? 2.5e-4 : 2e-5);
  });

  it('state dict export → import round-trips exactly, with the Keras view, and eval mode uses it', async () => {
    const report = await harness().call('layerState', { seed });
    expect(report.roundTripExact).toBe(true);
    expect(report.kerasNames).toEqual(['gamma', 'beta', 'moving_mean', 'moving_variance']);
    expect(report.evalMatchesReference).toBeLessThan(1e-5);
    expect(report.restoredEvalIdentical).toBe(true);
    expect(report.trainedAfterImportIdentical).toBe(true);
  });

  it('a residual: forward { residual } and backward { dz } give the bits of the host-array calls, in training and eval', async () => {
    const report = await harness().call('layerResidual', { seed });
    expect(report.modes.map((m) => m.mode)).toEqual(['train', 'eval']);
    for (const m of report.modes) {
      expect({ y: m.y, dx: m.dx, dz: m.dz, weightGrad: m.weightGrad, biasGrad: m.biasGrad }, m.mode).toEqual({ y: true, dx: true, dz: true, weightGrad: true, biasGrad: true });
      expect(m.masked, `${m.mode}: the relu mask bites`).toBeGreaterThan(0);
      expect(m.passed, `${m.mode}: and passes`).toBeGreaterThan(0);
    }
  });
});
