import { afterAll, beforeAll, expect, it } from 'vitest';
import type { BackwardCase } from './page/backward-case';
import type { ForwardCase } from './page/forward-case';
import { launchProfiles } from '../../src/gpu/tuning-classes';
import { CROSS_CLASS_RATIO } from '../../src/gpu/autotune-policy';
import type { Layout } from '../../src/types';
import { describeGpu, openHarness, type HarnessPage } from '../support/browser';
import { seedFromEnv } from '../support/random';
import { isCI } from '../setup/gpu-context';

const seed = seedFromEnv();
console.log(`autotune GPU tests: TEST_SEED=${seed}`);

/**
 * Whatever candidate autotuning picks, results stay within the float64 reference's tolerance: every
 * declared launch profile forced on every family (forward-train, inference, backward), on odd shapes
 * of both reduction walks (rows: NC, NHWC; runs: NCHW), vec4 and scalar, large means, and enough
 * rows for many partials per channel.
 */
const shapes: [Layout, number[], number?][] = [
  ['NC', [37, 5]],
  ['NC', [20000, 4], 1e4],
  ['NHWC', [4, 8, 8, 16]],
  ['NCHW', [3, 5, 31, 17]],
  ['NCHW', [8, 3, 17, 19], 1e4],
  ['NCHW', [16, 2, 64, 64]],
];

function forcedCases(): { forward: ForwardCase[]; backward: BackwardCase[] } {
  const forward: ForwardCase[] = [];
  const backward: BackwardCase[] = [];
  for (const [p, profile] of launchProfiles.entries()) {
    for (const [k, [layout, shape, mean]] of shapes.entries()) {
      const name = `profile ${p} ${layout} [${shape}]${mean ? ' mean 1e4 ± 1' : ''}`;
      const large = mean ? { mean, std: 1 } : {};
      const activation = k % 2 ? 'relu' : 'none';
      forward.push({ name: `${name} train`, seed, shape, layout, pass: 'train', activation, convention: k % 3 ? 'pytorch' : 'keras', tuning: { ...profile }, ...large });
      forward.push({ name: `${name} inference`, seed, shape, layout, pass: 'inference', activation, convention: 'pytorch', tuning: { ...profile }, ...large });
      backward.push({ name: `${name} backward`, seed, shape, layout, mode: k % 3 ? 'train' : 'eval', activation, tuning: { ...profile }, ...large });
    }
  }
  return { forward, backward };
}

const tuned = [
  { shape: [4, 16, 32, 32], layout: 'NCHW' as const },
  { shape: [2048, 32], layout: 'NC' as const },
  { shape: [4, 16, 16, 16], layout: 'NHWC' as const },
];

