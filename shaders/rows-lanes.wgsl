// #expects params.groups params.laneRows params.rowLanes params.rows WORKGROUP_SIZE
// What the 'Rows' reductions (stats-rows.wgsl, backward-reduce-rows.wgsl) share, put in front of
// each (shader-sources.ts): their Params, the thread index, and the rows of one thread. Thread g
// covers channel group g % groups and lane k = g / groups of K = rowLanes lanes: every K-th row
// from row k (laneRows == 0), or the k-th block of laneRows rows (tuning.blockedRows). It reads the
// kernel's `params` (rows, groups, rowLanes, laneRows).

struct Params {
  rows: u32,       // outer
  groups: u32,     // channel groups: C for the scalar entry point, C / 4 for the vec4 one
  rowLanes: u32,   // K: threads per channel group, each taking every K-th row
  threads: u32,    // groups · K
  skip: u32,       // units bound before the first row (a slab starts at an aligned address; see slabs.ts)
  chunkBase: u32,  // index of this slab's first partial row: slabs of one tensor write after each other
  laneRows: u32,   // 0: lane k takes rows k, k + K, k + 2K, …; else rows [k · laneRows, (k + 1) · laneRows)
}

struct Lane {
  index: u32,
  first: u32,
  step: u32,
  end: u32,
}

fn lanesOf(g: u32) -> Lane {
  let k = g / params.groups;
  if (params.laneRows == 0u) {
    return Lane(k, k, params.rowLanes, params.rows);
  }
  let first = k * params.laneRows;
  return Lane(k, first, 1u, min(first + params.laneRows, params.rows));
}
