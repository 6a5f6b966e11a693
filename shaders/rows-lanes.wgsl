// #expects params.groups params.laneRows params.rowLanes params.rows
// The rows of one thread of the 'Rows' reductions (stats-rows.wgsl, backward-reduce-rows.wgsl), put
// in front of each (shader-sources.ts). Thread g covers channel group g % groups and lane
// k = g / groups of K = rowLanes lanes: every K-th row from row k (laneRows == 0), or the k-th
// block of laneRows rows (tuning.blockedRows). It reads the kernel's `params` (rows, groups,
// rowLanes, laneRows).
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
