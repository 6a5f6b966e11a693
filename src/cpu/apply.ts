import type { ChannelView } from '../layout';
import type { Activation } from '../types';
import { CHANNEL_GROUP, rowsPerBlock } from './row-blocks';
import type { ChannelAffine } from './scale-shift';

/**
 * y = x · scale[c] + shift[c] (+ residual z) in memory order over the [outer, C, inner] view,
 * evaluated in float64 and rounded once on store, followed by ReLU when asked.
 */
export function applyChannelAffine(
  x: Float32Array,
  view: ChannelView,
  affine: ChannelAffine,
  activation: Activation,
  residual?: Float32Array,
): Float32Array {
  const y = residual ? applyWithResidual(x, view, affine, residual) : applyAffine(x, view, affine);
  if (activation === 'relu') reluInPlace(y);
  return y;
}

/** x · scale[c] + shift[c] + z, the sum in float64 and rounded once (the GPU rounds twice). */
function applyWithResidual(x: Float32Array, { channels, inner }: ChannelView, { scale, shift }: ChannelAffine, z: Float32Array): Float32Array {
  const y = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const c = Math.floor(i / inner) % channels;
    y[i] = x[i] * scale[c] + shift[c] + z[i];
  }
  return y;
}

function applyAffine(x: Float32Array, view: ChannelView, { scale, shift }: ChannelAffine): Float32Array {
  const { outer, channels, inner } = view;
  const y = new Float32Array(view.size);
  const blockRows = inner === 1 ? rowsPerBlock(channels) : 0;
  if (blockRows > 0) {
    // Block by block, CHANNEL_GROUP channels at a time (row-blocks.ts): scale and shift stay in
    // local variables.
    const grouped = channels - (channels % CHANNEL_GROUP);
    for (let first = 0; first < outer; first += blockRows) {
      const end = Math.min(first + blockRows, outer) * channels;
      for (let c = 0; c < grouped; c += CHANNEL_GROUP) {
        const s0 = scale[c], s1 = scale[c + 1], s2 = scale[c + 2], s3 = scale[c + 3];
        const t0 = shift[c], t1 = shift[c + 1], t2 = shift[c + 2], t3 = shift[c + 3];
        for (let i = first * channels + c; i < end; i += channels) {
          y[i] = x[i] * s0 + t0;
          y[i + 1] = x[i + 1] * s1 + t1;
          y[i + 2] = x[i + 2] * s2 + t2;
          y[i + 3] = x[i + 3] * s3 + t3;
        }
      }
      for (let c = grouped; c < channels; c++) {
        const s = scale[c];
        const t = shift[c];
        for (let i = first * channels + c; i < end; i += channels) y[i] = x[i] * s + t;
      }
    }
  } else if (inner === 1) {
    for (let row = 0, i = 0; row < outer; row++) {
      for (let c = 0; c < channels; c++, i++) y[i] = x[i] * scale[c] + shift[c];
    }
  } else {
    for (let block = 0, i = 0; block < outer; block++) {
      for (let c = 0; c < channels; c++) {
        const s = scale[c];
        const t = shift[c];
        for (const end = i + inner; i < end; i++) y[i] = x[i] * s + t;
      }
    }
  }
  return y;
}

/**
 * relu as activation.wgsl's bit test: negative values (−0 and −Inf included) become +0, NaN stays
 * NaN as in torch.relu, so the CPU and GPU forwards give the same bits.
 */
function reluInPlace(y: Float32Array): void {
  for (let i = 0; i < y.length; i++) {
    if (y[i] <= 0) y[i] = 0;
  }
}
