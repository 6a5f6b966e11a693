// The middle launch of the row-wise backward (norm-rows-backward.wgsl): thread r < rows adds the
// rowThreads lanes' parts of row r's sums, in order, and stores (A_r/D, B_r/D) at rowSums + 2·r of
// `partials` (a region of its own: parts are read by other threads); thread rows + k adds the
// rowGroups row groups' parts of column unit k's dγ and dβ, in order, and stores them.

struct Params {
  rows: u32,
  rowThreads: u32,
  rowGroups: u32,
  rowUnits: u32,
  columnPartials: u32,
  rowSums: u32,        // index of the rows' (A/D, B/D) in `partials`
  rowLength: f32,      // D
}

override WORKGROUP_SIZE: u32;
override DGAMMA: bool;
override DBETA: bool;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> partials: array<f32>;
// Placeholders, never written, where DGAMMA or DBETA is false.
@group(0) @binding(2) var<storage, read_write> dgamma4: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> dbeta4: array<vec4f>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn normRowsBackwardFold(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let t = (workgroup.x + workgroup.y * workgroups.x) * WORKGROUP_SIZE + local;
  if (t < params.rows) {
    var sums = vec2f(0.0);
    let first = 2u * t * params.rowThreads;
    for (var lane = 0u; lane < params.rowThreads; lane += 1u) {
      sums += vec2f(partials[first + 2u * lane], partials[first + 2u * lane + 1u]);
    }
    partials[params.rowSums + 2u * t] = sums.x / params.rowLength;
    partials[params.rowSums + 2u * t + 1u] = sums.y / params.rowLength;
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
    dgamma4[k] = gx;
  }
  if (DBETA) {
    dbeta4[k] = g;
  }
}
