// #import finalize-channel moments moments-tree grid
// Merges the K partial statistics of each channel into the batch mean and biased variance, then
// derives what the later kernels need and updates the running statistics in place (the formulas,
// the conventions and the rule for non-finite input: finalize-channel.wgsl).
//
// Two entry points: finalizeTree gives each channel a workgroup (threads fold strided subsets of the
// partials, then a tree in workgroup memory merges them: moments-tree.wgsl), for channels with many
// partials; finalizeSerial gives each channel one thread that folds its few partials in order, which
// avoids barriers when there are many channels with few partials each. (The tree keeps its barriers
// on devices with subgroups too, unlike the statistics kernels' workgroup sums: on a GPU it is one
// workgroup per channel once per call, and software adapters, where barriers are dear, fold many
// more partials serially instead: see serialFinalizeMaxChunks in tuning.ts.) All merges use Chan's
// formula on partials (count, mean about a pivot, M2, pivot), about the first partial's pivot
// (chanMerge, moments.wgsl, put in front of this file): the pivots are values of the channel and
// their difference is exact (or small), so for data like 1e4 ± 1 no quantity of the size of the
// mean is rounded until the mean itself is written.
//
// Non-finite input (the rule PyTorch follows on CUDA, where Welford's update turns an infinity into
// NaN): M2 = −1 marks a partial that read a NaN or ±Inf, and spreads through the merges; the channel
// then gets NaN statistics. Other channels are unaffected.

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

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> partials: array<vec4f>;
// Bindings 2–6 (γ, β, the running statistics, stats): finalize-channel.wgsl.

// What a channel's merged partial gives: the batch statistics, scale and shift, stored, and the
// running statistics updated (finalize-channel.wgsl, put in front of this file; chanMerge and
// isFinite: moments.wgsl).
fn writeChannel(channel: u32, total: vec4f) {
  storeChannel(channel, channelStatistics(channel, total));
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn finalizeTree(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let channel = gridWorkgroup(workgroup, workgroups);
  if (channel >= params.channels) {
    return;
  }
  let total = mergeMomentsTree(channel, 0u, params.chunks, local);
  if (local == 0u) {
    writeChannel(channel, total);
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn finalizeSerial(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let channel = gridThread(workgroup, workgroups, local);
  if (channel >= params.channels) {
    return;
  }
  var folded = vec4f(0.0);
  for (var k = 0u; k < params.chunks; k += 1u) {
    folded = chanMerge(folded, partials[k * params.channels + channel]);
  }
  writeChannel(channel, folded);
}
