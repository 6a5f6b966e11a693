// #import elementwise-span norm-gradient
// dx of the norm backward, elementwise (the walk of apply.wgsl, elementwise-span.wgsl):
//   dx = invStd_r·(h − A_r/D − x̂·B_r/D)   (RMS norm, CENTER false: without the A_r/D term),
// h = g·γ_p (norm-gradient.wgsl), A_r and B_r from norm-backward-rows.wgsl.

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
}

override WORKGROUP_SIZE: u32;
override RUNS: bool;
override CENTER: bool;
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

@compute @workgroup_size(WORKGROUP_SIZE)
fn normBackwardApply(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let span = spanOf(workgroup, workgroups, local);
  for (var u = span.first; u < span.end; u += params.stride) {
    let i = params.base + u;
    let row = i / params.rowLength;
    let sums = rowSums[row];
    // span.channel: the thread's parameter (the walk's channels are the parameters).
    let q = normGradient(i, row, span.channel);
    var centered = q.g * q.gamma - q.xhat * sums.y;
    if (CENTER) {
      centered -= sums.x;
    }
    dx[u] = q.invStd * centered;
  }
}
