// #import norm-gradient4 finite norm-row-walk
// The norm backward for rows of vec4 units, in three launches that read x and dy twice in all (the
// floor's 20 bytes per element). Two shapes of rows:
// - Columns (layer and RMS norm: inner == 1, one group, D % 4 == 0): γ and β run along the row; each
//   thread holds its units' γ and β in registers as normRowsApplyVec4Columns does
//   (norm-rows-apply.wgsl: columns lane + j·rowThreads, j < 4, of rows rowGroup, rowGroup +
//   rowGroups, …); the column parts are per (rowGroup, column);
// - Run (group and instance norm, inner % 4 == 0): a row is its group's channels one after the
//   other, each a run of `inner` units; rowThreads threads per row take the channels in turn, the
//   run's units split among them, γ and β loaded once per channel (norm-row-walk.wgsl); the
//   channel parts are per (sample, channel, lane).
// The launches:
// 1. normRowsBackward{Columns,Run}Sums: per (row, lane) the lane's part of A_r = Σ h and
//    B_r = Σ h·x̂ (h = g·γ), and its parts of dγ = Σ g·x̂ and dβ = Σ g, into `partials`; dz = g
//    where the residual's gradient is asked for (DZ);
// 2. normRowsBackward{Columns,Run}Fold (norm-rows-backward-fold.wgsl): the lanes' parts of each
//    row's sums (stored as A_r/D, B_r/D) and the parts of dγ, dβ;
// 3. normRowsBackward{Columns,Run}Apply: dx = invStd_r·(h − A_r/D − x̂·B_r/D) (RMS norm: no A
//    term), as norm-backward-apply.wgsl computes it.
//
// Chains of additions (norm-rows.ts states them for the tests' tolerances): a unit's four lanes (3);
// Columns: a lane's part of a row adds its ≤ 4 units in order, a thread's column sums add its rows
// in blocks of ROW_BLOCK (a block's sum, then the running sum), the fold adds a row's parts four a
// step (norm-rows-backward-fold.wgsl) and a column's in order; Run: a lane adds its units of a run
// in order, a row's part adds the runs' in order, the fold adds a row's lanes four a step and a
// channel's samples in blocks of SAMPLE_BLOCK.

// Rows of a thread's column sums per block (see above).
const ROW_BLOCK: u32 = 16u;

