enable subgroups;
// #expects WORKGROUP_SIZE

// workgroupSum of workgroup-reduce.wgsl made of subgroup operations, for devices with the
// `subgroups` feature: each subgroup adds its values in registers (subgroupAdd), then a single
// barrier publishes one total per subgroup, instead of log2(WORKGROUP_SIZE) barriers, which are
// dear on software adapters (docs/benchmark.md, "Measurements behind the launch shapes").
//
// Which invocations share a subgroup is up to the implementation: subgroups are 4 to 128
// invocations wide, may be partly inactive, and WGSL relates neither them nor subgroup_invocation_id
// to local_invocation_index (a dense subgroup index, subgroup_id, is a later language extension,
// and slots taken with an atomic counter would make the order of the additions vary from run to
// run). So the array has one slot per invocation, not per subgroup: each subgroup's total goes to
// the slot of the invocation subgroupElect() picks, which belongs to that subgroup alone, and every
// other slot holds 0. No subgroup layout is assumed, and results repeat bit for bit.

var<workgroup> subgroupTotals: array<vec2f, WORKGROUP_SIZE>;

// Every invocation of the workgroup must call it, in uniform control flow (subgroup operations and a
// barrier); the total is valid in invocation 0 only. Each value goes through at most (invocations
// in its subgroup − 1) additions in subgroupAdd, whose order the implementation chooses, then
// log2(WORKGROUP_SIZE) in invocation 0's pairwise sum of the slots (adding a 0 is exact).
fn workgroupSum(local: u32, value: vec2f) -> vec2f {
  let subgroupTotal = subgroupAdd(value);
  subgroupTotals[local] = select(vec2f(0.0), subgroupTotal, subgroupElect());
  workgroupBarrier();
  if (local != 0u) {
    return vec2f(0.0);
  }
  // Pairwise, in place, by this invocation alone (no more barriers): the additions of one level are
  // independent, so a GPU overlaps them, and the chain stays log2(WORKGROUP_SIZE) wherever the
  // non-zero slots are.
  for (var width = WORKGROUP_SIZE / 2u; width > 0u; width /= 2u) {
    for (var i = 0u; i < width; i += 1u) {
      subgroupTotals[i] += subgroupTotals[i + width];
    }
  }
  return subgroupTotals[0];
}
