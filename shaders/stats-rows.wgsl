// #import rows-lanes moments
// Per-channel partial statistics when channels are contiguous in memory (inner == 1: NC, NLC, NHWC,
// NDHWC), reading x exactly once.
//
// Thread g covers channel group `g % groups` (one channel, or four with the vec4 entry point) and
// rows k, k + K, k + 2K, … with k = g / groups and K = params.rowLanes. Consecutive threads read
// consecutive addresses whatever C is, so every workgroup reads one contiguous span.
//
// A thread reads its rows four at a time (four independent loads in flight), takes each block's
// moments in registers and merges them into its running moments (moments.wgsl, put in front of this
// file with rows-lanes.wgsl): count, mean about a pivot, M2 and the pivot, which starts at the
// thread's first value and follows the merged mean. It writes them as its partial; `finalize.wgsl`
// merges the partials with the same formula. A NaN or ±Inf read makes the moments non-finite for
// good, and the partial is flagged with M2 = −1 (momentsOrFlag).

struct Params {
  rows: u32,       // outer
  groups: u32,     // channel groups: C for the scalar entry point, C / 4 for the vec4 one
  rowLanes: u32,   // K: threads per channel group, each taking every K-th row
  threads: u32,    // groups · K
  skip: u32,       // units bound before the first row (a slab starts at an aligned address; see slabs.ts)
  chunkBase: u32,  // index of this slab's first partial row: slabs of one tensor write after each other
  laneRows: u32,   // 0: lane k takes rows k, k + K, k + 2K, …; else rows [k · laneRows, (k + 1) · laneRows)
}

override WORKGROUP_SIZE: u32;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> x4: array<vec4f>;
// partials[(chunkBase + k) · C + c] = (count, mean − pivot, M2, pivot), moments.wgsl's layout; M2 = −1
// when the thread read a NaN or ±Inf
@group(0) @binding(2) var<storage, read_write> partials: array<vec4f>;

// Dispatches larger than maxComputeWorkgroupsPerDimension are folded into a 2-D grid.
fn threadIndex(workgroup: vec3u, workgroups: vec3u, local: u32) -> u32 {
  return (workgroup.x + workgroup.y * workgroups.x) * WORKGROUP_SIZE + local;
}

// lanesOf(g): the rows of thread g's lane (rows-lanes.wgsl, put in front of this file).

@compute @workgroup_size(WORKGROUP_SIZE)
fn statsRowsScalar(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let g = threadIndex(workgroup, workgroups, local);
  if (g >= params.threads) {
    return;
  }
  let channel = g % params.groups;
  let lane = lanesOf(g);
  let step = lane.step * params.groups;
  let rows = (lane.end - lane.first + lane.step - 1u) / lane.step;
  var index = params.skip + lane.first * params.groups + channel;
  var moments = vec4f(0.0, 0.0, 0.0, x[index]);
  for (var row = 0u; row < rows; row += 4u) {
    let valid = min(rows - row, 4u);
    // Rows past the lane's end repeat its last row; blockMoments ignores them.
    let values = vec4f(
      x[index],
      x[index + min(1u, valid - 1u) * step],
      x[index + min(2u, valid - 1u) * step],
      x[index + min(3u, valid - 1u) * step],
    );
    moments = mergeBlock(moments, values, valid);
    index += 4u * step;
  }
  partials[(params.chunkBase + lane.index) * params.groups + channel] = momentsOrFlag(moments);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn statsRowsVec4(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let g = threadIndex(workgroup, workgroups, local);
  if (g >= params.threads) {
    return;
  }
  let group = g % params.groups;
  let lane = lanesOf(g);
  let step = lane.step * params.groups;
  let rows = (lane.end - lane.first + lane.step - 1u) / lane.step;
  var index = params.skip + lane.first * params.groups + group;
  // Four channels: each lane of a vec4 load belongs to its own channel, so a block of channel k is
  // lane k of four rows.
  let first = x4[index];
  var m0 = vec4f(0.0, 0.0, 0.0, first.x);
  var m1 = vec4f(0.0, 0.0, 0.0, first.y);
  var m2 = vec4f(0.0, 0.0, 0.0, first.z);
  var m3 = vec4f(0.0, 0.0, 0.0, first.w);
  for (var row = 0u; row < rows; row += 4u) {
    let valid = min(rows - row, 4u);
    // Rows past the lane's end repeat its last row; blockMoments ignores them.
    let r0 = x4[index];
    let r1 = x4[index + min(1u, valid - 1u) * step];
    let r2 = x4[index + min(2u, valid - 1u) * step];
    let r3 = x4[index + min(3u, valid - 1u) * step];
    m0 = mergeBlock(m0, vec4f(r0.x, r1.x, r2.x, r3.x), valid);
    m1 = mergeBlock(m1, vec4f(r0.y, r1.y, r2.y, r3.y), valid);
    m2 = mergeBlock(m2, vec4f(r0.z, r1.z, r2.z, r3.z), valid);
    m3 = mergeBlock(m3, vec4f(r0.w, r1.w, r2.w, r3.w), valid);
    index += 4u * step;
  }
  let out = ((params.chunkBase + lane.index) * params.groups + group) * 4u;
  partials[out] = momentsOrFlag(m0);
  partials[out + 1u] = momentsOrFlag(m1);
  partials[out + 2u] = momentsOrFlag(m2);
  partials[out + 3u] = momentsOrFlag(m3);
}
