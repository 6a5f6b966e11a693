// #import backward-channel sums-tree grid
// Adds up the K partial sums (Σ dy, Σ dy · (x − mean)) of each channel written by
// backward-reduce-rows/-runs.wgsl, and turns them into the parameter gradients and the per-channel
// coefficients [k | c | m | mean] of backward-apply.wgsl (the formulas, accumulation and the rule
// for non-finite sums: backward-channel.wgsl).
//
// Two entry points, as in finalize.wgsl: backwardFinalizeTree gives each channel a workgroup whose
// threads add strided subsets of the partials and then a tree in workgroup memory (sums-tree.wgsl);
// backwardFinalizeSerial gives each channel one thread that adds its few partials in order. The tree
// keeps its barriers on devices with subgroups too, for the reasons finalize.wgsl gives.

struct Params {
  channels: u32,
  chunks: u32,        // K partials per channel
  invCount: f32,      // 1 / M
  nan: f32,           // a quiet NaN, written by the host
}

override WORKGROUP_SIZE: u32;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> sums: array<vec2f>;
// Bindings 2–5 (stats, γ, dgamma, dbeta): backward-channel.wgsl.
// coefficients = [k | c | m | mean], C values each, read by backward-apply.wgsl
@group(0) @binding(6) var<storage, read_write> coefficients: array<f32>;

// The gradients and coefficients of one channel from its two sums (backward-channel.wgsl, put in
// front of this file).
fn writeChannel(channel: u32, total: vec2f) {
  let g = channelGradients(channel, total);
  storeGradients(channel, g);
  let C = params.channels;
  coefficients[channel] = g.k;
  coefficients[C + channel] = g.c;
  coefficients[2u * C + channel] = g.m;
  coefficients[3u * C + channel] = g.mean;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn backwardFinalizeTree(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let channel = gridWorkgroup(workgroup, workgroups);
  // Whole workgroups leave together, so the barriers below stay in uniform control flow.
  if (channel >= params.channels) {
    return;
  }
  let total = addSumsTree(channel, 0u, params.chunks, local);
  if (local == 0u) {
    writeChannel(channel, total);
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn backwardFinalizeSerial(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let channel = gridThread(workgroup, workgroups, local);
  if (channel >= params.channels) {
    return;
  }
  var folded = vec2f(0.0);
  for (var k = 0u; k < params.chunks; k += 1u) {
    folded += sums[k * params.channels + channel];
  }
  writeChannel(channel, folded);
}