describeGpu('autotuning', () => {
  let harness: HarnessPage;
  beforeAll(async () => {
    harness = await openHarness();
  });
  afterAll(async () => {
    await harness?.close();
  });

  const { forward, backward } = forcedCases();
  it.each(forward.map((c) => [c.name, c] as const))('forced candidate, forward: %s', async (_name, spec) => {
    const report = await harness.call('forwardCase', spec);
    expect(report.backend).toBe('webgpu');
    expect(report.checks.filter((c) => c.failure !== null).map((c) => c.failure)).toEqual([]);
  });

  it.each(backward.map((c) => [c.name, c] as const))('forced candidate, %s', async (_name, spec) => {
    const report = await harness.call('backwardCase', spec);
    expect(report.backend).toBe('webgpu');
    expect(report.checks.filter((c) => c.failure !== null).map((c) => c.failure)).toEqual([]);
  });

  it('an engine with autotune on computes what one without computes, tunes each class once and stores it', async () => {
    const report = await harness.call('autotuneCase', { seed, shapes: tuned });
    // The engine asks for timestamp-query whenever the adapter has it (SwiftShader does).
    expect(report.deviceHasTimestamps).toBe(report.adapterHasTimestamps);
    expect(report.finite).toBe(true);
    // Both are float32 results of sums over ≤ 65 536 values in different orders: each sum is within
    // ~1e-6 relative, so outputs of magnitude ≤ ~10 differ by far less than 1e-4 · (1 + magnitude);
    // a kernel that skipped or doubled work would be off by O(1).
    for (const [name, diff] of Object.entries(report.maxDiff)) {
      expect(diff, name).toBeLessThanOrEqual(1e-4 * (1 + report.maxMagnitude[name]));
    }
    const classes = report.again.classes;
    // 3 families × (NCHW runs/256 KiB, NC rows/256 KiB, NHWC rows/64 KiB).
    expect(classes.map((c) => c.sizeClass).sort()).toEqual(
      ['forwardTrain', 'backward', 'inference'].flatMap((f) => [`${f}/runs/256KiB`, `${f}/rows/256KiB`, `${f}/rows/64KiB`]).sort(),
    );
    if (report.adapterHasTimestamps) {
      // The host-array calls tuned every class; autotune() then finds them all.
      expect(Object.keys(report.stored).sort()).toEqual(classes.map((c) => c.sizeClass).sort());
      for (const c of classes) {
        expect(c.source).toBe('stored');
        expect(c.chosen).toEqual(report.stored[c.sizeClass]);
      }
      expect(report.second.classes.every((c) => c.source === 'stored' && c.tuningMs === 0)).toBe(true);
      expect(report.second.classes.map((c) => c.chosen)).toEqual(classes.map((c) => c.chosen));
      const [forced] = report.forced.classes;
      expect(forced.source).toBe('timed');
      expect(forced.candidates.length).toBeGreaterThan(1);
      expect(forced.candidates[0].tuning).toEqual({});
      // Every candidate timed got a positive time, and the chosen one is among them.
      const timed = forced.candidates.filter((c) => c.ms !== undefined);
      expect(timed.every((c) => c.ms! > 0)).toBe(true);
      expect(timed.map((c) => c.tuning)).toContainEqual(forced.chosen);
      expect(report.tuningForMatches).toBe(true);
    }
  });

  it('without timestamp-query: no error, nothing timed or stored, the heuristics stay', async () => {
    const report = await harness.call('noTimestampsCase', { seed, shapes: tuned });
    expect(report.deviceHasTimestamps).toBe(false);
    expect(report.report.timestamps).toBe(false);
    expect(report.report.classes.length).toBe(9);
    expect(report.report.classes.every((c) => c.source === 'heuristic' && c.candidates.length === 0)).toBe(true);
    expect(report.heuristicsKept).toBe(true);
    expect(report.nothingStored).toBe(true);
    // Same device, same tuning, same kernels: the same y bit for bit.
    expect(report.maxDiff).toBe(0);
  });

  it('dispatchCount plans with the size class’s autotuned launch shapes, and matches the launches recorded', async () => {
    const report = await harness.call('tunedDispatchCountCase');
    expect(report.tuned.classSource).toBe('forwardTrain/runs/4KiB: stored');
    expect(report.heuristic.reported).toBe(report.heuristic.recorded);
    expect(report.tuned.reported).toBe(report.tuned.recorded);
    // The stored class flips the 'Runs' reductions, so one of the two engines takes one dispatch
    // and the other three kernels.
    expect([report.heuristic.recorded, report.tuned.recorded].sort()).toEqual([1, 3]);
  });

  it('a class above 2 MiB is screened on a slice first; what is chosen computes what the heuristics do', async () => {
    const report = await harness.call('screenedAutotuneCase', { seed });
    expect(report.classes.map((c) => c.sizeClass)).toEqual(['forwardTrain/rows/1MiB', 'backward/rows/1MiB']);
    for (const c of report.classes) {
      expect(c.source).toBe('timed');
      expect(c.screenShapes).toEqual([[2048, 128, 1]]);
      expect(c.candidates.length).toBeGreaterThan(1);
      // The chosen candidate ran at full size.
      expect(c.candidates.find((k) => JSON.stringify(k.tuning) === JSON.stringify(c.chosen))!.ms).toBeGreaterThan(0);
    }
    // Same sums in other orders: within float32 noise of outputs of magnitude ~3 (see above).
    expect(report.maxDiff).toBeLessThanOrEqual(1e-4 * (1 + report.maxMagnitude));
  });

  it('smaller classes are timed first; candidates far behind there are not run in the larger class of the walk', async () => {
    const report = await harness.call('smallerClassFirstCase', { seed });
    // Reported family by family in the order of the shapes given (1 MiB first), timed smallest first.
    expect(report.classes.map((c) => c.sizeClass)).toEqual(['forwardTrain/runs/1MiB', 'forwardTrain/runs/64KiB', 'backward/runs/1MiB', 'backward/runs/64KiB']);
    for (const family of ['forwardTrain', 'backward']) {
      const small = report.classes.find((c) => c.sizeClass === `${family}/runs/64KiB`)!;
      const large = report.classes.find((c) => c.sizeClass === `${family}/runs/1MiB`)!;
      expect([small.source, large.source]).toEqual(['timed', 'timed']);
      expect(small.candidates.every((k) => k.dropped !== 'smallerClass')).toBe(true);
      // The one-dispatch choices are never dropped across classes (see the next test).
      const farBehind = small.candidates.filter((k) => (k.ratio ?? 0) >= CROSS_CLASS_RATIO && k.tuning.oneDispatch === undefined).map((k) => JSON.stringify(k.tuning));
      // A real GPU's launch shapes are many times slower on a software adapter: the rule is exercised.
      expect(farBehind.length).toBeGreaterThan(0);
      expect(large.candidates.filter((k) => k.dropped === 'smallerClass').map((k) => JSON.stringify(k.tuning))).toEqual(farBehind);
      for (const k of large.candidates.filter((k) => k.dropped === 'smallerClass')) expect([k.ms, k.ratio]).toEqual([undefined, undefined]);
      expect(farBehind).not.toContain(JSON.stringify(large.chosen));
      // Both tensors fit one dispatch with the winning (software) launch profile: the multi-pass
      // kernels race it in each class, whatever the smaller class found.
      for (const c of [small, large]) {
        const choices = c.candidates.filter((k) => k.tuning.oneDispatch !== undefined);
        expect(choices.map((k) => k.tuning.oneDispatch)).toEqual([false]);
        expect(choices[0].ms !== undefined || choices[0].dropped === 'firstRun').toBe(true);
      }
      // The best of each class is the reference of its ratios.
      expect(Math.min(...small.candidates.map((k) => k.ratio ?? Infinity))).toBe(1);
    }
    expect(report.maxDiff).toBeLessThanOrEqual(1e-4 * (1 + report.maxMagnitude));
  });

  it('one dispatch or not races the winning launch profile where it changes what a class runs; never when the caller set it', async () => {
    const report = await harness.call('dispatchChoiceCase', { seed });
    const byClass = Object.fromEntries(report.classes.map((c) => [c.sizeClass, c]));
    expect(Object.keys(byClass).sort()).toEqual(['forwardTrain', 'backward', 'inference'].flatMap((f) => [`${f}/runs/64KiB`, `${f}/rows/256KiB`]).sort());
    const choices = (sizeClass: string) => byClass[sizeClass].candidates.filter((k) => k.tuning.oneDispatch !== undefined);
    for (const family of ['forwardTrain', 'backward', 'inference'] as const) {
      // NCHW [2, 32, 16, 16] runs in one dispatch by the heuristics of a software adapter: the
      // multi-pass kernels are the other candidate, run at full size unless a first run dropped them.
      const small = byClass[`${family}/runs/64KiB`];
      expect(small.source).toBe('timed');
      const [off, ...others] = choices(small.sizeClass);
      expect(others).toEqual([]);
      // On top of the launch profile that won (one of the class's other candidates).
      const { oneDispatch, ...profile } = off.tuning;
      expect(oneDispatch).toBe(false);
      expect(small.candidates.filter((k) => k.tuning.oneDispatch === undefined).map((k) => k.tuning)).toContainEqual(profile);
      expect(off.ms !== undefined || off.dropped === 'firstRun').toBe(true);
      // The engine plans with what was chosen: one dispatch unless the multi-pass kernels won.
      const multiPass = family === 'inference' ? 2 : 3;
      expect(report.chosenDispatches[family], family).toBe(small.chosen.oneDispatch === false ? multiPass : 1);
    }
    // NC [1024, 128] (131 072 values) trains in three kernels either way on a software adapter; its
    // inference (512 KB) folds in a dispatch of its own unless oneDispatch is true.
    expect(choices('forwardTrain/rows/256KiB')).toEqual([]);
    expect(choices('backward/rows/256KiB')).toEqual([]);
    expect(choices('inference/rows/256KiB').map((k) => k.tuning.oneDispatch)).toEqual([true]);
    // An engine whose tuning sets oneDispatch: never a candidate.
    expect(report.pinned.length).toBe(2);
    for (const c of report.pinned) expect(c.candidates.every((k) => k.tuning.oneDispatch === undefined)).toBe(true);
    expect(report.maxDiff).toBeLessThanOrEqual(1e-4 * (1 + report.maxMagnitude));
  });

  it('the timer runs batches of several sizes in one submit, each k times with a time of its own; 2048 at most', async (ctx) => {
    const slots = [3, 1, 5];
    const report = await harness.call('timerBatchesCase', { slots });
    if (!report.hasTimestamps) {
      // batches() needs timestamp-query, which CI's adapters have; elsewhere an adapter without it
      // skips this loudly.
      if (isCI()) throw new Error('the adapter has no timestamp-query');
      console.warn('SKIPPED: the adapter has no timestamp-query');
      ctx.skip();
      return;
    }
    // 2048 single calls in the last slot; the call with 2049 ran none of its work.
    expect(report.counts).toEqual([...slots, 2048]);
    expect(report.slotTimes).toHaveLength(slots.length);
    expect(report.slotTimes.every(Number.isFinite)).toBe(true);
    expect(report.manyTimes).toBe(2048);
    expect(report.manyFinite).toBe(true);
    expect(report.tooMany).toBe('RangeError');
  });

  it('localStorage store: round trip, per key, unreadable items read as none', async () => {
    const report = await harness.call('localStorageCase');
    expect(report.loaded).toEqual({ 'forwardTrain/rows/4MiB': { blockedRows: true, statsTargetThreads: 2048 } });
    expect(report.otherKey).toBeUndefined();
    expect(report.corrupt).toBeUndefined();
  });
});
