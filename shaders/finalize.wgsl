// Merges the K partial statistics of each channel into the batch mean and biased variance, then
// derives what the later kernels need and updates the running statistics in place:
//   invStd = 1 / sqrt(var + eps), scale = γ · invStd, shift = β − mean · scale,
//   running = keep · running + take · stat  (variance times varianceFactor first).
// keep, take and varianceFactor encode the PyTorch or Keras convention; they are computed on the
// host, so neither convention is spelled out here.
//
// Two entry points: finalizeTree gives each channel a workgroup (threads fold strided subsets of the
// partials, then a tree in workgroup memory merges them), for channels with many partials;
// finalizeSerial gives each channel one thread that folds its few partials in order, which avoids
// barriers when there are many channels with few partials each. (The tree keeps its barriers on
// devices with subgroups too, unlike the statistics kernels' workgroup sums: on a GPU it is one
// workgroup per channel once per call, and software adapters, where barriers are dear, fold many
// more partials serially instead: see serialFinalizeMaxChunks in tuning.ts.) All merges use Chan's
// formula on partials (count, mean about a pivot, M2, pivot) and re-pivot at the merged mean
// (chanMerge, moments.wgsl, put in front of this file): the pivots' difference is exact (or small),
// so for data like 1e4 ± 1 no quantity of the size of the mean is rounded until the mean itself is
// written, and however many partials one thread folds, each merge rounds only quantities of the
// order of the merged partials' deviation from each other.
//
// Non-finite input (the rule PyTorch follows on CUDA, where Welford's update turns an infinity into
// NaN): a channel any of whose partials read a NaN or ±Inf — or whose merged moments overflowed
// float32 — gets NaN for its mean, variance, invStd, scale and shift, so every y of the channel is
// NaN, and NaN running statistics. Other channels are unaffected. NaN cannot be written as a WGSL
// constant (constant evaluation rejects it), so it comes in through the uniform.

struct Params {
  channels: u32,
  chunks: u32,          // K partials per channel
  eps: f32,
  keep: f32,
  take: f32,
  varianceFactor: f32,
  nan: f32,             // a quiet NaN, written by the host
}

override WORKGROUP_SIZE: u32;
// false for a caller that tracks no running statistics: the two buffers are then placeholders.
override UPDATE_RUNNING: bool;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> partials: array<vec4f>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read_write> runningMean: array<f32>;
@group(0) @binding(5) var<storage, read_write> runningVar: array<f32>;
// stats = [mean | variance | invStd | scale | shift], C values each
@group(0) @binding(6) var<storage, read_write> stats: array<f32>;

var<workgroup> merged: array<vec4f, WORKGROUP_SIZE>;

fn writeChannel(channel: u32, total: vec4f) {
  let C = params.channels;
  if (total.z < 0.0 || !isFinite(total.y) || !isFinite(total.z)) {
    for (var block = 0u; block < 5u; block += 1u) {
      stats[block * C + channel] = params.nan;
    }
    if (UPDATE_RUNNING) {
      runningMean[channel] = params.nan;
      runningVar[channel] = params.nan;
    }
    return;
  }
  let mean = total.w + total.y;
  let variance = total.z / total.x;
  let invStd = 1.0 / sqrt(variance + params.eps);
  let scale = gamma[channel] * invStd;
  stats[channel] = mean;
  stats[C + channel] = variance;
  stats[2u * C + channel] = invStd;
  stats[3u * C + channel] = scale;
  stats[4u * C + channel] = beta[channel] - mean * scale;
  if (UPDATE_RUNNING) {
    runningMean[channel] = params.keep * runningMean[channel] + params.take * mean;
    runningVar[channel] = params.keep * runningVar[channel] + params.take * variance * params.varianceFactor;
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn finalizeTree(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let channel = workgroup.x + workgroup.y * workgroups.x;
  if (channel >= params.channels) {
    return;
  }
  var folded = vec4f(0.0);
  for (var k = local; k < params.chunks; k += WORKGROUP_SIZE) {
    folded = chanMerge(folded, partials[k * params.channels + channel]);
  }
  merged[local] = folded;
  workgroupBarrier();
  for (var width = WORKGROUP_SIZE / 2u; width > 0u; width /= 2u) {
    if (local < width) {
      merged[local] = chanMerge(merged[local], merged[local + width]);
    }
    workgroupBarrier();
  }
  if (local == 0u) {
    writeChannel(channel, merged[0]);
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn finalizeSerial(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let channel = (workgroup.x + workgroup.y * workgroups.x) * WORKGROUP_SIZE + local;
  if (channel >= params.channels) {
    return;
  }
  var folded = vec4f(0.0);
  for (var k = 0u; k < params.chunks; k += 1u) {
    folded = chanMerge(folded, partials[k * params.channels + channel]);
  }
  writeChannel(channel, folded);
}
