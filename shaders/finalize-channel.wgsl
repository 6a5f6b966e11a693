// #import finite
// #expects params.nan params.eps params.channels params.keep params.take params.varianceFactor
// The last step of the statistics of one channel, shared by finalize.wgsl and
// fused-small-forward.wgsl (shader-sources.ts puts it in front of each): from the channel's moments
// (count, shifted mean, M2, pivot) — moments of x − pivot, the pivot apart — the batch mean and
// biased variance, then
//   invStd = 1 / sqrt(var + eps), scale = γ · invStd, shift = β − mean · scale,
//   running = keep · running + take · stat  (variance times varianceFactor first).
// keep, take and varianceFactor encode the PyTorch or Keras convention; they are computed on the
// host, so neither convention is spelled out here.
//
// Non-finite input: M2 = −1 flags moments that read a NaN or ±Inf (see stats-rows.wgsl); such a
// channel — or one whose moments overflowed float32 — gets NaN for its mean, variance, invStd,
// scale and shift, so every y of the channel is NaN, and NaN running statistics. NaN cannot be
// written as a WGSL constant (constant evaluation rejects it), so it comes in through the uniform.
//
// The including kernel declares `params` with the fields channels, eps, keep, take,
// varianceFactor and nan, and binds nothing else at bindings 2–6; isFinite comes from moments.wgsl,
// put in front of this file.

// false for a caller that tracks no running statistics: the two buffers are then placeholders.
override UPDATE_RUNNING: bool;

@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read_write> runningMean: array<f32>;
@group(0) @binding(5) var<storage, read_write> runningVar: array<f32>;
// stats = [mean | variance | invStd | scale | shift], C values each
@group(0) @binding(6) var<storage, read_write> stats: array<f32>;

struct ChannelStatistics {
  mean: f32,
  variance: f32,
  invStd: f32,
  scale: f32,
  shift: f32,
  finite: bool,
}

// Pure: a kernel whose every thread needs scale and shift computes them here from the same
// moments, and the thread that stores them stores the very values its y used.
fn channelStatistics(channel: u32, total: vec4f) -> ChannelStatistics {
  if (total.z < 0.0 || !isFinite(total.y) || !isFinite(total.z)) {
    let nan = params.nan;
    return ChannelStatistics(nan, nan, nan, nan, nan, false);
  }
  let mean = total.w + total.y;
  let variance = total.z / total.x;
  let invStd = 1.0 / sqrt(variance + params.eps);
  let scale = gamma[channel] * invStd;
  return ChannelStatistics(mean, variance, invStd, scale, beta[channel] - mean * scale, true);
}

fn storeChannel(channel: u32, s: ChannelStatistics) {
  let C = params.channels;
  stats[channel] = s.mean;
  stats[C + channel] = s.variance;
  stats[2u * C + channel] = s.invStd;
  stats[3u * C + channel] = s.scale;
  stats[4u * C + channel] = s.shift;
  if (UPDATE_RUNNING) {
    if (s.finite) {
      runningMean[channel] = params.keep * runningMean[channel] + params.take * s.mean;
      runningVar[channel] = params.keep * runningVar[channel] + params.take * s.variance * params.varianceFactor;
    } else {
      runningMean[channel] = params.nan;
      runningVar[channel] = params.nan;
    }
  }
}