struct Params {
  rows: u32,
  rowThreads: u32,
  rowGroups: u32,
  rowUnits: u32,       // D / 4
  meanOffset: u32,
  invStdOffset: u32,
  columnPartials: u32, // index (in float32s) of the column parts in `partials`, after rows · rowThreads pairs
  rowSums: u32,        // index of the fold's (A/D, B/D) per row, after the column parts
  inner: u32,          // Run: units per channel run
  groups: u32,         // Run: G; row r = (n, g) holds channels g·groupParams … (g + 1)·groupParams − 1
  groupParams: u32,    // Run: channels per group
  nan: f32,            // a quiet NaN (unitDx)
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
// Bindings 1–6: norm-gradient4.wgsl.
// Sums: (A part, B part) of (row, lane) at 2·(row·rowThreads + lane); then (Σ g·x̂ [4], Σ g [4]) of
// (rowGroup, unit k) at columnPartials + 8·(rowGroup·rowUnits + k). Apply: the fold's (A/D, B/D)
// per row at rowSums + 2·row.
@group(0) @binding(7) var<storage, read_write> partials: array<f32>;
// Sums: dz (a placeholder unless DZ); Apply: dx.
@group(0) @binding(8) var<storage, read_write> dz4: array<vec4f>;
@group(0) @binding(8) var<storage, read_write> dx4: array<vec4f>;
// Run: γ and β per channel (the same bindings as norm-gradient4.wgsl's vec4 views).
@group(0) @binding(4) var<storage, read> gamma: array<f32>;
@group(0) @binding(5) var<storage, read> beta: array<f32>;

// The unit's column k, clamped to the row (a thread past the row's end loads the last unit's
// parameters and never uses them).
fn clampedColumn(k: u32) -> u32 {
  return min(k, params.rowUnits - 1u);
}

struct RowPart {
  h: f32,
  hx: f32,
}

// One unit's contribution: its row part, its column sums (into gx, gs), dz.
struct UnitSums {
  row: vec2f,
  gx: vec4f,
  g: vec4f,
}

fn unitSums(base: u32, k: u32, mean: f32, invStd: f32, gamma: vec4f, beta: vec4f) -> UnitSums {
  let q = gradient4(base + k, mean, invStd, gamma, beta);
  if (DZ) {
    dz4[base + k] = q.g;
  }
  let h = q.g * gamma;
  let ones = vec4f(1.0);
  return UnitSums(vec2f(dot(h, ones), dot(h, q.xhat)), q.g * q.xhat, q.g);
}

const NO_SUMS = UnitSums(vec2f(0.0), vec4f(0.0), vec4f(0.0));

fn rowStatistics(row: u32) -> vec2f {
  return vec2f(select(0.0, rowStats[params.meanOffset + row], CENTER), rowStats[params.invStdOffset + row]);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn normRowsBackwardColumnsSums(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let t = rowLaneOf(workgroup, workgroups, local, params.rowGroups);
  if (!t.live) {
    return;
  }
  // Four units per thread with their γ and β in registers (a function-scope array indexed in a
  // loop may live in memory on a software adapter).
  let k0 = t.lane;
  let k1 = t.lane + params.rowThreads;
  let k2 = t.lane + 2u * params.rowThreads;
  let k3 = t.lane + 3u * params.rowThreads;
  let g0 = gamma4[clampedColumn(k0)];
  let g1 = gamma4[clampedColumn(k1)];
  let g2 = gamma4[clampedColumn(k2)];
  let g3 = gamma4[clampedColumn(k3)];
  let b0 = beta4[clampedColumn(k0)];
  let b1 = beta4[clampedColumn(k1)];
  let b2 = beta4[clampedColumn(k2)];
  let b3 = beta4[clampedColumn(k3)];
  var gx0 = vec4f(0.0);
  var gx1 = vec4f(0.0);
  var gx2 = vec4f(0.0);
  var gx3 = vec4f(0.0);
  var gs0 = vec4f(0.0);
  var gs1 = vec4f(0.0);
  var gs2 = vec4f(0.0);
  var gs3 = vec4f(0.0);
  let step = params.rowGroups;
  var row = t.row;
  while (row < params.rows) {
    let stop = min(row + ROW_BLOCK * step, params.rows);
    var px0 = vec4f(0.0);
    var px1 = vec4f(0.0);
    var px2 = vec4f(0.0);
    var px3 = vec4f(0.0);
    var ps0 = vec4f(0.0);
    var ps1 = vec4f(0.0);
    var ps2 = vec4f(0.0);
    var ps3 = vec4f(0.0);
    for (; row < stop; row += step) {
      let s = rowStatistics(row);
      let base = row * params.rowUnits;
      var u0 = NO_SUMS;
      var u1 = NO_SUMS;
      var u2 = NO_SUMS;
      var u3 = NO_SUMS;
      if (unitInRow(0u, k0)) { u0 = unitSums(base, k0, s.x, s.y, g0, b0); }
      if (unitInRow(1u, k1)) { u1 = unitSums(base, k1, s.x, s.y, g1, b1); }
      if (unitInRow(2u, k2)) { u2 = unitSums(base, k2, s.x, s.y, g2, b2); }
      if (unitInRow(3u, k3)) { u3 = unitSums(base, k3, s.x, s.y, g3, b3); }
      let part = ((u0.row + u1.row) + u2.row) + u3.row;
      let at = 2u * (row * params.rowThreads + t.lane);
      partials[at] = part.x;
      partials[at + 1u] = part.y;
      px0 += u0.gx;
      px1 += u1.gx;
      px2 += u2.gx;
      px3 += u3.gx;
      ps0 += u0.g;
      ps1 += u1.g;
      ps2 += u2.g;
      ps3 += u3.g;
    }
    gx0 += px0;
    gx1 += px1;
    gx2 += px2;
    gx3 += px3;
    gs0 += ps0;
    gs1 += ps1;
    gs2 += ps2;
    gs3 += ps3;
  }
  storeColumn(t.row, k0, gx0, gs0);
  storeColumn(t.row, k1, gx1, gs1);
  storeColumn(t.row, k2, gx2, gs2);
  storeColumn(t.row, k3, gx3, gs3);
}

fn storeColumn(rowGroup: u32, k: u32, gx: vec4f, g: vec4f) {
  if (k >= params.rowUnits) {
    return;
  }
  let at = params.columnPartials + 8u * (rowGroup * params.rowUnits + k);
  for (var lane = 0u; lane < 4u; lane += 1u) {
    partials[at + lane] = gx[lane];
    partials[at + 4u + lane] = g[lane];
  }
}

// dx of unit k; `finite`: the row's sums are finite (else its dx is NaN, decided on the bits by
// finiteSums rather than through arithmetic on NaN, which WGSL does not promise).
fn unitDx(base: u32, k: u32, mean: f32, invStd: f32, sums: vec2f, finite: bool, gamma: vec4f, beta: vec4f) {
  let q = gradient4(base + k, mean, invStd, gamma, beta);
  var centered = q.g * gamma - q.xhat * sums.y;
  if (CENTER) {
    centered -= sums.x;
  }
  dx4[base + k] = select(vec4f(params.nan), invStd * centered, finite);
}

// The fold's (A/D, B/D) of a row, and whether they are finite (the fold stores a sum that is not as NaN).
fn finiteSums(sums: vec2f) -> bool {
  return isFinite(sums.y) && (!CENTER || isFinite(sums.x));
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn normRowsBackwardColumnsApply(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let t = rowLaneOf(workgroup, workgroups, local, params.rowGroups);
  if (!t.live) {
    return;
  }
  let k0 = t.lane;
  let k1 = t.lane + params.rowThreads;
  let k2 = t.lane + 2u * params.rowThreads;
  let k3 = t.lane + 3u * params.rowThreads;
  let g0 = gamma4[clampedColumn(k0)];
  let g1 = gamma4[clampedColumn(k1)];
  let g2 = gamma4[clampedColumn(k2)];
  let g3 = gamma4[clampedColumn(k3)];
  let b0 = beta4[clampedColumn(k0)];
  let b1 = beta4[clampedColumn(k1)];
  let b2 = beta4[clampedColumn(k2)];
  let b3 = beta4[clampedColumn(k3)];
  for (var row = t.row; row < params.rows; row += params.rowGroups) {
    let s = rowStatistics(row);
    let sums = vec2f(partials[params.rowSums + 2u * row], partials[params.rowSums + 2u * row + 1u]);
    let finite = finiteSums(sums);
    let base = row * params.rowUnits;
    if (unitInRow(0u, k0)) { unitDx(base, k0, s.x, s.y, sums, finite, g0, b0); }
    if (unitInRow(1u, k1)) { unitDx(base, k1, s.x, s.y, sums, finite, g1, b1); }
    if (unitInRow(2u, k2)) { unitDx(base, k2, s.x, s.y, sums, finite, g2, b2); }
    if (unitInRow(3u, k3)) { unitDx(base, k3, s.x, s.y, sums, finite, g3, b3); }
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn normRowsBackwardRunSums(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let t = rowLaneOf(workgroup, workgroups, local, params.rows);
  if (!t.live) {
    return;
  }
  let s = rowStatistics(t.row);
  let base = t.row * params.rowUnits;
  let firstChannel = (t.row % params.groups) * params.groupParams;
  // The row's sample: its channels' parts go to (n, c, lane).
  let n = t.row / params.groups;
  let channels = params.groups * params.groupParams;
  var row = vec2f(0.0);
  for (var j = 0u; j < params.groupParams; j += 1u) {
    let c = firstChannel + j;
    let g = vec4f(gamma[c]);
    let b = vec4f(beta[c]);
    var run = vec2f(0.0);
    var gx = vec4f(0.0);
    var gs = vec4f(0.0);
    let end = (j + 1u) * params.inner;
    for (var k = j * params.inner + t.lane; k < end; k += params.rowThreads) {
      let u = unitSums(base, k, s.x, s.y, g, b);
      run += u.row;
      gx += u.gx;
      gs += u.g;
    }
    row += run;
    let at = params.columnPartials + 2u * ((n * channels + c) * params.rowThreads + t.lane);
    partials[at] = (gx.x + gx.y) + (gx.z + gx.w);
    partials[at + 1u] = (gs.x + gs.y) + (gs.z + gs.w);
  }
  let at = 2u * (t.row * params.rowThreads + t.lane);
  partials[at] = row.x;
  partials[at + 1u] = row.y;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn normRowsBackwardRunApply(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let t = rowLaneOf(workgroup, workgroups, local, params.rows);
  if (!t.live) {
    return;
  }
  let s = rowStatistics(t.row);
  let sums = vec2f(partials[params.rowSums + 2u * t.row], partials[params.rowSums + 2u * t.row + 1u]);
  let finite = finiteSums(sums);
  let base = t.row * params.rowUnits;
  let firstChannel = (t.row % params.groups) * params.groupParams;
  for (var j = 0u; j < params.groupParams; j += 1u) {
    let c = firstChannel + j;
    let g = vec4f(gamma[c]);
    let b = vec4f(beta[c]);
    let end = (j + 1u) * params.inner;
    for (var k = j * params.inner + t.lane; k < end; k += params.rowThreads) {
      unitDx(base, k, s.x, s.y, sums, finite, g, b);
    }
  }
}
