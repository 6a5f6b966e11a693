// #import norm-row-walk norm-activation
// The forward output of layer, RMS, group and instance norm, row by row (norm-row-walk.wgsl), for
// rows of vec4 units (D % 4 == 0, and inner == 1 or inner % 4 == 0: the four values of a unit share
// a row), with the arithmetic of norm-apply.wgsl:
//   y = act(γ_p·((x − mean_r)·invStd_r) + β_p (+ z)),  RMS norm (CENTER false): no mean subtracted.
// Entry points:
// - normRowsApplyVec4Columns (inner == 1 and one group: layer and RMS norm, whose γ and β run along
//   the row): a thread holds γ and β of its units — columns lane, lane + rowThreads, … of every row,
//   at most COLUMN_UNITS of them — in registers and walks rows rowGroup, rowGroup + rowGroups, …,
//   loading each row's statistics once: per unit it loads x alone, where loading γ_p and β_p too
//   more than doubles an elementwise kernel's time on a software adapter;
// - normRowsApplyVec4Channels (inner == 1, any groups: a unit's lanes are four consecutive
//   parameters, γ and β loaded per unit);
// - normRowsApplyVec4Run (inner % 4 == 0: a unit's four values share a parameter): a row is its
//   group's channels one after the other, so the threads of a row take the channels in turn, γ and
//   β loaded once per channel, the run's units split among them.

// Units of a row a Columns thread holds (γ and β in registers): rows of up to
// COLUMN_UNITS · rowThreads units take that entry point.
const COLUMN_UNITS: u32 = 4u;

struct Params {
  rows: u32,
  rowThreads: u32,     // threads per row (norm-row-walk.wgsl)
  rowGroups: u32,      // Columns: threads per column set, each walking every rowGroups-th row
  rowUnits: u32,       // D / 4
  inner: u32,          // units per parameter (Run: inner / 4)
  groups: u32,         // G: row r's parameters start at (r mod G) · groupParams
  groupParams: u32,    // params / G, in units of γ's binding (vec4s for Channels)
  meanOffset: u32,     // index of mean[0] in rowStats
  invStdOffset: u32,   // index of invStd[0] in rowStats
}

override WORKGROUP_SIZE: u32;
override RESIDUAL: bool;
// false for RMS norm, which subtracts no mean (its rowStats' mean block is then never read).
override CENTER: bool;
override RELU: bool;
override GELU: bool;
override GELU_TANH: bool;
override SILU: bool;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x4: array<vec4f>;
@group(0) @binding(2) var<storage, read> rowStats: array<f32>;
@group(0) @binding(3) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> gamma4: array<vec4f>;
@group(0) @binding(4) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read> beta4: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> y4: array<vec4f>;
// The residual z, read only when RESIDUAL is set (without it x is bound here).
@group(0) @binding(6) var<storage, read> z4: array<vec4f>;

struct RowNorm {
  mean: f32,
  invStd: f32,
  base: u32,          // the row's first unit
  firstParam: u32,    // its first parameter, in units of γ's binding
}

fn rowNormOf(row: u32) -> RowNorm {
  let mean = select(0.0, rowStats[params.meanOffset + row], CENTER);
  return RowNorm(mean, rowStats[params.invStdOffset + row], row * params.rowUnits, (row % params.groups) * params.groupParams);
}

fn output(a0: vec4f, k: u32, r: RowNorm) {
  var a = a0;
  if (RESIDUAL) {
    a += z4[r.base + k];
  }
  y4[r.base + k] = vec4f(normActivate(a.x), normActivate(a.y), normActivate(a.z), normActivate(a.w));
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn normRowsApplyVec4Channels(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let t = rowLaneOf(workgroup, workgroups, local, params.rows);
  if (!t.live) {
    return;
  }
  let r = rowNormOf(t.row);
  for (var k = t.lane; k < params.rowUnits; k += params.rowThreads) {
    let p = r.firstParam + k;
    output(gamma4[p] * ((x4[r.base + k] - r.mean) * r.invStd) + beta4[p], k, r);
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn normRowsApplyVec4Run(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let t = rowLaneOf(workgroup, workgroups, local, params.rows);
  if (!t.live) {
    return;
  }
  let r = rowNormOf(t.row);
  let channels = params.rowUnits / params.inner;
  for (var c = 0u; c < channels; c += 1u) {
    let g = gamma[r.firstParam + c];
    let b = beta[r.firstParam + c];
    let end = (c + 1u) * params.inner;
    for (var k = c * params.inner + t.lane; k < end; k += params.rowThreads) {
      output(g * ((x4[r.base + k] - r.mean) * r.invStd) + b, k, r);
    }
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn normRowsApplyVec4Columns(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let t = rowLaneOf(workgroup, workgroups, local, params.rowGroups);
  if (!t.live) {
    return;
  }
  let lane = t.lane;
  // Four units per thread, in registers (a function-scope array indexed in a loop may live in
  // memory on a software adapter, which is what this entry point avoids).
  let k0 = lane;
  let k1 = lane + params.rowThreads;
  let k2 = lane + 2u * params.rowThreads;
  let k3 = lane + 3u * params.rowThreads;
  let last = params.rowUnits - 1u;
  let g0 = gamma4[min(k0, last)];
  let g1 = gamma4[min(k1, last)];
  let g2 = gamma4[min(k2, last)];
  let g3 = gamma4[min(k3, last)];
  let b0 = beta4[min(k0, last)];
  let b1 = beta4[min(k1, last)];
  let b2 = beta4[min(k2, last)];
  let b3 = beta4[min(k3, last)];
  for (var row = t.row; row < params.rows; row += params.rowGroups) {
    let r = rowNormOf(row);
    if (unitInRow(0u, k0)) { output(g0 * ((x4[r.base + k0] - r.mean) * r.invStd) + b0, k0, r); }
    if (unitInRow(1u, k1)) { output(g1 * ((x4[r.base + k1] - r.mean) * r.invStd) + b1, k1, r); }
    if (unitInRow(2u, k2)) { output(g2 * ((x4[r.base + k2] - r.mean) * r.invStd) + b2, k2, r); }
    if (unitInRow(3u, k3)) { output(g3 * ((x4[r.base + k3] - r.mean) * r.invStd) + b3, k3, r); }
  }
}
