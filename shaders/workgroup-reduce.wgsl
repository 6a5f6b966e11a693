// #expects WORKGROUP_SIZE
// The sum of one vec2f per invocation over a workgroup, for kernels that end with a per-workgroup
// total (stats-runs.wgsl, backward-reduce-runs.wgsl). This is the portable version: a tree in
// workgroup memory. workgroup-reduce-subgroups.wgsl defines the same function with subgroup
// operations; shader-sources.ts puts one of the two in front of each such kernel, which declares the
// WORKGROUP_SIZE override (a power of two) both use.

var<workgroup> treeSums: array<vec2f, WORKGROUP_SIZE>;

// Every invocation of the workgroup must call it, in uniform control flow (it has barriers); the
// total is valid in invocation 0. Each value goes through log2(WORKGROUP_SIZE) additions.
fn workgroupSum(local: u32, value: vec2f) -> vec2f {
  treeSums[local] = value;
  workgroupBarrier();
  for (var width = WORKGROUP_SIZE / 2u; width > 0u; width /= 2u) {
    if (local < width) {
      treeSums[local] += treeSums[local + width];
    }
    workgroupBarrier();
  }
  return treeSums[0];
}
