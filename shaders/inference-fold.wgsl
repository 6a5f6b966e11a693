// #import running-fold grid
// Folds the population statistics of inference into `stats` = [mean | variance | invStd | scale |
// shift] (running-fold.wgsl), the layout finalize.wgsl writes in training: the eval-mode backward
// reads it. Inference itself folds inside its apply (apply.wgsl), in one dispatch.

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
  let channel = gridThread(workgroup, workgroups, local);
  if (channel < params.channels) {
    storeFolded(channel, params.channels, foldRunning(channel));
  }
}
