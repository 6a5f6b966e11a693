import { describe, expect, it } from 'vitest';
import { channelView } from '../../src/layout';
import { planBackwardFinalize, planBackwardReduce } from '../../src/gpu/backward-plan';
import { planSlabbedElementwise } from '../../src/gpu/elementwise-plan';
import { planFinalize, planStats } from '../../src/gpu/statistics-plan';
import { defaultTuning } from '../../src/gpu/tuning';

// The backward reductions split the work exactly like their forward counterparts; only the entry
// points and the backward's own Params differ. (apply and backward-apply share one plan.)
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
      });
    }
  }

  it('folds grids above 65 535 workgroups', () => {
    const view = channelView([2, 70001, 3, 1], 'NCHW');
    expect(planBackwardReduce(view, defaultTuning, 65535).launch.grid[1]).toBeGreaterThan(1);
    const small = { ...defaultTuning, workgroupSize: 4, applyUnitsPerThread: 1 };
    expect(planSlabbedElementwise(channelView([1, 513, 512, 1], 'NHWC'), small, 65535, 2 ** 30).slabs[0].grid[1]).toBeGreaterThan(1);
  });
});
