import type { GpuContext } from './context';
import { ScratchBuffers } from './scratch';

/**
 * The per-channel coefficients [k | c | m | mean] that backward-finalize writes and backward-apply
 * reads. They live beside the partial sums (the engine's shared scratch) in a scratch of their own,
 * so the two can never be the same buffer; one per engine context, created on first use.
 */
const coefficientBuffers = new WeakMap<GpuContext, ScratchBuffers>();

export function coefficientScratch(context: GpuContext): ScratchBuffers {
  let scratch = coefficientBuffers.get(context);
  if (!scratch) {
    scratch = new ScratchBuffers(context.device, 'backwardCoefficients');
    coefficientBuffers.set(context, scratch);
  }
  return scratch;
}

export function backwardScratchCount(context: GpuContext): number {
  return coefficientBuffers.get(context)?.count ?? 0;
}

export function destroyBackwardScratch(context: GpuContext): void {
  coefficientBuffers.get(context)?.destroy();
  coefficientBuffers.delete(context);
}
