import type { ChannelView } from '../layout';

/*
 * Per-channel reductions over the [outer, C, inner] view. Both read `x` in memory order and
 * accumulate in float64: rows of C interleaved channels when inner == 1 (NC, NLC, NHWC), contiguous
 * runs of one channel otherwise (NCL, NCHW, NCDHW), each run summed on its own before it is added
 * to the channel's total.
 */

/** Batch mean of every channel, in float64. */
export function channelMeans(x: Float32Array, view: ChannelView): Float64Array {
  const { outer, channels, inner } = view;
  const sums = new Float64Array(channels);
  if (inner === 1) {
    for (let row = 0, i = 0; row < outer; row++) {
      for (let c = 0; c < channels; c++, i++) sums[c] += x[i];
    }
  } else {
    for (let block = 0, i = 0; block < outer; block++) {
      for (let c = 0; c < channels; c++) {
        let run = 0;
        for (const end = i + inner; i < end; i++) run += x[i];
        sums[c] += run;
      }
    }
  }
  for (let c = 0; c < channels; c++) sums[c] /= view.count;
  return sums;
}

/**
 * Biased variance Σ(x − mean)² / M of every channel. A second pass around the float64 mean is what
 * keeps the result exact for data with a large mean, where E[x²] − E[x]² cancels every digit.
 */
export function channelVariances(x: Float32Array, view: ChannelView, mean: Float64Array): Float64Array {
  const { outer, channels, inner } = view;
  const sums = new Float64Array(channels);
  if (inner === 1) {
    for (let row = 0, i = 0; row < outer; row++) {
      for (let c = 0; c < channels; c++, i++) {
        const d = x[i] - mean[c];
        sums[c] += d * d;
      }
    }
  } else {
    for (let block = 0, i = 0; block < outer; block++) {
      for (let c = 0; c < channels; c++) {
        const m = mean[c];
        let run = 0;
        for (const end = i + inner; i < end; i++) {
          const d = x[i] - m;
          run += d * d;
        }
        sums[c] += run;
      }
    }
  }
  for (let c = 0; c < channels; c++) sums[c] /= view.count;
  return sums;
}

const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * Mean and biased variance with the GPU's rule for non-finite data (see finalize.wgsl): a channel
 * holding a NaN or ±Inf — its float64 mean is then non-finite — or whose Σ(x − mean)² exceeds
 * float32's range (where the GPU's float32 sums overflow) gets NaN for both, as PyTorch reports on
 * CUDA. (PyTorch's CPU kernel reports a mean of ±Inf when every infinity has the same sign; its
 * variance and outputs are NaN all the same.)
 */
export function channelMoments(x: Float32Array, view: ChannelView): { mean: Float64Array; variance: Float64Array } {
  const mean = channelMeans(x, view);
  const variance = channelVariances(x, view, mean);
  for (let c = 0; c < view.channels; c++) {
    if (!Number.isFinite(mean[c]) || variance[c] * view.count > FLOAT32_MAX) {
      mean[c] = NaN;
      variance[c] = NaN;
    }
  }
  return { mean, variance };
}
