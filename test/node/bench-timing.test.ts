import { describe, expect, it } from 'vitest';
import { timeGpuInterleaved, type Encode } from '../../bench/page/timing';
import type { GpuTimer } from '../../src/gpu/gpu-timer';
import type { TimingPlan } from '../../bench/lib/types';

/** A timer whose every iteration "takes" `msPerIteration` of GPU time; it records the batches asked for. */
function fakeTimer(msPerIteration: number) {
  const batches: { variant: number; k: number }[] = [];
  const timer = {
    async batch(encode: Encode, k: number) {
      batches.push({ variant: (encode as unknown as { id: number }).id, k });
      return { ms: msPerIteration, wallMs: msPerIteration };
    },
  } as unknown as GpuTimer;
  return { timer, batches };
}

const variants = [{ id: 0 }, { id: 1 }] as unknown as Encode[];
const plan: TimingPlan = { targetBatchMs: 10, maxK: 4, minReps: 3, maxReps: 3, budgetMs: 1 };

describe('GPU row timing', () => {
  it('without warmupMs times right after calibrating: a warm-up batch, two calibration runs, then the repetitions', async () => {
    const { timer, batches } = fakeTimer(1);
    const samples = await timeGpuInterleaved(timer, variants, plan);
    expect(batches.length).toBe(2 * 3 + 3 * 2);
    expect(samples.map((s) => s.k)).toEqual([4, 4]);
    expect(samples.map((s) => s.ms.length)).toEqual([3, 3]);
  });

  it('with warmupMs keeps both variants busy for that much GPU time before the repetitions', async () => {
    const { timer, batches } = fakeTimer(1);
    await timeGpuInterleaved(timer, variants, { ...plan, warmupMs: 100 });
    const warmup = batches.slice(2 * 3, batches.length - 3 * 2);
    const busy = warmup.reduce((sum, b) => sum + b.k * 1, 0);
    expect(busy).toBeGreaterThanOrEqual(100);
    // In turn, in batches longer than the timed ones, and no more than one round past the target.
    expect(new Set(warmup.map((b) => b.variant))).toEqual(new Set([0, 1]));
    expect(warmup.every((b) => b.k > 4)).toBe(true);
    expect(busy - 2 * warmup[0].k).toBeLessThan(100);
  });
});
