// Per-channel partial statistics when channels are contiguous in memory (inner == 1: NC, NLC, NHWC,
// NDHWC), reading x exactly once.
//
// Thread g covers channel group `g % groups` (one channel, or four with the vec4 entry point) and
// rows k, k + K, k + 2K, … with k = g / groups and K = params.rowLanes. Consecutive threads read
// consecutive addresses whatever C is, so every workgroup reads one contiguous span.
//
// A thread accumulates Σd and Σd² of d = x − pivot, where the pivot is the first value it reads:
// the pivot is a sample of the channel, so d stays of the order of the standard deviation and the
// shifted sums keep their digits even for inputs like 1e4 ± 1 (raw E[x²] − E[x]² would lose them
// all). The thread then writes its partial (count, shifted mean, M2, pivot): the moments of d, and
// the pivot apart, so that no number the size of the mean is rounded before the very end;
// `finalize.wgsl` merges partials with Chan's formula.
//
// Non-finite input: a NaN or an infinity makes d, and so both sums, non-finite for good (nothing
// brings a sum back from NaN or ±Inf), so checking the sums once at the end flags a thread that
// read one (or whose squares overflowed float32), with M2 = −1, which no real M2 is. A flag, not
// the moments, carries the news: max(NaN, 0) may return 0 in WGSL, which would hide a NaN in M2.
// The test looks at the bits, so no compiler assumption about NaN can remove it.

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
// partials[(chunkBase + k) · C + c] = (count, Σd / count, M2, pivot); M2 = −1 when the thread read a NaN or ±Inf
@group(0) @binding(2) var<storage, read_write> partials: array<vec4f>;

// Dispatches larger than maxComputeWorkgroupsPerDimension are folded into a 2-D grid.
fn threadIndex(workgroup: vec3u, workgroups: vec3u, local: u32) -> u32 {
  return (workgroup.x + workgroup.y * workgroups.x) * WORKGROUP_SIZE + local;
}

// lanesOf(g): the rows of thread g's lane (rows-lanes.wgsl, put in front of this file).

fn isFinite(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7f800000u) != 0x7f800000u;
}

fn partial(count: f32, pivot: f32, sum: f32, sumSquares: f32) -> vec4f {
  if (!(isFinite(sum) && isFinite(sumSquares))) {
    return vec4f(count, 0.0, -1.0, pivot);
  }
  let shiftedMean = sum / count;
  return vec4f(count, shiftedMean, max(sumSquares - sum * shiftedMean, 0.0), pivot);
}

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
  var index = params.skip + lane.first * params.groups + channel;
  let pivot = x[index];
  var sum = 0.0;
  var sumSquares = 0.0;
  var count = 0u;
  for (var row = lane.first; row < lane.end; row += lane.step) {
    let d = x[index] - pivot;
    sum += d;
    sumSquares = fma(d, d, sumSquares);
    index += step;
    count += 1u;
  }
  partials[(params.chunkBase + lane.index) * params.groups + channel] = partial(f32(count), pivot, sum, sumSquares);
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
  var index = params.skip + lane.first * params.groups + group;
  let pivot = x4[index];
  var sum = vec4f(0.0);
  var sumSquares = vec4f(0.0);
  var count = 0u;
  for (var row = lane.first; row < lane.end; row += lane.step) {
    let d = x4[index] - pivot;
    sum += d;
    sumSquares = fma(d, d, sumSquares);
    index += step;
    count += 1u;
  }
  let out = ((params.chunkBase + lane.index) * params.groups + group) * 4u;
  for (var lane = 0u; lane < 4u; lane += 1u) {
    partials[out + lane] = partial(f32(count), pivot[lane], sum[lane], sumSquares[lane]);
  }
}
