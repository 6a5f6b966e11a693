// #expects WORKGROUP_SIZE params.rows params.rowThreads params.rowUnits
// The walk of the row-wise elementwise kernels of the norm family (norm-rows-apply.wgsl,
// norm-rows-backward.wgsl), for rows of D contiguous values taken as vec4 units (D % 4 == 0):
// `rowThreads` threads per row (a power of two), thread `lane` of a row taking units lane,
// lane + rowThreads, … of it. Neighbouring threads read neighbouring units, and a thread loads its
// row's statistics once, where the tensor-wide walk of elementwise-span.wgsl looks them up per
// unit (an integer division and two loads per unit, which a software adapter pays for in full).

struct RowLane {
  row: u32,
  lane: u32,
  // Units of the row: lane, lane + rowThreads, … < rowUnits; none for a thread past the last row.
  live: bool,
}

// Grids above maxComputeWorkgroupsPerDimension are folded into two dimensions (slabs.ts).
fn rowLaneOf(workgroup: vec3u, workgroups: vec3u, local: u32) -> RowLane {
  let t = (workgroup.x + workgroup.y * workgroups.x) * WORKGROUP_SIZE + local;
  let row = t / params.rowThreads;
  return RowLane(row, t % params.rowThreads, row < params.rows);
}
