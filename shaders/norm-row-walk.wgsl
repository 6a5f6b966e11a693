// #import grid
// #expects WORKGROUP_SIZE params.rowThreads params.rowUnits
// The walk of the row-wise elementwise kernels of the norm family (norm-rows-apply.wgsl,
// norm-rows-backward.wgsl), for rows of D contiguous values taken as vec4 units (D % 4 == 0):
// `rowThreads` threads per row (a power of two), thread `lane` of a row taking units lane,
// lane + rowThreads, … of it. Neighbouring threads read neighbouring units, and a thread loads its
// row's statistics once, where the tensor-wide walk of elementwise-span.wgsl looks them up per
// unit (an integer division and two loads per unit, which a software adapter pays for in full).
// The Columns kernels number their threads the same way, with a row group (a thread walking every
// rowGroups-th row) in the place of a row.

struct RowLane {
  // The row, or the Columns kernels' row group.
  row: u32,
  lane: u32,
  // Whether the thread has work: row < count (none past the last row or row group).
  live: bool,
}

// Thread `lane` of row (or row group) `row`, of `count`. Grids above
// maxComputeWorkgroupsPerDimension are folded into two dimensions (slabs.ts).
fn rowLaneOf(workgroup: vec3u, workgroups: vec3u, local: u32, count: u32) -> RowLane {
  let t = gridThread(workgroup, workgroups, local);
  let row = t / params.rowThreads;
  return RowLane(row, t % params.rowThreads, row < count);
}

// How many of a Columns kernel thread's four units (lane + j·rowThreads, j < 4) lie in the row
// whatever the lane: min(4, ⌊rowUnits / rowThreads⌋) (norm-rows.ts, unitsInRow), 4 when D is a
// multiple of 16 and at least 64. Units j below it skip their bounds test: on a software adapter the
// test masks every load and store of the unit, a quarter of those kernels' time. 0 (the default) in
// every other launch.
override UNITS_IN_ROW: u32 = 0u;

fn unitInRow(j: u32, k: u32) -> bool {
  return j < UNITS_IN_ROW || k < params.rowUnits;
}
