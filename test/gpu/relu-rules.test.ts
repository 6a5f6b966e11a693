import { expect, it } from 'vitest';
import { describeGpu, useHarness } from '../support/browser';
import { seedFromEnv } from '../support/random';

const seed = seedFromEnv();
console.log(`relu rules GPU tests: TEST_SEED=${seed}`);

describeGpu('relu by bit tests: the backward masks dy exactly where the y it reads is positive', () => {
  const harness = useHarness();

  it('forward relu, the mask of any y, and pre-activations where fused and unfused fma disagree', async () => {
    const report = await harness().call('reluRulesCase', { seed });
    expect(report.backend).toBe('webgpu');
    // 2 tunings × 4 layouts × (forward, mask train, mask eval, crafted eval, crafted train).
    expect(report.results.length).toBe(40);
    for (const r of report.results) {
      expect(r.problems, r.name).toEqual([]);
      // The mask bites and passes in every backward case.
      if (r.size > 0) expect(r.passing, r.name).toBeGreaterThan(0);
      if (r.size > 0) expect(r.passing, r.name).toBeLessThan(r.size);
    }
    // Not vacuous: the crafted inputs hold elements whose sign depends on how fma is compiled.
    const crafted = (mode: string) => report.results.filter((r) => r.name.startsWith(`crafted pre-activations near 0, ${mode}`));
    for (const mode of ['eval', 'train']) {
      const total = crafted(mode).reduce((sum, r) => sum + r.contested, 0);
      console.log(`${mode}: ${total} contested elements in ${crafted(mode).map((r) => r.contested).join(', ')}`);
      expect(total, mode).toBeGreaterThan(0);
    }
  });
});
