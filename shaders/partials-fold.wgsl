// #import moments-tree sums-tree grid
// The first level of a two-level finalize (statistics-plan.ts, planPartialsFold): when a channel has
// more partials than FINALIZE_MAX_PARTIALS, each workgroup merges one group of `groupSize`
// consecutive partials of one channel into one, and the finalize (finalize.wgsl,
// backward-finalize.wgsl) then merges the `groups` results. Workgroup w takes channel w % C and
// group w / C; its threads fold strided subsets of the group, then a tree in workgroup memory merges
// them, with the finalizes' own tree helpers. The output keeps the partials' layout: folded[group · C + c].
//
// statsFold: the statistics' moments (count, mean − pivot, M2, pivot), merged with Chan's formula
// (moments-tree.wgsl). sumsFold: the backward's two sums (Σ dy, Σ dy · (x − mean)), added
// (sums-tree.wgsl).

struct Params {
  channels: u32,
  chunks: u32,     // K partials per channel
  groupSize: u32,
  groups: u32,
}

override WORKGROUP_SIZE: u32;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> partials: array<vec4f>;
@group(0) @binding(1) var<storage, read> sums: array<vec2f>;
@group(0) @binding(2) var<storage, read_write> folded: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> foldedSums: array<vec2f>;

// This workgroup's channel, group and the group's partials [first, end); all invalid past the grid.
struct Group {
  valid: bool,
  channel: u32,
  group: u32,
  first: u32,
  end: u32,
}

fn groupOf(workgroup: vec3u, workgroups: vec3u) -> Group {
  let w = gridWorkgroup(workgroup, workgroups);
  let channel = w % params.channels;
  let group = w / params.channels;
  let first = group * params.groupSize;
  return Group(w < params.channels * params.groups, channel, group, first, min(first + params.groupSize, params.chunks));
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn statsFold(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let g = groupOf(workgroup, workgroups);
  if (!g.valid) {
    return;
  }
  let m = mergeMomentsTree(g.channel, g.first, g.end, local);
  if (local == 0u) {
    folded[g.group * params.channels + g.channel] = m;
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn sumsFold(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let g = groupOf(workgroup, workgroups);
  if (!g.valid) {
    return;
  }
  let s = addSumsTree(g.channel, g.first, g.end, local);
  if (local == 0u) {
    foldedSums[g.group * params.channels + g.channel] = s;
  }
}
