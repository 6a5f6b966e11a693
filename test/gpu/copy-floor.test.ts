import { expect, it } from 'vitest';
import { describeGpu, useHarness } from '../support/browser';

describeGpu("the benchmark's floor: every copy shape copies the whole tensor and nothing more", () => {
  const harness = useHarness();

  it('copies every value, at sizes that are not multiples of a thread’s run or of a workgroup', async () => {
    // In vec4s: 1; 63 (under one 16 × 64 workgroup's run of four); 1021 (a prime, runs cut short);
    // 4096 (exactly one 16 × 256 workgroup); 4099 and 70001 (several workgroups, a ragged last one).
    const sizes = [1, 63, 1021, 4096, 4099, 70001].map((units) => units * 4);
    const results = await harness().call('copyFloorCase', {
      sizes,
      // A run not a multiple of the four-unit step: the single-unit tail loop does the rest.
      shapes: [{ workgroupSize: 4, unitsPerThread: 7, walk: 'segments' }],
    });
    expect(results.length).toBe(sizes.length * 6);
    for (const r of results) expect(r).toEqual({ ...r, wrong: 0, pastEnd: 0 });
  });
});
