/**
 * The library's host-array backward, `bn.backward(dy, x, options, saved)` with saved = { mean,
 * invStd } from forwardTrain, looked up at run time: on a library without it the `cpu` backward
 * rows are reported as missing and the backward errors are measured against
 * bench/page/reference-backward.ts instead.
 */
import type { BatchNorm } from '../../src/index';

export interface HostBackwardResult {
  dx: Float32Array;
  dgamma: Float32Array;
  dbeta: Float32Array;
}

export interface Saved {
  mean: Float32Array;
  invStd: Float32Array;
}

type Backward = (dy: Float32Array, x: Float32Array, options: object, saved: Saved) => Promise<HostBackwardResult>;

export function cpuBackward(engine: BatchNorm): Backward | undefined {
  const method = (engine as unknown as { backward?: Backward }).backward;
  if (typeof method !== 'function') return undefined;
  return async (dy, x, options, saved) => {
    const out = await method.call(engine, dy, x, options, saved);
    if (!(out?.dx instanceof Float32Array) || !(out.dgamma instanceof Float32Array) || !(out.dbeta instanceof Float32Array)) {
      throw new Error('bn.backward(dy, x, options, saved) did not resolve to { dx, dgamma, dbeta } Float32Arrays');
    }
    return out;
  };
}
