// #expects WORKGROUP_SIZE
// Where a workgroup, and a thread, sit in a dispatch. Grids of more than
// maxComputeWorkgroupsPerDimension workgroups are folded into two dimensions (foldWorkgroups,
// slabs.ts): workgroup (x, y) is the (x + y · workgroups.x)-th. Every kernel indexes its grid
// through these.

fn gridWorkgroup(workgroup: vec3u, workgroups: vec3u) -> u32 {
  return workgroup.x + workgroup.y * workgroups.x;
}

fn gridThread(workgroup: vec3u, workgroups: vec3u, local: u32) -> u32 {
  return gridWorkgroup(workgroup, workgroups) * WORKGROUP_SIZE + local;
}
