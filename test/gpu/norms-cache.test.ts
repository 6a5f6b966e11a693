import { expect, it } from 'vitest';
import { describeGpu, useHarness } from '../support/browser';
import { seedFromEnv } from '../support/random';

const seed = seedFromEnv();
console.log(`norm cache GPU tests: TEST_SEED=${seed}`);

const cases = [
  { name: 'layer norm, row-wise kernels', kind: 'layer', shape: [12, 32] },
  { name: 'group norm, tensor-wide kernels', kind: 'group', shape: [3, 6, 5], groups: 3 },
] as const;

describeGpu('norm GPU-resident calls keep their passes and bind groups per buffer set', () => {
  const harness = useHarness();

  it.each(cases)('$name: a repeated set makes no bind group and pushes no error scope; a new buffer makes its own; outputs repeat bit for bit', async (spec) => {
    const steps = await harness().call('normCacheCase', { seed, ...spec });
    expect(steps.map((s) => s.sameAsFirst)).toEqual(steps.map(() => true));
    const [first, again, third, newDx, newDxAgain, backToFirst] = steps;
    // The first call of each makes its bind groups inside error scopes.
    for (const calls of [first.forward, first.backward, newDx.backward]) expect(calls.bindGroups).toBeGreaterThan(0);
    // Served from the cache: no device call that could fail, so no scope either.
    for (const step of [again, third, newDxAgain, backToFirst]) {
      expect(step.forward, step.label).toEqual({ bindGroups: 0, scopes: 0 });
      expect(step.backward, step.label).toEqual({ bindGroups: 0, scopes: 0 });
    }
    // A new dx: the forward's set is unchanged (cached), the backward's is new.
    expect(newDx.forward).toEqual({ bindGroups: 0, scopes: 0 });
  });
});
