// #import activation rows-lanes tensor-storage grid
// The two per-channel sums of the backward pass when channels are contiguous in memory (inner == 1:
// NC, NLC, NHWC, NDHWC), reading x and dy exactly once:
//   Σ dy  and  Σ dy · (x − mean),
// with dy first set to 0, when RELU is set, where the forward's output y (bound here, as the forward
// stored it) does not pass relu's gradient: reluGradient of activation.wgsl, a bit test on y.
//
// The work is split exactly like stats-rows.wgsl, with the same Params (rows-lanes.wgsl): thread g covers channel
// group `g % groups` (one channel, or four with the vec4 entry point) and rows k, k + K, k + 2K, …
// with k = g / groups and K = params.rowLanes. A thread reads four rows at a time (four independent
// loads of x and of dy in flight) and adds each block of four before adding it to its sums, so a
// value meets ⌈rows / 4⌉ + 2 additions in the thread. Each thread writes one partial per channel;
// `backward-finalize.wgsl` adds the partials up.
//
// x − mean is kept explicit: the product dy · (x − mean) never cancels, whereas Σ dy·x − mean·Σ dy
// would lose every digit for inputs like 1e4 ± 1.

override WORKGROUP_SIZE: u32;
override RELU: bool;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<tensor>;
@group(0) @binding(1) var<storage, read> x4: array<tensor4>;
@group(0) @binding(2) var<storage, read> dy: array<tensor>;
@group(0) @binding(2) var<storage, read> dy4: array<tensor4>;
// The forward's output, read only when RELU is set (without relu any read-only tensor is bound here).
@group(0) @binding(3) var<storage, read> y: array<tensor>;
@group(0) @binding(3) var<storage, read> y4: array<tensor4>;
// stats = [mean | variance | invStd | scale | shift], C values each (see finalize.wgsl); only mean is read
@group(0) @binding(4) var<storage, read> stats: array<f32>;
@group(0) @binding(4) var<storage, read> stats4: array<vec4f>;
// partials[(chunkBase + k) · C + c] = (Σ dy, Σ dy · (x − mean))
@group(0) @binding(5) var<storage, read_write> partials: array<vec2f>;

// Params and lanesOf(g), the rows of thread g's lane: rows-lanes.wgsl, put in front of
// this file.

// dy4 at unit i with the relu mask applied from the forward's y there (activation.wgsl); y is read
// only with RELU.
fn maskedDy4(i: u32) -> vec4f {
  if (RELU) {
    return reluGradient4(fromTensor4(dy4[i]), fromTensor4(y4[i]));
  }
  return fromTensor4(dy4[i]);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn backwardReduceRowsScalar(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let g = gridThread(workgroup, workgroups, local);
  if (g >= params.threads) {
    return;
  }
  let C = params.groups;
  let channel = g % C;
  let lane = lanesOf(g);
  let step = lane.step * C;
  let rows = (lane.end - lane.first + lane.step - 1u) / lane.step;
  let mean = stats[channel];
  var index = params.skip + lane.first * C + channel;
  // Lane k of the vec4s sums the k-th row of every block: four independent sums.
  var sumDy = vec4f(0.0);
  var sumDyXmu = vec4f(0.0);
  for (var row = 0u; row < rows; row += 4u) {
    let valid = min(rows - row, 4u);
    // Rows past the lane's end repeat its first row of the block and count as dy = 0.
    let i1 = index + min(1u, valid - 1u) * step;
    let i2 = index + min(2u, valid - 1u) * step;
    let i3 = index + min(3u, valid - 1u) * step;
    let xv = vec4f(fromTensor(x[index]), fromTensor(x[i1]), fromTensor(x[i2]), fromTensor(x[i3]));
    let used = vec4u(0u, 1u, 2u, 3u) < vec4u(valid);
    var dv = vec4f(fromTensor(dy[index]), fromTensor(dy[i1]), fromTensor(dy[i2]), fromTensor(dy[i3]));
    if (RELU) {
      dv = reluGradient4(dv, vec4f(fromTensor(y[index]), fromTensor(y[i1]), fromTensor(y[i2]), fromTensor(y[i3])));
    }
    let d = select(vec4f(0.0), dv, used);
    sumDy += d;
    sumDyXmu = fma(d, xv - mean, sumDyXmu);
    index += 4u * step;
  }
  partials[(params.chunkBase + lane.index) * C + channel] = vec2f((sumDy.x + sumDy.y) + (sumDy.z + sumDy.w), (sumDyXmu.x + sumDyXmu.y) + (sumDyXmu.z + sumDyXmu.w));
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn backwardReduceRowsVec4(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let g = gridThread(workgroup, workgroups, local);
  if (g >= params.threads) {
    return;
  }
  let groups = params.groups;
  let group = g % groups;
  let lane = lanesOf(g);
  let step = lane.step * groups;
  let rows = (lane.end - lane.first + lane.step - 1u) / lane.step;
  // Four consecutive channels; stats blocks are C = 4 · groups values, i.e. `groups` vec4s.
  let mean = stats4[group];
  var index = params.skip + lane.first * groups + group;
  var sumDy = vec4f(0.0);
  var sumDyXmu = vec4f(0.0);
  for (var row = 0u; row < rows; row += 4u) {
    let valid = min(rows - row, 4u);
    // Rows past the lane's end repeat its block's first row and count as dy = 0.
    let i1 = index + min(1u, valid - 1u) * step;
    let i2 = index + min(2u, valid - 1u) * step;
    let i3 = index + min(3u, valid - 1u) * step;
    let x0 = fromTensor4(x4[index]);
    let x1 = fromTensor4(x4[i1]);
    let x2 = fromTensor4(x4[i2]);
    let x3 = fromTensor4(x4[i3]);
    let d0 = maskedDy4(index);
    let d1 = select(vec4f(0.0), maskedDy4(i1), valid > 1u);
    let d2 = select(vec4f(0.0), maskedDy4(i2), valid > 2u);
    let d3 = select(vec4f(0.0), maskedDy4(i3), valid > 3u);
    sumDy += (d0 + d1) + (d2 + d3);
    sumDyXmu += fma(d0, x0 - mean, d1 * (x1 - mean)) + fma(d2, x2 - mean, d3 * (x3 - mean));
    index += 4u * step;
  }
  let out = ((params.chunkBase + lane.index) * groups + group) * 4u;
  for (var k = 0u; k < 4u; k += 1u) {
    partials[out + k] = vec2f(sumDy[k], sumDyXmu[k]);
  }
}
