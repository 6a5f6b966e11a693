import { BatchNormError } from '../errors';
import type { NormActivation } from '../norms/norm-types';

/**
 * Kernel names of the layer-norm op registered with TF.js, on the 'webgpu' and 'cpu' backends. The
 * forward comes in two names because TF.js saves a kernel's inputs for its gradient by a fixed list
 * of names: the residual form saves z (gelu, gelu-tanh and silu take their derivative at
 * norm(x) + z), the plain form has no z to save.
 */
export const LAYER_NORM_KERNEL = 'WebGpuLayerNorm';
export const LAYER_NORM_RESIDUAL_KERNEL = 'WebGpuLayerNormResidual';
export const LAYER_NORM_GRAD_KERNEL = 'WebGpuLayerNormGrad';

/** Attributes of the three kernels. */
export interface LayerNormAttrs {
  /** How many trailing axes of x are normalized (a row is their D values, contiguous). */
  normalized: number;
  epsilon: number;
  activation: NormActivation;
  /** Whether z is an input of the forward (and dz an output of the backward). */
  residual: boolean;
}

/**
 * Keras's `axis` (one axis or a list) as sorted, non-negative, distinct axes of a tensor of `rank`,
 * as tf.layers.layerNormalization's build() resolves it.
 */
export function resolveLayerNormAxes(axis: number | readonly number[], rank: number): number[] {
  const list = typeof axis === 'number' ? [axis] : axis;
  if (!Array.isArray(list) || list.length === 0) {
    throw new BatchNormError('invalid-option', `axis must be an integer or a non-empty array of integers, got ${JSON.stringify(axis)}`);
  }
  const resolved = list.map((a) => {
    if (!Number.isInteger(a) || a < -rank || a >= rank) {
      throw new BatchNormError('invalid-option', `axis ${String(a)} is out of range for a tensor of rank ${rank}`);
    }
    return a < 0 ? a + rank : a;
  });
  if (new Set(resolved).size !== resolved.length) throw new BatchNormError('invalid-option', `axis [${list.join(', ')}] names an axis twice`);
  return resolved.sort((a, b) => a - b);
}

/** How many trailing axes `axes` (sorted) are, or 0 when they are not x's trailing ones: rows are then not contiguous. */
export function trailingCount(axes: readonly number[], rank: number): number {
  return axes.every((a, k) => a === rank - axes.length + k) ? axes.length : 0;
}

/** The layer-norm view of the library: x's trailing `normalized` dims are a row. */
export function layerNormRows(shape: readonly number[], normalized: number): { rows: number; D: number } {
  const D = shape.slice(shape.length - normalized).reduce((a, b) => a * b, 1);
  const rows = shape.slice(0, shape.length - normalized).reduce((a, b) => a * b, 1);
  return { rows, D };
}

/** The normalized dims of x as the library's `normalizedShape`. */
export function normalizedShapeOf(shape: readonly number[], normalized: number): number[] {
  return shape.slice(shape.length - normalized);
}
