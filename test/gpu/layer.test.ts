import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gpuSkipped, openHarness, type HarnessPage } from '../support/browser';
import { seedFromEnv } from '../support/random';

const seed = seedFromEnv();
console.log(`layer GPU tests: TEST_SEED=${seed}`);

describe.skipIf(gpuSkipped)('BatchNorm layer on the GPU', () => {
  let harness: HarnessPage;
  beforeAll(async () => {
    harness = await openHarness();
  });
  afterAll(async () => {
    await harness?.close();
  });

  // The running statistics are float32 on the GPU and float64 in the reference; five steps of
  // keep·r + take·stat add a few float32 roundings of values of order |mean| + var (≤ ~20 here):
  // 1e-5 absolute for the mean and 2e-5 relative for the variance.
  it.each([
    ['pytorch', 0.1],
    ['pytorch', null],
    ['keras', 0.99],
    ['keras', 0.5],
  ] as const)('running statistics over 5 steps, %s momentum %s, against float64', async (convention, momentum) => {
    const report = await harness.call('layerRunningStats', { seed, convention, momentum });
    expect(report.numBatchesTracked).toBe(5);
    for (const step of report.steps) {
      expect(step.meanErr, `step ${step.step} mean`).toBeLessThan(1e-5);
      expect(step.varErr, `step ${step.step} variance`).toBeLessThan(2e-5);
    }
  });

  it('state dict export → import round-trips exactly, with the Keras view, and eval mode uses it', async () => {
    const report = await harness.call('layerState', { seed });
    expect(report.roundTripExact).toBe(true);
    expect(report.kerasNames).toEqual(['gamma', 'beta', 'moving_mean', 'moving_variance']);
    expect(report.evalMatchesReference).toBeLessThan(1e-5);
    expect(report.restoredEvalIdentical).toBe(true);
    expect(report.trainedAfterImportIdentical).toBe(true);
  });
});
