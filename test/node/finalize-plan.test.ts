import { describe, expect, it } from 'vitest';
import { planBackwardFinalize } from '../../src/gpu/backward-plan';
import { FINALIZE_MAX_PARTIALS, planFinalize, planPartialsFold } from '../../src/gpu/statistics-plan';
import { defaultTuning, resolveTuning, softwareAdapterTuning } from '../../src/gpu/tuning';
import { channelView } from '../../src/layout';

describe('finalize: serial fold or workgroup tree (planMerge)', () => {
  const view = channelView([32768, 128], 'NC');
  const software = resolveTuning(undefined, 256, softwareAdapterTuning);

  it('folds serially up to tuning.serialFinalizeMaxChunks partials per channel, with a tree above', () => {
    expect(planFinalize(view, 32, defaultTuning, 65535).entryPoint).toBe('finalizeSerial');
    expect(planFinalize(view, 33, defaultTuning, 65535)).toEqual({ entryPoint: 'finalizeTree', grid: [128, 1] });
    expect(planBackwardFinalize(view, 33, defaultTuning, 65535).entryPoint).toBe('backwardFinalizeTree');
    // Software adapters, where a barrier costs microseconds per workgroup, fold far more serially.
    expect(software.serialFinalizeMaxChunks).toBeGreaterThan(defaultTuning.serialFinalizeMaxChunks);
    expect(planFinalize(view, 64, software, 65535)).toEqual({ entryPoint: 'finalizeSerial', grid: [2, 1] });
    expect(planBackwardFinalize(view, 64, software, 65535).entryPoint).toBe('backwardFinalizeSerial');
    expect(planFinalize(view, software.serialFinalizeMaxChunks + 1, software, 65535).entryPoint).toBe('finalizeTree');
  });

  it('above FINALIZE_MAX_PARTIALS partials per channel, folds groups of them first (a two-level finalize)', () => {
    const few = channelView([1_048_576, 4], 'NC');
    expect(planPartialsFold(few, FINALIZE_MAX_PARTIALS, defaultTuning, 65535)).toBeUndefined();
    // 16 384 partials per channel: 128 groups of 128, a workgroup per (channel, group); the backward's sums alike.
    expect(planPartialsFold(few, 16384, defaultTuning, 65535, 'sums')?.entryPoint).toBe('sumsFold');
    expect(planPartialsFold(few, 16384, defaultTuning, 65535)).toEqual({ entryPoint: 'statsFold', workgroupSize: 128, params: { channels: 4, chunks: 16384, groupSize: 128, groups: 128 }, grid: [512, 1] });
    for (const chunks of [129, 1000, 1250, 65535, 1_000_003]) {
      const fold = planPartialsFold(few, chunks, defaultTuning, 65535)!;
      // Every partial is in exactly one group, no group is empty, and finalize then merges at most 128.
      expect(fold.params.groups).toBeLessThanOrEqual(FINALIZE_MAX_PARTIALS);
      expect(fold.params.groups * fold.params.groupSize).toBeGreaterThanOrEqual(chunks);
      expect((fold.params.groups - 1) * fold.params.groupSize).toBeLessThan(chunks);
      // A workgroup as large as its group (a power of two), never larger than the tuning's.
      expect(fold.workgroupSize).toBe(Math.min(defaultTuning.workgroupSize, 2 ** Math.ceil(Math.log2(fold.params.groupSize))));
    }
    // Groups of a few partials take workgroups of a few threads.
    expect(planPartialsFold(few, 512, defaultTuning, 65535)!.workgroupSize).toBe(4);
    expect(planPartialsFold(few, 129, defaultTuning, 65535)!.workgroupSize).toBe(2);
    // A serial finalize (software adapters, up to their serialFinalizeMaxChunks) needs no first level.
    expect(planPartialsFold(few, 200, software, 65535)).toBeUndefined();
    // Grids beyond one dimension's limit are folded into two.
    const [x, y] = planPartialsFold(channelView([8, 70001], 'NC'), 200, defaultTuning, 65535)!.grid;
    expect(x).toBeLessThanOrEqual(65535);
    expect(x * y).toBeGreaterThanOrEqual(70001 * 100);
  });

  it('refuses a threshold that is not a positive integer', () => {
    expect(() => resolveTuning({ serialFinalizeMaxChunks: 0 }, 256)).toThrow(/serialFinalizeMaxChunks/);
    expect(() => resolveTuning({ serialFinalizeMaxChunks: 2.5 }, 256)).toThrow(/serialFinalizeMaxChunks/);
  });
});
