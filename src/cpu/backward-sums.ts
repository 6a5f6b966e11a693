import type { ChannelView } from '../layout';

/*
 * The two loops of the backward pass over the [outer, C, inner] view, in memory order and float64
 * like channel-stats.ts: rows of C interleaved channels when inner == 1 (NC, NLC, NHWC), contiguous
 * runs of one channel otherwise (NCL, NCHW, NCDHW), each run summed on its own first.
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
  if (inner === 1) {
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
  if (inner === 1) {
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
