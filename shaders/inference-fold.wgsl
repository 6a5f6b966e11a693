// Folds the population statistics of inference into the per-channel scale and shift that
// `apply.wgsl` uses, in the same layout as `finalize.wgsl` writes for training:
//   stats = [mean | variance | invStd | scale | shift] with mean = running mean, variance = running
//   variance, invStd = 1 / sqrt(running variance + eps), scale = γ · invStd, shift = β − mean · scale.

struct Params {
  channels: u32,
  eps: f32,
}

override WORKGROUP_SIZE: u32;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> gamma: array<f32>;
@group(0) @binding(2) var<storage, read> beta: array<f32>;
@group(0) @binding(3) var<storage, read> runningMean: array<f32>;
@group(0) @binding(4) var<storage, read> runningVar: array<f32>;
@group(0) @binding(5) var<storage, read_write> stats: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn inferenceFold(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let channel = (workgroup.x + workgroup.y * workgroups.x) * WORKGROUP_SIZE + local;
  let C = params.channels;
  if (channel >= C) {
    return;
  }
  let mean = runningMean[channel];
  let variance = runningVar[channel];
  let invStd = 1.0 / sqrt(variance + params.eps);
  let scale = gamma[channel] * invStd;
  stats[channel] = mean;
  stats[C + channel] = variance;
  stats[2u * C + channel] = invStd;
  stats[3u * C + channel] = scale;
  stats[4u * C + channel] = beta[channel] - mean * scale;
}
