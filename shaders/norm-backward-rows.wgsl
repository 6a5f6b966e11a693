// #import norm-gradient workgroup-sum
// The row sums of the norm backward, a workgroup per row (the grid folded into two dimensions past
// 65 535 rows): A_r = Σ h, B_r = Σ h·x̂ with h = g·γ_p (norm-gradient.wgsl), which dx needs
// (norm-backward-apply.wgsl). Each thread adds every WORKGROUP_SIZE-th value of the row, then the
// workgroup sums the threads' pairs. The same walk writes dz = g (DZ), so no other kernel recomputes
// g for it.

struct Params {
  rowLength: u32,
  inner: u32,
  params: u32,
  meanOffset: u32,
  invStdOffset: u32,
  rows: u32,
}

override WORKGROUP_SIZE: u32;
override CENTER: bool;
override RESIDUAL: bool;
override RELU: bool;
override GELU: bool;
override GELU_TANH: bool;
override SILU: bool;
override DZ: bool;

@group(0) @binding(0) var<uniform> params: Params;
// Bindings 1–6: norm-gradient.wgsl.
@group(0) @binding(7) var<storage, read_write> rowSums: array<vec2f>;
// The residual's gradient when DZ is set (a placeholder otherwise, never written).
@group(0) @binding(8) var<storage, read_write> dz: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn normBackwardRows(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let row = workgroup.x + workgroup.y * workgroups.x;
  var sums = vec2f(0.0);
  if (row < params.rows) {
    let first = row * params.rowLength;
    for (var j = local; j < params.rowLength; j += WORKGROUP_SIZE) {
      let q = normGradient(first + j);
      let h = q.g * q.gamma;
      sums += vec2f(h, h * q.xhat);
      if (DZ) {
        dz[first + j] = q.g;
      }
    }
  }
  let total = workgroupSum(local, sums);
  if (local == 0u && row < params.rows) {
    rowSums[row] = total;
  }
}
