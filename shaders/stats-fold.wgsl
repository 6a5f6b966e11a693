// #import moments
// The first level of a two-level finalize (plan.ts, planPartialsFold): when a channel has more
// partial statistics than FINALIZE_MAX_PARTIALS, each workgroup merges one group of `groupSize`
// consecutive partials of one channel into one, and finalize.wgsl then merges the `groups` results.
// Workgroup w takes channel w % C and group w / C; its threads fold strided subsets of the group,
// then a tree in workgroup memory merges their moments (the same merges as finalizeTree: Chan's
// formula about the first partial's pivot, chanMerge in moments.wgsl; empty partials are skipped and
// the NaN flag M2 = −1 spreads). The output has the partials' layout: folded[group · C + c].

struct Params {
  channels: u32,
  chunks: u32,     // K partials per channel
  groupSize: u32,
  groups: u32,
}

override WORKGROUP_SIZE: u32;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> partials: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> folded: array<vec4f>;

var<workgroup> merged: array<vec4f, WORKGROUP_SIZE>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn statsFold(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  // Grids larger than maxComputeWorkgroupsPerDimension are folded into two dimensions.
  let w = workgroup.x + workgroup.y * workgroups.x;
  if (w >= params.channels * params.groups) {
    return;
  }
  let channel = w % params.channels;
  let group = w / params.channels;
  let first = group * params.groupSize;
  let end = min(first + params.groupSize, params.chunks);
  var m = vec4f(0.0);
  for (var k = first + local; k < end; k += WORKGROUP_SIZE) {
    m = chanMerge(m, partials[k * params.channels + channel]);
  }
  merged[local] = m;
  workgroupBarrier();
  for (var width = WORKGROUP_SIZE / 2u; width > 0u; width /= 2u) {
    if (local < width) {
      merged[local] = chanMerge(merged[local], merged[local + width]);
    }
    workgroupBarrier();
  }
  if (local == 0u) {
    folded[group * params.channels + channel] = merged[0];
  }
}
