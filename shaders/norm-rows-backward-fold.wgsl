// #import finite grid
// The middle launch of the row-wise backward (norm-rows-backward.wgsl): thread r < rows adds the
// rowThreads lanes' parts of row r's sums (four lanes per step into two running sums: the lanes in
// pairs, a pair into its sum, the rowThreads % 4 lanes left into the first, the sums at last), and stores (A_r/D, B_r/D) at rowSums + 2·r of
// `partials` (a region of its own: parts are read by other threads); the threads after them add
// the parts of dγ and dβ:
// - normRowsBackwardColumnsFold: thread rows + k, column unit k's parts of the rowGroups row groups,
//   in order;
// - normRowsBackwardRunFold: thread rows + c, channel c's parts of its outer samples' rowThreads
//   lanes, the lanes in order, the samples in blocks of SAMPLE_BLOCK (a block's sum, then the running sum).

struct Params {
  rows: u32,
  rowThreads: u32,
  rowGroups: u32,
  rowUnits: u32,
  columnPartials: u32,
  rowSums: u32,        // index of the rows' (A/D, B/D) in `partials`
  rowLength: f32,      // D
  outer: u32,          // Run: samples N
  channels: u32,       // Run: C
  nan: f32,            // a quiet NaN: a sum that is not finite is stored as NaN (finite.wgsl)
}

const SAMPLE_BLOCK: u32 = 16u;

override WORKGROUP_SIZE: u32;
override DGAMMA: bool;
override DBETA: bool;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> partials: array<f32>;
// Placeholders, never written, where DGAMMA or DBETA is false.
@group(0) @binding(2) var<storage, read_write> dgamma4: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> dbeta4: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(3) var<storage, read_write> dbeta: array<f32>;

// Thread t < rows folds row t's sums and returns true; the others return false.
fn foldRow(t: u32) -> bool {
  if (t >= params.rows) {
    return false;
  }
  // Four lanes a step: a software adapter pays for every step's loop control, a quarter of this
  // kernel's time with one lane a step.
  var sums = vec2f(0.0);
  var other = vec2f(0.0);
  let first = 2u * t * params.rowThreads;
  var lane = 0u;
  for (; lane + 4u <= params.rowThreads; lane += 4u) {
    let at = first + 2u * lane;
    sums += vec2f(partials[at], partials[at + 1u]) + vec2f(partials[at + 2u], partials[at + 3u]);
    other += vec2f(partials[at + 4u], partials[at + 5u]) + vec2f(partials[at + 6u], partials[at + 7u]);
  }
  for (; lane < params.rowThreads; lane += 1u) {
    sums += vec2f(partials[first + 2u * lane], partials[first + 2u * lane + 1u]);
  }
  sums += other;
  let stored = finiteOrNaN2(sums / params.rowLength, params.nan);
  partials[params.rowSums + 2u * t] = stored.x;
  partials[params.rowSums + 2u * t + 1u] = stored.y;
  return true;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn normRowsBackwardColumnsFold(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let t = gridThread(workgroup, workgroups, local);
  if (foldRow(t)) {
    return;
  }
  let k = t - params.rows;
  if (k >= params.rowUnits) {
    return;
  }
  var gx = vec4f(0.0);
  var g = vec4f(0.0);
  for (var group = 0u; group < params.rowGroups; group += 1u) {
    let at = params.columnPartials + 8u * (group * params.rowUnits + k);
    gx += vec4f(partials[at], partials[at + 1u], partials[at + 2u], partials[at + 3u]);
    g += vec4f(partials[at + 4u], partials[at + 5u], partials[at + 6u], partials[at + 7u]);
  }
  if (DGAMMA) {
    dgamma4[k] = finiteOrNaN4(gx, params.nan);
  }
  if (DBETA) {
    dbeta4[k] = finiteOrNaN4(g, params.nan);
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn normRowsBackwardRunFold(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let t = gridThread(workgroup, workgroups, local);
  if (foldRow(t)) {
    return;
  }
  let c = t - params.rows;
  if (c >= params.channels) {
    return;
  }
  var total = vec2f(0.0);
  var n = 0u;
  while (n < params.outer) {
    let stop = min(n + SAMPLE_BLOCK, params.outer);
    var block = vec2f(0.0);
    for (; n < stop; n += 1u) {
      let first = params.columnPartials + 2u * (n * params.channels + c) * params.rowThreads;
      var lanes = vec2f(0.0);
      for (var lane = 0u; lane < params.rowThreads; lane += 1u) {
        lanes += vec2f(partials[first + 2u * lane], partials[first + 2u * lane + 1u]);
      }
      block += lanes;
    }
    total += block;
  }
  let stored = finiteOrNaN2(total, params.nan);
  if (DGAMMA) {
    dgamma[c] = stored.x;
  }
  if (DBETA) {
    dbeta[c] = stored.y;
  }
}
