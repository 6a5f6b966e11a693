// The benchmark's floor: a plain vec4 copy, dst = src, 8 bytes of traffic per float32 element.
// Every batch-norm op is memory-bound, so the time this kernel takes to move one tensor's worth of
// data on a device, at a size, is what the ops are measured against (docs/benchmark.md: floorMs =
// op bytes / copy bandwidth). It must stay the simplest fast copy there is: if the floor were slow,
// every ratio to it would look better than it is.
//
// Workgroup w copies units [w·B, (w+1)·B) with B = WORKGROUP_SIZE · UNITS_PER_THREAD, each thread
// every WORKGROUP_SIZE-th unit, so a workgroup's accesses at each step are contiguous (the same
// access pattern as the apply kernel). Grids larger than maxComputeWorkgroupsPerDimension are
// folded into two dimensions; the workgroup index is x + y · numWorkgroups.x.
//
// `copySegments` walks the same units the other way round: each thread copies its own contiguous
// UNITS_PER_THREAD units, four per step. A CPU adapter runs a workgroup's invocations as SIMD lanes
// of one core, and there contiguous runs per lane with the loop unrolled copy faster than the
// strided walk (which suits a GPU's coalescing); the floor takes whichever walk is faster.
//
// `readVec4` is the read-only counterpart used to analyse the statistics kernels: it reads the same
// units and writes one vec4 per thread (the running sum, so the loads cannot be optimised away),
// i.e. 4 bytes per element plus a negligible 16 bytes per thread.

struct Params {
  units: u32, // vec4s to copy (the benchmark sizes are multiples of 4 elements)
}

override WORKGROUP_SIZE: u32 = 64;
override UNITS_PER_THREAD: u32 = 4;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec4f>;

fn firstUnit(workgroup: vec3u, workgroups: vec3u, local: u32) -> u32 {
  let w = workgroup.x + workgroup.y * workgroups.x;
  return w * WORKGROUP_SIZE * UNITS_PER_THREAD + local;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn copyVec4(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  var unit = firstUnit(workgroup, workgroups, local);
  for (var n = 0u; n < UNITS_PER_THREAD && unit < params.units; n += 1u) {
    dst[unit] = src[unit];
    unit += WORKGROUP_SIZE;
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn readVec4(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let first = firstUnit(workgroup, workgroups, local);
  var unit = first;
  var sum = vec4f(0.0);
  for (var n = 0u; n < UNITS_PER_THREAD && unit < params.units; n += 1u) {
    sum += src[unit];
    unit += WORKGROUP_SIZE;
  }
  // One vec4 per thread, at the thread's global index: dst holds units / UNITS_PER_THREAD vec4s.
  let thread = (first - local) / UNITS_PER_THREAD + local;
  if (first < params.units) {
    dst[thread] = sum;
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn copySegments(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let first = (firstUnit(workgroup, workgroups, 0u) / UNITS_PER_THREAD + local) * UNITS_PER_THREAD;
  let end = min(first + UNITS_PER_THREAD, params.units);
  var unit = first;
  for (; unit + 4u <= end; unit += 4u) {
    dst[unit] = src[unit];
    dst[unit + 1u] = src[unit + 1u];
    dst[unit + 2u] = src[unit + 2u];
    dst[unit + 3u] = src[unit + 3u];
  }
  for (; unit < end; unit += 1u) {
    dst[unit] = src[unit];
  }
}
