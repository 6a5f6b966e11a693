import { expect, it } from 'vitest';
import { describeGpu, useHarness } from '../support/browser';
import { seedFromEnv } from '../support/random';

const seed = seedFromEnv();
console.log(`non-finite GPU tests: TEST_SEED=${seed}`);

describeGpu('NaN and ±Inf on the GPU follow the README rules, exactly like the CPU path', () => {
  const harness = useHarness();

  it('every scenario: rules hold on the GPU, and GPU and CPU agree on every NaN and ±Inf', async () => {
    const report = await harness().call('nonFiniteCase', { seed });
    expect(report.results.length).toBeGreaterThanOrEqual(50);
    for (const r of report.results) {
      expect(r.backend).toBe('webgpu');
      expect(r.rules, r.name).toEqual([]);
      expect(r.gpuVsCpu, r.name).toEqual([]);
    }
    // checkFinite: refused before any upload or submit.
    expect(report.checkFinite).toEqual({ code: 'non-finite', submits: 0, writes: 0 });
  });
});
