import { expect, it } from 'vitest';
import { describeGpu, useHarness } from '../support/browser';
import { seedFromEnv } from '../support/random';

const seed = seedFromEnv();
console.log(`norm non-finite GPU tests: TEST_SEED=${seed}`);

describeGpu('NaN and ±Inf through layer, RMS, group and instance norm on the GPU, exactly like the CPU path', () => {
  const harness = useHarness();

  it('a non-finite row gets NaN statistics and outputs, a NaN dy its row and parameter; GPU and CPU agree', async () => {
    const report = await harness().call('normNonFiniteCase', { seed });
    expect(report.results.length).toBe(30);
    for (const r of report.results) expect(r.backend).toBe('webgpu');
    const failing = report.results.filter((r) => r.rules.length > 0 || r.gpuVsCpu.length > 0).map((r) => `${r.name}: ${[...r.rules, ...r.gpuVsCpu].join('; ')}`);
    expect(failing).toEqual([]);
  });
});
