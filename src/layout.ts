import { BatchNormError } from './errors';
import type { Layout } from './types';

/**
 * Every input is seen as a 3-D view [outer, C, inner] chosen by the channel axis, so one set of
 * kernels serves every layout without transposes.
 */
export interface ChannelView {
  outer: number;
  channels: number;
  inner: number;
  /** Values per channel: outer · inner. */
  count: number;
  /** Total number of elements: outer · C · inner. */
  size: number;
}

const layoutRank: Record<Layout, number> = {
  NC: 2,
  NCL: 3,
  NLC: 3,
  NCHW: 4,
  NHWC: 4,
  NCDHW: 5,
  NDHWC: 5,
};

export const layouts = Object.keys(layoutRank) as Layout[];

/** Channel axis of a layout: the position of 'C' in its name. */
export function channelAxis(layout: Layout): number {
  return layout.indexOf('C');
}

export function isLayout(value: unknown): value is Layout {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(layoutRank, value);
}

/**
 * Validates a shape against a layout (or against the default channel axis 1) and returns its view.
 * A 1-D shape [N] (no layout) is N values of one channel, as ONNX defines it, seen as one run
 * [1, 1, N] (the same memory as [N, 1], read by the kernels for runs, which load four values at a
 * time, where one channel of rows would be read a value at a time).
 */
export function channelView(shape: readonly number[], layout?: Layout): ChannelView {
  if (!Array.isArray(shape) || shape.length < 1) {
    throw new BatchNormError('invalid-shape', `shape must be an array of at least 1 dimension, got ${JSON.stringify(shape)}`);
  }
  shape.forEach((dim, axis) => {
    if (!Number.isSafeInteger(dim) || dim < 1) {
      throw new BatchNormError('invalid-shape', `shape[${axis}] must be a positive integer, got ${dim} in [${shape.join(', ')}]`);
    }
  });
  let axis = 1;
  if (layout !== undefined) {
    if (!isLayout(layout)) {
      throw new BatchNormError('invalid-layout', `unknown layout ${JSON.stringify(layout)}; expected one of ${layouts.join(', ')}`);
    }
    if (layoutRank[layout] !== shape.length) {
      throw new BatchNormError(
        'invalid-layout',
        `layout ${layout} needs a ${layoutRank[layout]}-D shape, got ${shape.length}-D [${shape.join(', ')}]`,
      );
    }
    axis = channelAxis(layout);
  } else if (shape.length === 1) {
    return { outer: 1, channels: 1, inner: shape[0], count: shape[0], size: shape[0] };
  }
  const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const channels = shape[axis];
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const size = outer * channels * inner;
  if (!Number.isSafeInteger(size)) {
    throw new BatchNormError('invalid-shape', `shape [${shape.join(', ')}] has too many elements`);
  }
  return { outer, channels, inner, count: outer * inner, size };
}
