/**
 * Batch norm folded into one affine map per channel, y = x · scale + shift, computed in float64 so
 * the only float32 rounding of the CPU path is the final store of each output.
 */
export interface ChannelAffine {
  scale: Float64Array;
  shift: Float64Array;
}

/** 1 / sqrt(variance + eps) per channel. */
export function inverseStd(variance: ArrayLike<number>, eps: number): Float64Array {
  const out = new Float64Array(variance.length);
  for (let c = 0; c < out.length; c++) out[c] = 1 / Math.sqrt(variance[c] + eps);
  return out;
}

/**
 * scale = γ · invStd and shift = β − center · scale, where `center` is the batch mean in training
 * and the running mean in inference. γ defaults to ones and β to zeros.
 */
export function foldScaleShift(
  center: ArrayLike<number>,
  invStd: Float64Array,
  gamma: Float32Array | undefined,
  beta: Float32Array | undefined,
): ChannelAffine {
  const channels = invStd.length;
  const scale = new Float64Array(channels);
  const shift = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    scale[c] = (gamma ? gamma[c] : 1) * invStd[c];
    shift[c] = (beta ? beta[c] : 0) - center[c] * scale[c];
  }
  return { scale, shift };
}
