import type { ChannelView } from '../layout';
import { planChannelReduction, type ReductionPlan } from './plan';
import { elementwiseShape, planElementwiseRange, type ElementwiseShape } from './plan-elementwise';
import { elementwiseSlabs, reductionBinding, reductionSlabs, type SlabBinding } from './slabs';
import type { KernelTuning } from './tuning';

/**
 * Launch plans over the slabs of a tensor (slabs.ts): one launch per slab, each binding its part of
 * the tensor. A tensor that fits in one binding is one slab, so these are the plans the encoders
 * always use; plan.ts plans a single slab.
 */
export interface SlabLaunchPlan {
  params: Record<string, number>;
  grid: [number, number];
  /** The part of each tensor-sized buffer (x, y, dy, dx) this launch binds. */
  binding: SlabBinding;
}

export interface SlabbedReduction {
  shape: ReductionPlan['shape'];
  /** Partial rows of all slabs together: what finalize merges (K). */
  chunks: number;
  /**
   * True when some slabs hold only some channels: the rows they write leave the other channels'
   * partials unwritten, which must then read as empty (count 0, sums 0), so the buffer is cleared.
   */
  zeroFill: boolean;
  slabs: (SlabLaunchPlan & { walk: ReductionPlan['walk']; width: ReductionPlan['width'] })[];
}

export function planSlabbedReduction(view: ChannelView, tuning: KernelTuning, maxPerDimension: number, bindingBytes: number, alignment: number): SlabbedReduction {
  const shape: ReductionPlan['shape'] = view.inner === 1 ? 'Rows' : 'Runs';
  const slabs = reductionSlabs(view, bindingBytes, alignment);
  let chunks = 0;
  const planned = slabs.map((slab) => {
    const plan = planChannelReduction(slab.view, tuning, maxPerDimension, slab.firstElement % 4 === 0, shape);
    const binding = reductionBinding(slab, plan.width === 'Vec4' ? 16 : 4, alignment);
    const params: Record<string, number> = { ...plan.params, skip: binding.skip, chunkBase: chunks };
    if (shape === 'Runs') Object.assign(params, { channelBase: slab.channelBase, totalChannels: view.channels });
    chunks += plan.chunks;
    return { walk: plan.walk, width: plan.width, params, grid: plan.grid, binding };
  });
  return { shape, chunks, zeroFill: slabs.some((slab) => slab.view.channels < view.channels), slabs: planned };
}

export interface SlabbedElementwise extends ElementwiseShape {
  slabs: (SlabLaunchPlan & { runs: boolean })[];
}

export function planSlabbedElementwise(view: ChannelView, tuning: KernelTuning, maxPerDimension: number, bindingBytes: number): SlabbedElementwise {
  const shape = elementwiseShape(view);
  const slabs = elementwiseSlabs(shape.units, shape.unitBytes, bindingBytes).map(({ firstUnit, units }) => {
    const { params, runs, grid } = planElementwiseRange(shape, firstUnit, units, tuning, maxPerDimension);
    return { params, runs, grid, binding: { offset: firstUnit * shape.unitBytes, size: units * shape.unitBytes, skip: 0 } };
  });
  return { ...shape, slabs };
}
