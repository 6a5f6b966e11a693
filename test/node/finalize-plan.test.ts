import { describe, expect, it } from 'vitest';
import { planFinalize } from '../../src/gpu/plan';
import { planBackwardFinalize } from '../../src/gpu/plan-backward';
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

  it('refuses a threshold that is not a positive integer', () => {
    expect(() => resolveTuning({ serialFinalizeMaxChunks: 0 }, 256)).toThrow(/serialFinalizeMaxChunks/);
    expect(() => resolveTuning({ serialFinalizeMaxChunks: 2.5 }, 256)).toThrow(/serialFinalizeMaxChunks/);
  });
});
