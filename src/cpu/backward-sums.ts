import type { ChannelView } from '../layout';
import { CHANNEL_GROUP, rowsPerBlock } from './row-blocks';

/*
 * The two loops of the backward pass over the [outer, C, inner] view, in float64 and walked like
 * moments.ts: rows of C interleaved channels when inner == 1 (NC, NLC, NHWC; in blocks of
 * rows, four channels at a time, see row-blocks.ts), contiguous runs of one channel otherwise (NCL,
 * NCHW, NCDHW), each run summed on its own first.
 */

export interface BackwardSums {
  /** Σ dy per channel. */
  sumDy: Float64Array;
  /** Σ dy · (x − mean) per channel; (x − mean) is kept explicit, so large means do not cancel. */
  sumDyXmu: Float64Array;
}

export function backwardSums(dy: Float32Array, x: Float32Array, view: ChannelView, mean: ArrayLike<number>): BackwardSums {
  const { outer, channels, inner } = view;
  const sumDy = new Float64Array(channels);
  const sumDyXmu = new Float64Array(channels);
  const blockRows = inner === 1 ? rowsPerBlock(channels) : 0;
  if (blockRows > 0) {
    blockedRowSums(dy, x, outer, channels, blockRows, mean, sumDy, sumDyXmu);
  } else if (inner === 1) {
    for (let row = 0, i = 0; row < outer; row++) {
      for (let c = 0; c < channels; c++, i++) {
        sumDy[c] += dy[i];
        sumDyXmu[c] += dy[i] * (x[i] - mean[c]);
      }
    }
  } else {
    for (let block = 0, i = 0; block < outer; block++) {
      for (let c = 0; c < channels; c++) {
        const m = mean[c];
        let runDy = 0;
        let runDyXmu = 0;
        for (const end = i + inner; i < end; i++) {
          runDy += dy[i];
          runDyXmu += dy[i] * (x[i] - m);
        }
        sumDy[c] += runDy;
        sumDyXmu[c] += runDyXmu;
      }
    }
  }
  return { sumDy, sumDyXmu };
}

/** backwardSums over rows of interleaved channels, block by block and CHANNEL_GROUP channels at a time (row-blocks.ts). */
function blockedRowSums(
  dy: Float32Array,
  x: Float32Array,
  outer: number,
  channels: number,
  blockRows: number,
  mean: ArrayLike<number>,
  sumDy: Float64Array,
  sumDyXmu: Float64Array,
): void {
  const grouped = channels - (channels % CHANNEL_GROUP);
  for (let first = 0; first < outer; first += blockRows) {
    const end = Math.min(first + blockRows, outer) * channels;
    for (let c = 0; c < grouped; c += CHANNEL_GROUP) {
      const m0 = mean[c], m1 = mean[c + 1], m2 = mean[c + 2], m3 = mean[c + 3];
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0, p0 = 0, p1 = 0, p2 = 0, p3 = 0;
      for (let i = first * channels + c; i < end; i += channels) {
        const g0 = dy[i], g1 = dy[i + 1], g2 = dy[i + 2], g3 = dy[i + 3];
        s0 += g0; s1 += g1; s2 += g2; s3 += g3;
        p0 += g0 * (x[i] - m0); p1 += g1 * (x[i + 1] - m1); p2 += g2 * (x[i + 2] - m2); p3 += g3 * (x[i + 3] - m3);
      }
      sumDy[c] += s0; sumDy[c + 1] += s1; sumDy[c + 2] += s2; sumDy[c + 3] += s3;
      sumDyXmu[c] += p0; sumDyXmu[c + 1] += p1; sumDyXmu[c + 2] += p2; sumDyXmu[c + 3] += p3;
    }
    for (let c = grouped; c < channels; c++) {
      const m = mean[c];
      let s = 0, p = 0;
      for (let i = first * channels + c; i < end; i += channels) {
        s += dy[i];
        p += dy[i] * (x[i] - m);
      }
      sumDy[c] += s;
      sumDyXmu[c] += p;
    }
  }
}

/** dx = k·dy + c + m·(x − mean) per channel, as backward-apply.wgsl computes it. */
export interface BackwardCoefficients {
  k: Float64Array;
  c: Float64Array;
  m: Float64Array;
  mean: ArrayLike<number>;
}

/**
 * dx in float64, rounded to float32 once on store. In eval mode (`train` false) dx = k·dy alone, as
 * backward-apply.wgsl computes it: x is not read, so a NaN or ±Inf in x stays out of dx.
 */
export function applyBackward(dy: Float32Array, x: Float32Array, view: ChannelView, co: BackwardCoefficients, train: boolean): Float32Array {
  const { outer, channels, inner } = view;
  const { k, c, m, mean } = co;
  const dx = new Float32Array(view.size);
  if (!train) {
    for (let i = 0; i < dx.length; i++) dx[i] = k[Math.floor(i / inner) % channels] * dy[i];
    return dx;
  }
  const blockRows = inner === 1 ? rowsPerBlock(channels) : 0;
  if (blockRows > 0) {
    // Block by block, CHANNEL_GROUP channels at a time (row-blocks.ts): the coefficients stay in
    // local variables.
    const grouped = channels - (channels % CHANNEL_GROUP);
    for (let first = 0; first < outer; first += blockRows) {
      const end = Math.min(first + blockRows, outer) * channels;
      for (let ch = 0; ch < grouped; ch += CHANNEL_GROUP) {
        const k0 = k[ch], k1 = k[ch + 1], k2 = k[ch + 2], k3 = k[ch + 3];
        const c0 = c[ch], c1 = c[ch + 1], c2 = c[ch + 2], c3 = c[ch + 3];
        const m0 = m[ch], m1 = m[ch + 1], m2 = m[ch + 2], m3 = m[ch + 3];
        const u0 = mean[ch], u1 = mean[ch + 1], u2 = mean[ch + 2], u3 = mean[ch + 3];
        for (let i = first * channels + ch; i < end; i += channels) {
          dx[i] = k0 * dy[i] + c0 + m0 * (x[i] - u0);
          dx[i + 1] = k1 * dy[i + 1] + c1 + m1 * (x[i + 1] - u1);
          dx[i + 2] = k2 * dy[i + 2] + c2 + m2 * (x[i + 2] - u2);
          dx[i + 3] = k3 * dy[i + 3] + c3 + m3 * (x[i + 3] - u3);
        }
      }
      for (let ch = grouped; ch < channels; ch++) {
        const kc = k[ch];
        const cc = c[ch];
        const mc = m[ch];
        const center = mean[ch];
        for (let i = first * channels + ch; i < end; i += channels) dx[i] = kc * dy[i] + cc + mc * (x[i] - center);
      }
    }
  } else if (inner === 1) {
    for (let row = 0, i = 0; row < outer; row++) {
      for (let ch = 0; ch < channels; ch++, i++) dx[i] = k[ch] * dy[i] + c[ch] + m[ch] * (x[i] - mean[ch]);
    }
  } else {
    for (let block = 0, i = 0; block < outer; block++) {
      for (let ch = 0; ch < channels; ch++) {
        const kc = k[ch];
        const cc = c[ch];
        const mc = m[ch];
        const center = mean[ch];
        for (const end = i + inner; i < end; i++) dx[i] = kc * dy[i] + cc + mc * (x[i] - center);
      }
    }
  }
  return dx;
}
