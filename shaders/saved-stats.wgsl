// Completes a stats buffer rebuilt from the statistics a training forward returned to the host
// (mean and invStd, uploaded into blocks 0 and 2): scale = γ · invStd and shift = β − mean · scale,
// written with the same float32 expressions as finalize.wgsl, so a backward pass with a relu
// recomputes exactly the forward's y = fma(x, scale, shift) and masks the same elements.

struct Params {
  channels: u32,
}

override WORKGROUP_SIZE: u32;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> gamma: array<f32>;
@group(0) @binding(2) var<storage, read> beta: array<f32>;
// stats = [mean | variance | invStd | scale | shift], C values each
@group(0) @binding(3) var<storage, read_write> stats: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn scaleShiftFromSaved(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let channel = (workgroup.x + workgroup.y * workgroups.x) * WORKGROUP_SIZE + local;
  let C = params.channels;
  if (channel >= C) {
    return;
  }
  let mean = stats[channel];
  let invStd = stats[2u * C + channel];
  let scale = gamma[channel] * invStd;
  stats[3u * C + channel] = scale;
  stats[4u * C + channel] = beta[channel] - mean * scale;
}
