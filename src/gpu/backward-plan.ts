import type { ChannelView } from '../layout';
import { planChannelReduction, planMerge, type KernelLaunch } from './statistics-plan';
import type { KernelTuning } from './tuning';

/**
 * Launch plans of the backward's reductions. They split the work exactly like their forward
 * counterparts (statistics → backward-reduce, finalize → backward-finalize: statistics-plan.ts, whose
 * planReduction and reductionLaunches serve both; backward-apply walks like apply, elementwise-plan.ts),
 * so these only name the entry points and add the backward's own Params.
 */
export interface BackwardReducePlan {
  kernel: 'backwardReduceRows' | 'backwardReduceRuns';
  launch: KernelLaunch;
  /** K: partial sums per channel, added up by backward-finalize. */
  chunks: number;
}

export function planBackwardReduce(view: ChannelView, tuning: KernelTuning, maxPerDimension: number): BackwardReducePlan {
  const { shape, walk, width, params, grid, chunks } = planChannelReduction(view, tuning, maxPerDimension);
  return { kernel: `backwardReduce${shape}`, chunks, launch: { entryPoint: `backwardReduce${shape}${walk}${width}`, params, grid } };
}

export function planBackwardFinalize(view: ChannelView, chunks: number, tuning: KernelTuning, maxPerDimension: number): KernelLaunch {
  const { strategy, grid } = planMerge(view, chunks, tuning, maxPerDimension);
  return {
    entryPoint: `backwardFinalize${strategy}`,
    params: { chunks, ...gradientParams(view) },
    grid,
  };
}

/**
 * The uniform values of the last step of a channel's gradients (backward-channel.wgsl), which
 * backward-finalize and the fused small-tensor backward share. 1 / M is rounded to float32 once;
 * M itself may exceed 2^24, where float32 stops being exact. nan: what a non-finite sum is written
 * as (WGSL cannot spell NaN itself).
 */
export function gradientParams(view: ChannelView): Record<string, number> {
  return { channels: view.channels, invCount: 1 / view.count, nan: NaN };
}

