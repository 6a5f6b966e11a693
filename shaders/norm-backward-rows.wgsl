// #import norm-gradient workgroup-sum finite grid
// The row sums of the norm backward: A_r = Σ h, B_r = Σ h·x̂ with h = g·γ_p (norm-gradient.wgsl),
// which dx needs (norm-backward-apply.wgsl), stored divided by D (once per row, not per element). Two entry points (grids folded past 65 535 workgroups):
// - normBackwardRows: a workgroup per row; each thread adds every WORKGROUP_SIZE-th value of the
//   row, then the workgroup sums the threads' pairs (GPUs);
// - normBackwardRowsSerial: a thread per row adding it in blocks of 16 (a block's sum, then the
//   running sum: no chain longer than 16 + D / 16), without barriers, which software adapters pay
//   dearly for (tuning.runSegments, as the statistics kernels choose). The same walk writes dz = g (DZ), so no other kernel recomputes
// g for it.

struct Params {
  rowLength: u32,
  inner: u32,
  params: u32,
  meanOffset: u32,
  invStdOffset: u32,
  rows: u32,
  groups: u32,
  rowLengthValue: f32,   // D as a float (exact below 2^24)
  nan: f32,              // a quiet NaN: a row sum that is not finite is stored as NaN
}

override WORKGROUP_SIZE: u32;
override CENTER: bool;
// Group and instance norm on channels-last x: a row is spatial blocks of C / G values, C apart.
override CHANNELS_LAST: bool;
override RESIDUAL: bool;
override RELU: bool;
override GELU: bool;
override GELU_TANH: bool;
override SILU: bool;
override DZ: bool;

@group(0) @binding(0) var<uniform> params: Params;
// Bindings 1–6: norm-gradient.wgsl.
// (A_r / D, B_r / D) per row.
@group(0) @binding(7) var<storage, read_write> rowSums: array<vec2f>;
// The residual's gradient when DZ is set (a placeholder otherwise, never written).
@group(0) @binding(8) var<storage, read_write> dz: array<f32>;

// Element j of the row whose first element is `first`: its index and parameter.
fn rowElement(first: u32, firstParam: u32, j: u32) -> vec2u {
  if (CHANNELS_LAST) {
    let perGroup = params.params / params.groups;
    let k = j % perGroup;
    return vec2u(first + (j / perGroup) * params.params + k, firstParam + k);
  }
  return vec2u(first + j, firstParam + j / params.inner);
}

// Element j of `row`: its h and h·x̂, and dz = g when DZ is set.
fn rowTerms(row: u32, first: u32, firstParam: u32, j: u32) -> vec2f {
  let e = rowElement(first, firstParam, j);
  let q = normGradient(e.x, row, e.y);
  let h = q.g * q.gamma;
  if (DZ) {
    dz[e.x] = q.g;
  }
  return vec2f(h, h * q.xhat);
}

// The row's first parameter: its group's.
fn firstParamOf(row: u32) -> u32 {
  return (row % params.groups) * (params.params / params.groups);
}

// The row's first element.
fn firstOf(row: u32) -> u32 {
  if (CHANNELS_LAST) {
    return (row / params.groups) * params.params * params.inner + firstParamOf(row);
  }
  return row * params.rowLength;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn normBackwardRows(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let row = gridWorkgroup(workgroup, workgroups);
  var sums = vec2f(0.0);
  if (row < params.rows) {
    let first = firstOf(row);
    let firstParam = firstParamOf(row);
    for (var j = local; j < params.rowLength; j += WORKGROUP_SIZE) {
      sums += rowTerms(row, first, firstParam, j);
    }
  }
  let total = workgroupSum(local, sums);
  if (local == 0u && row < params.rows) {
    rowSums[row] = finiteOrNaN2(total / params.rowLengthValue, params.nan);
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn normBackwardRowsSerial(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let row = gridThread(workgroup, workgroups, local);
  if (row >= params.rows) {
    return;
  }
  let first = firstOf(row);
  let firstParam = firstParamOf(row);
  var total = vec2f(0.0);
  for (var start = 0u; start < params.rowLength; start += 16u) {
    var block = vec2f(0.0);
    for (var j = start; j < min(start + 16u, params.rowLength); j += 1u) {
      block += rowTerms(row, first, firstParam, j);
    }
    total += block;
  }
  rowSums[row] = finiteOrNaN2(total / params.rowLengthValue, params.nan);
}
