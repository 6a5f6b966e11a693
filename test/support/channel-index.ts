/*
 * Shape arithmetic for the tests, written apart from the library's layout module so the reference
 * does not inherit its mistakes. Browser-safe: no Node imports.
 */

export interface ShapeSplit {
  outer: number;
  channels: number;
  inner: number;
}

/**
 * Splits a shape at its channel axis: the position of 'C' in the layout name, else axis 1. A 1-D
 * shape [N] without layout is N values of a single channel (ONNX's rule).
 */
export function splitShape(shape: readonly number[], layout?: string): ShapeSplit {
  if (shape.length === 1 && layout === undefined) return { outer: shape[0], channels: 1, inner: 1 };
  const axis = layout === undefined ? 1 : layout.indexOf('C');
  if (axis < 0 || axis >= shape.length) throw new Error(`no channel axis in layout ${layout}`);
  let outer = 1;
  let inner = 1;
  for (let d = 0; d < axis; d++) outer *= shape[d];
  for (let d = axis + 1; d < shape.length; d++) inner *= shape[d];
  return { outer, channels: shape[axis], inner };
}

/** Channel of flat element i in a [outer, C, inner] view. */
export function channelOf(i: number, channels: number, inner: number): number {
  return Math.floor(i / inner) % channels;
}
