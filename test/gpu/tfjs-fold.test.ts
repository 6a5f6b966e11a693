import { expect, it } from 'vitest';
import { describeGpu, useHarness } from '../support/browser';
import { seedFromEnv } from '../support/random';

/*
 * foldModelBatchNorm on TF.js's WebGPU backend (float32 sums on the GPU): the demo model with
 * TF.js's batch-norm layer and with ours, trained a few steps on real MNIST digits, and a
 * convolution model (a batch norm after a Conv2D, one before a 'valid' Conv2D), each with random
 * batch-norm statistics. The folded model has no batch norm left, its weights are foldBatchNorm's,
 * and its logits and predictions on held-out digits stay within the float32 bound of
 * test/support/fold-bounds.ts (the Node test, test/node/fold-model.test.ts, runs the same on
 * TF.js's CPU backend).
 */
const seed = seedFromEnv();
console.log(`tfjs fold: TEST_SEED=${seed}`);

describeGpu('batch norm folded away from TF.js models, on the WebGPU backend', () => {
  const harness = useHarness();

  it('demo model (both batch-norm layers) and a convolution model: folded, predictions within the bound', async () => {
    const reports = await harness().call('tfjsFold', { seed });
    expect(reports.map((r) => r.name)).toEqual(['demo model (stock)', 'demo model (ours)', 'conv model']);
    for (const r of reports) {
      console.log(`${r.name} on ${r.backend}: largest error ${(100 * r.logitsUsed).toFixed(3)} % of the logits' bound, ${(100 * r.predictionsUsed).toFixed(3)} % of the predictions'`);
      expect(r.backend).toBe('webgpu');
      expect(r.layers.filter((c) => /BatchNormalization/.test(c))).toEqual([]);
      expect(r.weightProblems).toEqual([]);
      expect(r.logitsUsed).toBeLessThanOrEqual(1);
      expect(r.predictionsUsed).toBeLessThanOrEqual(1);
    }
    expect(reports[0].layers).toEqual(['Dense', 'Dense', 'Dense']);
  }, 240_000);
});
