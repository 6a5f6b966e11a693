import { BatchNormError } from '../errors';
import type { Activation } from '../types';

/** Kernel names registered with TF.js (one forward, one backward), on the 'webgpu' and 'cpu' backends. */
export const TRAIN_KERNEL = 'WebGpuBatchNormTrain';
export const TRAIN_GRAD_KERNEL = 'WebGpuBatchNormTrainGrad';

/** Attributes of both kernels. Keras convention: momentum weighs the old running value. */
export interface TrainAttrs {
  /** Channel axis, already made non-negative. */
  axis: number;
  epsilon: number;
  momentum: number;
  activation: Activation;
  /** Whether movingMean and movingVariance are inputs (and their updates outputs 2 and 3). */
  updateMoving: boolean;
}

/**
 * The library's 3-D view of a tensor whose channel axis is `axis`: [outer, C] when nothing follows
 * the channel axis (vec4 over channels), else [outer, C, inner] with the channel on axis 1.
 */
export function viewShape(shape: readonly number[], axis: number): number[] {
  const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  return inner === 1 ? [outer, shape[axis]] : [outer, shape[axis], inner];
}

export function normalizeAxis(axis: number, rank: number): number {
  const resolved = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(axis) || resolved < 0 || resolved >= rank) {
    throw new BatchNormError('invalid-option', `axis ${axis} is out of range for a tensor of rank ${rank}`);
  }
  return resolved;
}

/** Offsets, in elements, of the blocks of the stats output ([mean | variance | invStd | scale | shift]). */
export const statsBlock = { mean: 0, variance: 1, invStd: 2, scale: 3, shift: 4 } as const;
