import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeGpu, openHarness, type HarnessPage } from '../support/browser';
import { seedFromEnv } from '../support/random';

const seed = seedFromEnv();
/** Cases per CI run, and per page call (one encoder, one readback). */
const CASES = 2400;
const BATCH = 120;
console.log(`differential GPU test: TEST_SEED=${seed} (${CASES} random cases; replay a failure with TEST_SEED=${seed})`);

describeGpu('randomized differential test: GPU against the float64 references', () => {
  let harness: HarnessPage;
  const counts: Record<string, number> = {};
  beforeAll(async () => {
    harness = await openHarness();
  });
  afterAll(async () => {
    await harness?.close();
    const total = Object.entries(counts).reduce((sum, [key, n]) => (key === 'in slabs' ? sum : sum + n), 0);
    console.log(`differential: ${total} cases, TEST_SEED=${seed}: ${Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  });

  it.each(Array.from({ length: CASES / BATCH }, (_, b) => [b * BATCH, (b + 1) * BATCH - 1] as const))('cases %i…%i: zero mismatches', async (first, last) => {
    const report = await harness.call('differentialBatch', { seed, first, count: last - first + 1 });
    for (const [key, n] of Object.entries(report.counts)) counts[key] = (counts[key] ?? 0) + n;
    expect(report.cases).toBe(last - first + 1);
    // About a quarter of the cases run with a binding cap that splits their tensors into slabs.
    expect(report.counts['in slabs'] ?? 0).toBeGreaterThan(0);
    const described = report.failures.map((f) => `case ${f.spec.index} (TEST_SEED=${seed}) ${JSON.stringify(f.spec)}:\n${f.failures.join('\n')}`);
    expect(described).toEqual([]);
  });
});
