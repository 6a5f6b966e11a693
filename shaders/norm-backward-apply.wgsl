// #import elementwise-span norm-gradient finite
// dx of the norm backward, elementwise (the walk of apply.wgsl, elementwise-span.wgsl):
//   dx = invStd_r·(h − A_r/D − x̂·B_r/D)   (RMS norm, CENTER false: without the A_r/D term),
// h = g·γ_p (norm-gradient.wgsl), A_r and B_r from norm-backward-rows.wgsl. Entry points as
// norm-apply.wgsl's: normBackwardApply (single values), normBackwardApplyVec4Run (inner % 4 == 0)
// and normBackwardApplyVec4Channels (inner == 1, params % 4 == 0, D % 4 == 0): a unit of four
// values of one row, each lane's g computed apart, dx stored as one vec4 (a quarter of the loop's
// iterations, which is what a software adapter pays for).

struct Params {
  units: u32,
  base: u32,
  channels: u32,
  inner: u32,
  stride: u32,
  segment: u32,
  firstRun: u32,
  threads: u32,
  rowLength: u32,
  meanOffset: u32,
  invStdOffset: u32,
  sampleLength: u32,   // CHANNELS_LAST: one sample's values, spatial·C
  groups: u32,         // CHANNELS_LAST: G
  groupParams: u32,    // CHANNELS_LAST: C / G
  nan: f32,            // a quiet NaN (dxAt)
}

override WORKGROUP_SIZE: u32;
override RUNS: bool;
override CENTER: bool;
// Group and instance norm on channels-last x, walked as [N·spatial, C, 1] (norm-apply.wgsl).
override CHANNELS_LAST: bool;
// Instance norm through frozen running statistics (inference), constants of x: dx = invStd·h, no row terms.
override FROZEN: bool;
override RESIDUAL: bool;
override RELU: bool;
override GELU: bool;
override GELU_TANH: bool;
override SILU: bool;

@group(0) @binding(0) var<uniform> params: Params;
// Bindings 1–6: norm-gradient.wgsl.
// (A_r / D, B_r / D) per row.
@group(0) @binding(7) var<storage, read> rowSums: array<vec2f>;
@group(0) @binding(8) var<storage, read_write> dx: array<f32>;
@group(0) @binding(8) var<storage, read_write> dx4: array<vec4f>;

// The row of element i, whose parameter is p.
fn rowOf(i: u32, p: u32) -> u32 {
  if (CHANNELS_LAST) {
    return (i / params.sampleLength) * params.groups + p / params.groupParams;
  }
  return i / params.rowLength;
}

// dx of element i (row `row`, parameter p).
fn dxAt(i: u32, row: u32, p: u32) -> f32 {
  let q = normGradient(i, row, p);
  if (FROZEN) {
    return q.invStd * (q.g * q.gamma);
  }
  let sums = rowSums[row];
  // A row whose sums are not finite (stored as NaN by norm-backward-rows.wgsl) gets NaN dx, on the
  // bits rather than through arithmetic on NaN, which WGSL does not promise.
  if (!isFinite(sums.y) || (CENTER && !isFinite(sums.x))) {
    return params.nan;
  }
  var centered = q.g * q.gamma - q.xhat * sums.y;
  if (CENTER) {
    centered -= sums.x;
  }
  return q.invStd * centered;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn normBackwardApply(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let span = spanOf(workgroup, workgroups, local);
  for (var u = span.first; u < span.end; u += params.stride) {
    let i = params.base + u;
    // span.channel: the thread's parameter (the walk's channels are the parameters).
    dx[u] = dxAt(i, rowOf(i, span.channel), span.channel);
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn normBackwardApplyVec4Run(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let span = spanOf(workgroup, workgroups, local);
  let p = span.channel;
  for (var u = span.first; u < span.end; u += params.stride) {
    let i = 4u * (params.base + u);
    let row = i / params.rowLength;
    dx4[u] = vec4f(dxAt(i, row, p), dxAt(i + 1u, row, p), dxAt(i + 2u, row, p), dxAt(i + 3u, row, p));
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn normBackwardApplyVec4Channels(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let span = spanOf(workgroup, workgroups, local);
  let p = 4u * span.channel;
  for (var u = span.first; u < span.end; u += params.stride) {
    let i = 4u * (params.base + u);
    let row = rowOf(i, p);
    dx4[u] = vec4f(dxAt(i, row, p), dxAt(i + 1u, row, p + 1u), dxAt(i + 2u, row, p + 2u), dxAt(i + 3u, row, p + 3u));
  }
}
