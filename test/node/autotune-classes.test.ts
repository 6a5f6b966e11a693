import { describe, expect, it } from 'vitest';
import { channelView } from '../../src/layout';
import { candidatesFor, dispatchCandidates, kernelFamilies, launchProfiles, restrictCandidate, sizeClassKey, sizeClassOf } from '../../src/gpu/tuning-classes';
import { batchAfterFirstRun, noteRatios, screenSlice, withinReach } from '../../src/gpu/autotune-policy';
import { resolveTuning, softwareAdapterTuning, type KernelTuning } from '../../src/gpu/tuning';

const gpuDefaults = resolveTuning(undefined, 256, {});
const software = resolveTuning(undefined, 256, softwareAdapterTuning);

describe('size classes', () => {
  it('power-of-4 byte buckets, split by reduction walk', () => {
    // 4 MiB (NC [8192, 128]) and just under it, 16 MiB, NCHW.
    expect(sizeClassKey(sizeClassOf('forwardTrain', channelView([8192, 128], 'NC')))).toBe('forwardTrain/rows/4MiB');
    expect(sizeClassKey(sizeClassOf('forwardTrain', channelView([8191, 128], 'NC')))).toBe('forwardTrain/rows/1MiB');
    expect(sizeClassKey(sizeClassOf('backward', channelView([128, 32, 32, 32], 'NHWC')))).toBe('backward/rows/16MiB');
    expect(sizeClassKey(sizeClassOf('inference', channelView([128, 32, 32, 32], 'NCHW')))).toBe('inference/runs/16MiB');
    expect(sizeClassKey(sizeClassOf('inference', channelView([1, 1], 'NC')))).toBe('inference/rows/4B');
    // Same class for NC and NHWC of one bucket: the kernels see both as rows.
    expect(sizeClassOf('backward', channelView([32, 32, 32, 32], 'NHWC'))).toEqual(sizeClassOf('backward', channelView([8192, 128], 'NC')));
  });
});

describe('candidates', () => {
  it('start with the heuristic ({}), hold no duplicate, and only the family knobs', () => {
    for (const base of [gpuDefaults, software]) {
      for (const family of kernelFamilies) {
        const candidates = candidatesFor(family, base);
        expect(candidates[0]).toEqual({});
        const effective = candidates.map((c) => JSON.stringify({ ...base, ...c }));
        expect(new Set(effective).size).toBe(candidates.length);
        for (const c of candidates.slice(1)) {
          expect(Object.keys(c).length).toBeGreaterThan(0);
          if (family === 'inference') for (const knob of Object.keys(c)) expect(['workgroupSize', 'applyUnitsPerThread', 'contiguousUnitsPerThread']).toContain(knob);
        }
      }
    }
  });

  it('from the GPU defaults include the software-adapter profile, and vice versa', () => {
    const fromGpu = candidatesFor('forwardTrain', gpuDefaults).map((c) => ({ ...gpuDefaults, ...c }));
    expect(fromGpu).toContainEqual(software);
    const fromSoftware = candidatesFor('backward', software).map((c) => ({ ...software, ...c }));
    expect(fromSoftware).toContainEqual(gpuDefaults);
    // Each declared profile is reachable from either base.
    expect(candidatesFor('forwardTrain', gpuDefaults).length).toBe(launchProfiles.length);
  });

  it('never tune a knob the caller set, nor exceed the device workgroup size', () => {
    const pinned: Partial<KernelTuning> = { blockedRows: false, workgroupSize: 64 };
    for (const c of candidatesFor('forwardTrain', resolveTuning(pinned, 256, {}), pinned)) {
      expect(c.blockedRows).toBeUndefined();
      expect(c.workgroupSize).toBeUndefined();
    }
    expect(candidatesFor('backward', gpuDefaults, {}, 128).every((c) => (c.workgroupSize ?? 64) <= 128)).toBe(true);
    expect(restrictCandidate('inference', { workgroupSize: 128, blockedRows: true, statsTargetThreads: 9 })).toEqual({ workgroupSize: 128 });
  });

  it('offer one dispatch or not only where it changes what the class runs, and never when the caller set it', () => {
    // Per shape of the class: dispatches with the heuristic choice, oneDispatch false, true.
    const counts = (heuristic: number[], off: number[], on: number[]) => ({ heuristic, off, on });
    // A class the heuristic runs in one dispatch: the multi-pass kernels are the other candidate.
    expect(dispatchCandidates(counts([1], [3], [1]))).toEqual([{ oneDispatch: false }]);
    // One dispatch nowhere either way (too large): nothing to try.
    expect(dispatchCandidates(counts([3, 4], [3, 4], [3, 4]))).toEqual([]);
    // A GPU's few-channel tensor, three kernels by the heuristic: forcing one dispatch is the choice.
    expect(dispatchCandidates(counts([3], [3], [1]))).toEqual([{ oneDispatch: true }]);
    // Shapes of one class on both sides of the heuristic's limit: both choices.
    expect(dispatchCandidates(counts([1, 3], [3, 3], [1, 1]))).toEqual([{ oneDispatch: false }, { oneDispatch: true }]);
    // Inference on a CPU adapter above its fold-in-apply size: 2 dispatches, 1 when forced.
    expect(dispatchCandidates(counts([2], [2], [1]))).toEqual([{ oneDispatch: true }]);
    for (const oneDispatch of [true, false]) expect(dispatchCandidates(counts([1, 3], [3, 3], [1, 1]), { oneDispatch })).toEqual([]);
    // A stored choice is kept by every family (restrictCandidate), unless the caller set it.
    for (const family of kernelFamilies) {
      expect(restrictCandidate(family, { oneDispatch: false })).toEqual({ oneDispatch: false });
      expect(restrictCandidate(family, { oneDispatch: false }, { oneDispatch: true })).toEqual({});
    }
  });

  it('every profile is a valid tuning', () => {
    for (const profile of launchProfiles) expect(() => resolveTuning(profile, 256, {})).not.toThrow();
  });
});

