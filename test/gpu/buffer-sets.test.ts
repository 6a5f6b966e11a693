import { expect, it } from 'vitest';
import type { BufferSetsSpec, BufferSetsStep } from './page/buffer-sets-case';
import { describeGpu, useHarness } from '../support/browser';
import { seedFromEnv } from '../support/random';

const seed = seedFromEnv();
console.log(`buffer-set GPU tests: TEST_SEED=${seed}`);

const specs: BufferSetsSpec[] = [
  { name: 'NHWC [3, 5, 7, 6] relu', seed, shape: [3, 5, 7, 6], layout: 'NHWC', activation: 'relu' },
  { name: 'NC [37, 5]', seed, shape: [37, 5], layout: 'NC', activation: 'none' },
  // 1188 values in slabs of at most 1 KiB: every launch binds parts of x, y, dy and dx at offsets.
  { name: 'NCHW [4, 3, 9, 11] in slabs', seed, shape: [4, 3, 9, 11], layout: 'NCHW', activation: 'relu', tuning: { maxBindingBytes: 1024 } },
];

/** Steps whose buffer set (per call) was used before, so their calls must come from the cache. */
const warm: Record<string, ('forwardTrain' | 'backward' | 'inference')[]> = {
  'A again, new contents': ['forwardTrain', 'backward', 'inference'],
  'A with x and y replaced, again': ['forwardTrain', 'backward', 'inference'],
  'A2, x as dy too': ['forwardTrain', 'inference'],
  'A2, γ and β one buffer': ['backward'],
  'A2 once more': ['forwardTrain', 'backward', 'inference'],
};

describeGpu('GPU-resident calls on changing buffer sets (cached passes and bind groups)', () => {
  const harness = useHarness();

  for (const spec of specs) {
    it(`${spec.name}: every result matches the reference; repeated sets come from the cache, new ones do not`, async () => {
      const { steps } = await harness().call('bufferSetsCase', spec);
      expect(steps.map((s: BufferSetsStep) => s.label)).toEqual(['A', 'B', 'A again, new contents', 'A with x and y replaced', 'A with x and y replaced, again', 'A2, x as dy too', 'A2, γ and β one buffer', 'A2 once more']);
      for (const step of steps) {
        expect(step.errors, step.label).toBe('accepted');
        const failures = step.checks.filter((c) => c.failure !== null).map((c) => c.failure);
        expect(failures, step.label).toEqual([]);
        expect(step.checks.length).toBeGreaterThanOrEqual(10);
        for (const op of ['forwardTrain', 'backward', 'inference'] as const) {
          const calls = step.calls[op];
          if (warm[step.label]?.includes(op)) {
            expect(calls, `${step.label} ${op}`).toEqual({ bindGroups: 0, scopes: 0 });
          } else {
            // A new buffer set (or a new aliasing of buffers): new bind groups, inside error scopes.
            expect(calls.bindGroups, `${step.label} ${op}`).toBeGreaterThan(0);
            expect(calls.scopes, `${step.label} ${op}`).toBeGreaterThanOrEqual(2);
          }
        }
      }
    });
  }

  it('a call whose GPU objects failed is not cached: repeated, it is reported again; a clean call is then served from the cache', async () => {
    const r = await harness().call('cachedErrorsCase');
    expect(r.twice).toMatch(/^2 GPU errors in GPU-resident calls:\nencodeForwardTrain: GPU validation error: .*test\.foreign/s);
    expect(r.afterCleanCalls).toEqual({ bindGroups: 0, scopes: 0 });
    expect(r.clean).toBe('accepted');
  });
});
