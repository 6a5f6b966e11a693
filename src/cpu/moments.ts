import type { ChannelStatistics } from '../channel-statistics';
import type { ChannelView } from '../layout';
import type { ResolvedOptions } from '../options';
import { CHANNEL_GROUP, rowsPerBlock } from './row-blocks';

/*
 * Per-channel mean and biased variance over the [outer, C, inner] view in one read of `x`, in memory
 * order: rows of C interleaved channels when inner == 1 (NC, NLC, NHWC), contiguous runs of one
 * channel otherwise (NCL, NCHW, NCDHW), each run summed on its own before it is added to the
 * channel's total.
 *
 * The sums are of d = x − pivot, with the channel's first value as its pivot (a sample of the
 * channel, as on the GPU), in float64: E[d²] − E[d]² then loses about k² · 2⁻⁵³ of relative
 * precision for a pivot k standard deviations from the mean — nothing for real data, and still
 * 1e-10 for a first value 1000σ out — where raw E[x²] − E[x]² would lose every digit of data like
 * 1e4 ± 1. One pass instead of two (mean, then Σ(x − mean)²) saves a third of the forward's reads.
 */
function shiftedSums(x: Float32Array, view: ChannelView): { pivot: Float64Array; sum: Float64Array; sumSquares: Float64Array } {
  const { outer, channels, inner } = view;
  const pivot = new Float64Array(channels);
  const sum = new Float64Array(channels);
  const sumSquares = new Float64Array(channels);
  for (let c = 0; c < channels; c++) pivot[c] = x[c * inner];
  const blockRows = inner === 1 ? rowsPerBlock(channels) : 0;
  if (blockRows > 0) {
    blockedRowSums(x, outer, channels, blockRows, pivot, sum, sumSquares);
  } else if (inner === 1) {
    for (let row = 0, i = 0; row < outer; row++) {
      for (let c = 0; c < channels; c++, i++) {
        const d = x[i] - pivot[c];
        sum[c] += d;
        sumSquares[c] += d * d;
      }
    }
  } else {
    for (let block = 0, i = 0; block < outer; block++) {
      for (let c = 0; c < channels; c++) {
        const p = pivot[c];
        let runSum = 0;
        let runSquares = 0;
        for (const end = i + inner; i < end; i++) {
          const d = x[i] - p;
          runSum += d;
          runSquares += d * d;
        }
        sum[c] += runSum;
        sumSquares[c] += runSquares;
      }
    }
  }
  return { pivot, sum, sumSquares };
}

/** Shifted sums of rows of interleaved channels, block by block and CHANNEL_GROUP channels at a time (row-blocks.ts). */
function blockedRowSums(
  x: Float32Array,
  outer: number,
  channels: number,
  blockRows: number,
  pivot: Float64Array,
  sum: Float64Array,
  sumSquares: Float64Array,
): void {
  const grouped = channels - (channels % CHANNEL_GROUP);
  for (let first = 0; first < outer; first += blockRows) {
    const end = Math.min(first + blockRows, outer) * channels;
    for (let c = 0; c < grouped; c += CHANNEL_GROUP) {
      const p0 = pivot[c], p1 = pivot[c + 1], p2 = pivot[c + 2], p3 = pivot[c + 3];
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0, q0 = 0, q1 = 0, q2 = 0, q3 = 0;
      for (let i = first * channels + c; i < end; i += channels) {
        const d0 = x[i] - p0, d1 = x[i + 1] - p1, d2 = x[i + 2] - p2, d3 = x[i + 3] - p3;
        s0 += d0; s1 += d1; s2 += d2; s3 += d3;
        q0 += d0 * d0; q1 += d1 * d1; q2 += d2 * d2; q3 += d3 * d3;
      }
      sum[c] += s0; sum[c + 1] += s1; sum[c + 2] += s2; sum[c + 3] += s3;
      sumSquares[c] += q0; sumSquares[c + 1] += q1; sumSquares[c + 2] += q2; sumSquares[c + 3] += q3;
    }
    for (let c = grouped; c < channels; c++) {
      const p = pivot[c];
      let s = 0, q = 0;
      for (let i = first * channels + c; i < end; i += channels) {
        const d = x[i] - p;
        s += d;
        q += d * d;
      }
      sum[c] += s;
      sumSquares[c] += q;
    }
  }
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
  const { pivot, sum, sumSquares } = shiftedSums(x, view);
  const M = view.count;
  const mean = new Float64Array(view.channels);
  const variance = new Float64Array(view.channels);
  for (let c = 0; c < view.channels; c++) {
    const shiftedMean = sum[c] / M;
    mean[c] = pivot[c] + shiftedMean;
    variance[c] = Math.max(0, sumSquares[c] / M - shiftedMean * shiftedMean);
    // A NaN or ±Inf anywhere in the channel makes its sums, and so its mean, non-finite.
    if (!Number.isFinite(mean[c]) || !Number.isFinite(variance[c]) || variance[c] * M > FLOAT32_MAX) {
      mean[c] = NaN;
      variance[c] = NaN;
    }
  }
  return { mean, variance };
}

/** Per-channel (count, mean, M2) on the CPU path (`channelStatistics`), float64 accumulation. */
export function cpuChannelStatistics(x: Float32Array, o: ResolvedOptions): ChannelStatistics {
  const { mean, variance } = channelMoments(x, o.view);
  const count = o.view.count;
  return { count, mean, m2: variance.map((v) => v * count) };
}