describe('screening before full-size runs', () => {
  it('slices a large tensor to about 1 MiB of rows, same channels and inner extent', () => {
    expect(screenSlice(channelView([8192, 128], 'NC'))).toMatchObject({ outer: 2048, channels: 128, inner: 1 });
    expect(screenSlice(channelView([128, 32, 32, 32], 'NCHW'))).toMatchObject({ outer: 8, channels: 32, inner: 1024 });
    // Never more than the tensor, never empty.
    expect(screenSlice(channelView([3, 5], 'NC'))).toMatchObject({ outer: 3, channels: 5 });
    expect(screenSlice(channelView([1, 1 << 20, 1], 'NCL'))).toMatchObject({ outer: 1, channels: 1 << 20 });
  });

  it('keeps the candidates within 1.5× of the fastest, or all that ran when one run is too short to judge', () => {
    expect(withinReach([4, 5.9, 6.1, Infinity])).toEqual([true, true, false, false]);
    // The fastest under 2 ms: one timestamp reading is mostly quantization; nothing is dropped.
    expect(withinReach([0.1, 0.5, Infinity])).toEqual([true, true, false]);
    expect(withinReach([Infinity, Infinity])).toEqual([false, false]);
  });

  it('sizes timed batches to last 2 ms, and counts a first run that lasted one as a reading', () => {
    // Short first runs: batches of several calls, two of them timed (the first run is quantization).
    expect(batchAfterFirstRun(0.05)).toEqual({ calls: 40, runs: 2 });
    expect(batchAfterFirstRun(1.99)).toEqual({ calls: 2, runs: 2 });
    // Tiny or unreadable (0 ms) first runs: at most 64 calls per batch.
    expect(batchAfterFirstRun(0.001)).toEqual({ calls: 64, runs: 2 });
    expect(batchAfterFirstRun(0)).toEqual({ calls: 64, runs: 2 });
    // A first run of a whole batch or more: one call per batch, and one timed batch after it.
    expect(batchAfterFirstRun(2)).toEqual({ calls: 1, runs: 1 });
    expect(batchAfterFirstRun(60)).toEqual({ calls: 1, runs: 1 });
  });

  it('judges how far behind each candidate is only from readings that can judge', () => {
    const ratios: (number | undefined)[] = [undefined, undefined, undefined];
    // Single readings with the fastest under a timing batch: nothing recorded.
    noteRatios(ratios, [0.5, 1.9, Infinity], false);
    expect(ratios).toEqual([undefined, undefined, undefined]);
    // Batched readings always judge; a candidate that did not run keeps what it had.
    noteRatios(ratios, [0.5, 2, Infinity], true);
    expect(ratios).toEqual([1, 4, undefined]);
    // A later round overrides the earlier one for the candidates in it.
    noteRatios(ratios, [Infinity, 6, 3], false);
    expect(ratios).toEqual([1, 2, 1]);
  });
});
