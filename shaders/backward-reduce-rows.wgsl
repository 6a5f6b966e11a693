// The two per-channel sums of the backward pass when channels are contiguous in memory (inner == 1:
// NC, NLC, NHWC, NDHWC), reading x and dy exactly once:
//   Σ dy  and  Σ dy · (x − mean),
// with dy first set to 0, when RELU is set, where the forward's output y (bound here, as the forward
// stored it) does not pass relu's gradient: reluGradient of activation.wgsl, a bit test on y.
//
// The work is split exactly like stats-rows.wgsl, with the same Params: thread g covers channel
// group `g % groups` (one channel, or four with the vec4 entry point) and rows k, k + K, k + 2K, …
// with k = g / groups and K = params.rowLanes. Each thread writes one partial per channel;
// `backward-finalize.wgsl` adds the partials up.
//
// x − mean is kept explicit: the product dy · (x − mean) never cancels, whereas Σ dy·x − mean·Σ dy
// would lose every digit for inputs like 1e4 ± 1.

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
override RELU: bool;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> x4: array<vec4f>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> dy4: array<vec4f>;
// The forward's output, read only when RELU is set (without relu any read-only tensor is bound here).
@group(0) @binding(3) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read> y4: array<vec4f>;
// stats = [mean | variance | invStd | scale | shift], C values each (see finalize.wgsl); only mean is read
@group(0) @binding(4) var<storage, read> stats: array<f32>;
@group(0) @binding(4) var<storage, read> stats4: array<vec4f>;
// partials[(chunkBase + k) · C + c] = (Σ dy, Σ dy · (x − mean))
@group(0) @binding(5) var<storage, read_write> partials: array<vec2f>;

// lanesOf(g): the rows of thread g's lane (rows-lanes.wgsl, put in front of this file).

// Dispatches larger than maxComputeWorkgroupsPerDimension are folded into a 2-D grid.
fn threadIndex(workgroup: vec3u, workgroups: vec3u, local: u32) -> u32 {
  return (workgroup.x + workgroup.y * workgroups.x) * WORKGROUP_SIZE + local;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn backwardReduceRowsScalar(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let g = threadIndex(workgroup, workgroups, local);
  if (g >= params.threads) {
    return;
  }
  let C = params.groups;
  let channel = g % C;
  let lane = lanesOf(g);
  let step = lane.step * C;
  let mean = stats[channel];
  var index = params.skip + lane.first * C + channel;
  var sumDy = 0.0;
  var sumDyXmu = 0.0;
  for (var row = lane.first; row < lane.end; row += lane.step) {
    let xv = x[index];
    var d = dy[index];
    if (RELU) {
      d = reluGradient(d, y[index]);
    }
    sumDy += d;
    sumDyXmu = fma(d, xv - mean, sumDyXmu);
    index += step;
  }
  partials[(params.chunkBase + lane.index) * C + channel] = vec2f(sumDy, sumDyXmu);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn backwardReduceRowsVec4(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let g = threadIndex(workgroup, workgroups, local);
  if (g >= params.threads) {
    return;
  }
  let groups = params.groups;
  let group = g % groups;
  let lane = lanesOf(g);
  let step = lane.step * groups;
  // Four consecutive channels; stats blocks are C = 4 · groups values, i.e. `groups` vec4s.
  let mean = stats4[group];
  var index = params.skip + lane.first * groups + group;
  var sumDy = vec4f(0.0);
  var sumDyXmu = vec4f(0.0);
  for (var row = lane.first; row < lane.end; row += lane.step) {
    let xv = x4[index];
    var d = dy4[index];
    if (RELU) {
      d = reluGradient4(d, y4[index]);
    }
    sumDy += d;
    sumDyXmu = fma(d, xv - mean, sumDyXmu);
    index += step;
  }
  let out = ((params.chunkBase + lane.index) * groups + group) * 4u;
  for (var lane = 0u; lane < 4u; lane += 1u) {
    partials[out + lane] = vec2f(sumDy[lane], sumDyXmu[lane]);
  }
}
