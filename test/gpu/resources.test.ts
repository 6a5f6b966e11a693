import { expect, it } from 'vitest';
import { describeGpu, useHarness } from '../support/browser';
import { seedFromEnv } from '../support/random';

const seed = seedFromEnv();
console.log(`resources GPU tests: TEST_SEED=${seed}`);

describeGpu('GPU buffers over 10 000 calls, concurrency, dispose', () => {
  const harness = useHarness();

  it('10 000 host-array calls from 8 concurrent callers: bounded buffers, correct results; dispose() frees everything', async () => {
    const r = await harness().call('resourcesCase', { seed, calls: 10_000, callers: 8 });
    console.log(
      `live GPU buffers (real, counted on the device): baseline ${r.live.baseline}, largest per quarter of ${r.calls} calls ` +
        `[${r.live.maxByQuarter.join(', ')}], after the calls ${r.live.afterCalls} (engine's own count ${r.live.engineCount}), ` +
        `after dispose() ${r.live.afterDispose}; own device: ${r.owned.afterCalls} → ${r.owned.afterDispose}; ` +
        `layer + optimizer + mirror: +${r.training.withTraining} → +${r.training.afterDestroy}`,
    );
    // Every call succeeded, and verify mode found every GPU result equal to the CPU path's.
    expect(r.failures).toEqual([]);
    expect(r.calls).toBe(10_000);
    // Bounded: within what the caches may hold (pool: ≤ 4 free buffers per size and usage, plus
    // those of the 8 calls in flight; uniforms, scratch and constants: a few per shape), and no
    // growth after the first quarter beyond the jitter of how many calls are in flight at once (a
    // leak of one buffer per 100 calls would add 75).
    const [first, ...rest] = r.live.maxByQuarter;
    for (const later of rest) expect(later).toBeLessThanOrEqual(first + 16);
    expect(Math.max(...r.live.maxByQuarter)).toBeLessThan(200);
    // The engine's bookkeeping matches the device's real count.
    expect(r.live.engineCount).toBe(r.live.afterCalls - r.live.baseline);
    expect(r.live.afterDispose).toBe(r.live.baseline);
    expect(r.owned.afterDispose).toBe(0);
    expect(r.training.withTraining).toBeGreaterThan(0);
    expect(r.training.afterDestroy).toBe(0);
  });
});
