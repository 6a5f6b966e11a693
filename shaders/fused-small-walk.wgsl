// #import workgroup-sum
// #expects params.innerUnits params.groups params.units WORKGROUP_SIZE UNITS
// What a thread of the fused small-tensor kernels (fused-small-forward.wgsl,
// fused-small-backward.wgsl) holds, and the workgroup totals they share; shader-sources.ts puts it
// in front of each, after a workgroupSum helper (workgroup-reduce*.wgsl).
//
// A workgroup serves one channel, or one group of four channels, whole:
// - Runs (inner > 1: NCL, NCHW, NCDHW): group = channel c; unit m of the channel (a value, or a
//   vec4 of four values of one run when inner % 4 == 0) is m = o · inner' + i ↦ address
//   (o · C + c) · inner' + i;
// - Rows (inner == 1: NC, NLC, NHWC, NDHWC): group = channel group g (a channel, or four
//   consecutive channels as one vec4 when C % 4 == 0); unit m is row m ↦ address m · groups + g.
// Thread `local` holds units m = local + j · WORKGROUP_SIZE, j < UNITS, in registers: the threads
// stride through the channel (or its rows) together, so neighbouring threads read neighbouring
// addresses in Runs, and a workgroup reads each row's vec4 of its group in Rows.
//
// The including kernel defines `const UNITS: u32` and `params` with the fields groups (workgroups
// with work), units (units per channel or group) and innerUnits (Runs: inner'; Rows: 1).

const NO_UNIT: u32 = 0xffffffffu;

struct Tile {
  // Address of each unit the thread holds, NO_UNIT past the channel's end.
  addresses: array<u32, UNITS>,
}

fn runsTile(channel: u32, local: u32) -> Tile {
  var tile: Tile;
  let inner = params.innerUnits;
  // (o, i) of unit m, advanced by WORKGROUP_SIZE units with one carry instead of a division.
  var o = local / inner;
  var i = local % inner;
  let stepOuter = WORKGROUP_SIZE / inner;
  let stepInner = WORKGROUP_SIZE % inner;
  for (var j = 0u; j < UNITS; j += 1u) {
    let m = local + j * WORKGROUP_SIZE;
    tile.addresses[j] = select(NO_UNIT, (o * params.groups + channel) * inner + i, m < params.units);
    i += stepInner;
    o += stepOuter;
    if (i >= inner) {
      i -= inner;
      o += 1u;
    }
  }
  return tile;
}

fn rowsTile(group: u32, local: u32) -> Tile {
  var tile: Tile;
  for (var j = 0u; j < UNITS; j += 1u) {
    let row = local + j * WORKGROUP_SIZE;
    tile.addresses[j] = select(NO_UNIT, row * params.groups + group, row < params.units);
  }
  return tile;
}

var<workgroup> broadcast: array<vec4f, 2>;

// The workgroup's total of `value` (its x and y; all four components when `wide`), in every
// thread. Every thread must call it, in uniform control flow; two calls in a row must use
// different slots (a thread may still read the first total while invocation 0 writes the second).
// Each component goes through the additions of workgroupSum (at most WORKGROUP_SIZE − 1, in a
// pairwise tree of depth ≤ log2(WORKGROUP_SIZE) after the subgroup sums).
fn workgroupTotal(local: u32, slot: u32, value: vec4f, wide: bool) -> vec4f {
  var total = vec4f(workgroupSum(local, value.xy), 0.0, 0.0);
  if (wide) {
    // workgroupSum's memory is reused: its first total must be read before it is overwritten.
    workgroupBarrier();
    total = vec4f(total.xy, workgroupSum(local, value.zw));
  }
  if (local == 0u) {
    broadcast[slot] = total;
  }
  workgroupBarrier();
  return broadcast[slot];
}

// The serial strategy (software adapters, where a workgroup runs on one CPU core and every barrier
// costs more than re-reading a small channel from the core's cache), for Rows (its Runs form is
// runBegin's, below): a thread per channel group walking its rows in order, unit m at address m · groups + g, with no workgroup
// total at all. Neighbouring threads take neighbouring groups, so the lanes of an invocation group
// read one contiguous span of each row. The tensor is read once from memory; the later passes over
// a channel group hit the cache (the planner allows ≤ 32 KiB per group).
//
// A thread's sums are blocked — SERIAL_BLOCK rows into a partial, the partials into the total — so
// a value reaches its channel's total through at most SERIAL_BLOCK + M / SERIAL_BLOCK additions
// (96 for the 2048 rows the planner allows) instead of M.
const SERIAL_BLOCK: u32 = 64u;

// The end of the block of rows that starts at address a (rows step by `groups`).
fn blockEnd(a: u32, end: u32) -> u32 {
  return min(a + SERIAL_BLOCK * params.groups, end);
}

// The serial strategy for Runs (inner > 1, software adapters): a thread per channel c walking its runs
// in order, run o at units [(o · C + c) · inner', … + inner'), each run contiguous, so every lane of
// an invocation group streams through memory of its own, as a CPU core prefetches best. The later
// walk over the channel (at most 32 KiB) hits the core's cache.
fn runBegin(channel: u32, run: u32) -> u32 {
  return (run * params.groups + channel) * params.innerUnits;
}
