import { describe, expect, it } from 'vitest';
import { channelView } from '../../src/layout';
import { planApply, planFinalize, planStats } from '../../src/gpu/plan';
import { planBackwardApply, planBackwardFinalize, planBackwardReduce, planSavedStats } from '../../src/gpu/plan-backward';
import { defaultTuning } from '../../src/gpu/tuning';

// The backward kernels split the work exactly like their forward counterparts; only the entry
// points and the backward's own Params differ.
const views = [
  [[37, 5], 'NC'],
  [[1000, 12], 'NC'],
  [[4, 8, 12], 'NCL'],
  [[5, 3, 131], 'NCL'],
  [[4, 8, 8, 16], 'NHWC'],
  [[2, 70001, 3, 1], 'NCHW'],
  [[16, 32, 16, 16], 'NCHW'],
  [[1, 513, 512, 1], 'NHWC'],
] as const;

describe('backward launch plans', () => {
  for (const [shape, layout] of views) {
    const view = channelView([...shape], layout);
    for (const tuning of [defaultTuning, { ...defaultTuning, workgroupSize: 4, applyUnitsPerThread: 1 }]) {
      it(`${layout} [${shape}] workgroup ${tuning.workgroupSize}`, () => {
        const stats = planStats(view, tuning, 65535);
        const reduce = planBackwardReduce(view, tuning, 65535);
        expect(reduce.chunks).toBe(stats.chunks);
        expect(reduce.launch.params).toEqual(stats.launch.params);
        expect(reduce.launch.grid).toEqual(stats.launch.grid);
        expect(reduce.launch.entryPoint).toBe(stats.launch.entryPoint.replace(/^stats/, 'backwardReduce'));
        expect(reduce.kernel).toBe(stats.kernel.replace(/^stats/, 'backwardReduce'));

        const finalize = planBackwardFinalize(view, reduce.chunks, tuning, 65535);
        const forwardFinalize = planFinalize(view, stats.chunks, tuning, 65535);
        expect(finalize.grid).toEqual(forwardFinalize.grid);
        expect(finalize.entryPoint).toBe(forwardFinalize.entryPoint.replace(/^finalize/, 'backwardFinalize'));
        expect(finalize.params).toEqual({ channels: view.channels, chunks: reduce.chunks, invCount: 1 / view.count, nan: NaN });

        const apply = planApply(view, tuning, 65535);
        const backwardApply = planBackwardApply(view, tuning, 65535);
        const { scaleOffset, shiftOffset, ...shared } = apply.params;
        expect(backwardApply.entryPoint).toBe(apply.entryPoint.replace(/^apply/, 'backwardApply'));
        expect(backwardApply.grid).toEqual(apply.grid);
        expect(backwardApply.params).toEqual({ ...shared, block: scaleOffset / 3 });
        expect(shiftOffset).toBe(4 * backwardApply.params.block);

        expect(planSavedStats(view, tuning, 65535).params).toEqual({ channels: view.channels });
      });
    }
  }

  it('folds grids above 65 535 workgroups', () => {
    const view = channelView([2, 70001, 3, 1], 'NCHW');
    expect(planBackwardReduce(view, defaultTuning, 65535).launch.grid[1]).toBeGreaterThan(1);
    const small = { ...defaultTuning, workgroupSize: 4, applyUnitsPerThread: 1 };
    expect(planBackwardApply(channelView([1, 513, 512, 1], 'NHWC'), small, 65535).grid[1]).toBeGreaterThan(1);
  });
});
