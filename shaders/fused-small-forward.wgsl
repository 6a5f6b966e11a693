// #import fused-small-walk finalize-channel relu moments grid
// Training forward of a small tensor in ONE dispatch: batch statistics, running-statistics update,
// scale and shift, and y, reading x from memory once. A workgroup holds its whole channel (or group
// of four channels) in registers — UNITS units per thread, see fused-small-walk.wgsl for who holds
// what — so where the three-kernel path (statistics, finalize, apply) reads x twice and crosses
// two dispatch boundaries, this reads it once and writes y from the registers.
//
// Statistics, in two passes over the registers (moments about a data pivot p, the channel's first
// value, so d = x − p stays of the order of the spread even for data like 1e4 ± 1):
//   pass 1: μ_d = Σ d / M                  (workgroup total)
//   pass 2: M2 = Σ (d − μ_d)²              (workgroup total)
//   mean = p + μ_d, variance = M2 / M, then invStd, scale, shift and the running statistics
//   exactly as finalize.wgsl computes them (finalize-channel.wgsl).
// Error bound. Each term (d − μ_d) is within 2ε of its exact value (d is exact when x and p are
// within a factor of 2 of each other, Sterbenz, else rounded once), and its sum of squares goes
// through at most UNITS + WORKGROUP_SIZE − 1 additions (UNITS in a thread, a tree of depth
// log2(WORKGROUP_SIZE) across the workgroup; 4 more in a vec4 unit of a run), so
//   |M2̂ − M2| ≤ (UNITS + log2(WORKGROUP_SIZE) + 9) · ε · M2 + M · δ²,
// with δ the error of μ_d, itself ≤ (UNITS + log2(WORKGROUP_SIZE) + 5) · ε · mean|d|. The first
// term is relative to M2 whatever the mean; the second is second order in ε and relative to
// (mean|d| / σ)², which the pivot — a sample of the channel — keeps near 1: with no pivot it
// would grow with (mean / σ)². Shifted sums in one pass (Σ d, Σ d², as stats-rows.wgsl) instead
// lose a first-order (mean|d| / σ)² · ε, and depend on how typical the pivot is.
//
// Non-finite input: a NaN or ±Inf makes the channel's totals non-finite for good, so its moments
// fail finalize-channel.wgsl's check: NaN statistics, NaN running statistics, and NaN y (fma with
// a NaN scale), as in the three-kernel path.
//
// Entry points: fusedForward{Runs,Rows}{Scalar,Vec4} (Runs: inner > 1, Vec4 when inner % 4 == 0;
// Rows: inner == 1, Vec4 when C % 4 == 0, the lanes then four channels), a workgroup per channel
// (group) with registers — vec4 in all four, the scalar ones using lane x only; and
// fusedForwardSerial{Scalar,Vec4}, Rows, a thread per channel (group) for software adapters,
// which computes the same two passes and y with three walks over its rows (see
// fused-small-walk.wgsl; its error bound is the one above with WORKGROUP_SIZE = 1 and UNITS = M);
// and fusedForwardSerialRuns{Scalar,Vec4}, Runs, a thread per channel for software adapters, which
// takes the statistics in one walk as the three-kernel path does (below) and y in a second.

const UNITS: u32 = 8u;

struct Params {
  groups: u32,          // workgroups with work: C (Runs), or channel groups (Rows)
  units: u32,           // units of one channel (Runs) or channel group (Rows)
  innerUnits: u32,      // Runs: inner in units; Rows: 1
  count: f32,           // M, values per channel
  channels: u32,        // C
  eps: f32,
  keep: f32,
  take: f32,
  varianceFactor: f32,
  nan: f32,             // a quiet NaN, written by the host
}

override WORKGROUP_SIZE: u32;
override RELU: bool;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> x4: array<vec4f>;
// Bindings 2–6 (γ, β, the running statistics, stats): finalize-channel.wgsl.
@group(0) @binding(7) var<storage, read_write> y: array<f32>;
@group(0) @binding(7) var<storage, read_write> y4: array<vec4f>;

// Lanes of a register that hold data: all four for vec4 units, x alone for single values.
const ALL_LANES = vec4<bool>(true, true, true, true);
const LANE_X = vec4<bool>(true, false, false, false);

// The channel's moments of d = x − pivot per lane: (shifted mean μ_d, M2). `across`: the lanes of a
// unit belong to one channel (Runs), so the lanes' sums are added; else each lane is a channel of
// its own (Rows), summed apart (`wide` when four of them are live). Every thread calls it.
struct Moments {
  shiftedMean: vec4f,
  m2: vec4f,
}

fn fold(v: vec4f, across: bool) -> vec4f {
  if (across) {
    return vec4f((v.x + v.y) + (v.z + v.w), 0.0, 0.0, 0.0);
  }
  return v;
}

fn spread(v: vec4f, across: bool) -> vec4f {
  if (across) {
    return vec4f(v.x);
  }
  return v;
}

fn moments(local: u32, tile: Tile, xs: array<vec4f, UNITS>, pivot: vec4f, live: vec4<bool>, across: bool, wide: bool) -> Moments {
  var sum = vec4f(0.0);
  for (var j = 0u; j < UNITS; j += 1u) {
    if (tile.addresses[j] != NO_UNIT) {
      sum += select(vec4f(0.0), xs[j] - pivot, live);
    }
  }
  let shiftedMean = spread(workgroupTotal(local, 0u, fold(sum, across), wide), across) / params.count;
  var squares = vec4f(0.0);
  for (var j = 0u; j < UNITS; j += 1u) {
    if (tile.addresses[j] != NO_UNIT) {
      let e = select(vec4f(0.0), (xs[j] - pivot) - shiftedMean, live);
      squares = fma(e, e, squares);
    }
  }
  let m2 = spread(workgroupTotal(local, 1u, fold(squares, across), wide), across);
  return Moments(shiftedMean, m2);
}

// Statistics of one channel from lane `lane` of the moments; invocation 0 stores them (and updates
// the running statistics), every thread uses them: the values stored are those y was computed with.
fn statisticsOf(local: u32, channel: u32, m: Moments, pivot: vec4f, lane: u32) -> ChannelStatistics {
  let s = channelStatistics(channel, vec4f(params.count, m.shiftedMean[lane], m.m2[lane], pivot[lane]));
  if (local == 0u) {
    storeChannel(channel, s);
  }
  return s;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn fusedForwardRunsScalar(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let channel = gridWorkgroup(workgroup, workgroups);
  // Whole workgroups leave together, so the workgroup totals stay in uniform control flow.
  if (channel >= params.groups) {
    return;
  }
  let tile = runsTile(channel, local);
  var xs: array<vec4f, UNITS>;
  for (var j = 0u; j < UNITS; j += 1u) {
    let a = tile.addresses[j];
    if (a != NO_UNIT) {
      xs[j] = vec4f(x[a], 0.0, 0.0, 0.0);
    }
  }
  let pivot = vec4f(x[channel * params.innerUnits]);
  let s = statisticsOf(local, channel, moments(local, tile, xs, pivot, LANE_X, true, false), pivot, 0u);
  for (var j = 0u; j < UNITS; j += 1u) {
    let a = tile.addresses[j];
    if (a != NO_UNIT) {
      y[a] = activate(fma(xs[j].x, s.scale, s.shift));
    }
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn fusedForwardRunsVec4(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let channel = gridWorkgroup(workgroup, workgroups);
  if (channel >= params.groups) {
    return;
  }
  let tile = runsTile(channel, local);
  var xs: array<vec4f, UNITS>;
  for (var j = 0u; j < UNITS; j += 1u) {
    let a = tile.addresses[j];
    if (a != NO_UNIT) {
      xs[j] = x4[a];
    }
  }
  let pivot = vec4f(x4[channel * params.innerUnits].x);
  let s = statisticsOf(local, channel, moments(local, tile, xs, pivot, ALL_LANES, true, false), pivot, 0u);
  let scale = vec4f(s.scale);
  let shift = vec4f(s.shift);
  for (var j = 0u; j < UNITS; j += 1u) {
    let a = tile.addresses[j];
    if (a != NO_UNIT) {
      y4[a] = activate4(fma(xs[j], scale, shift));
    }
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn fusedForwardRowsScalar(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let channel = gridWorkgroup(workgroup, workgroups);
  if (channel >= params.groups) {
    return;
  }
  let tile = rowsTile(channel, local);
  var xs: array<vec4f, UNITS>;
  for (var j = 0u; j < UNITS; j += 1u) {
    let a = tile.addresses[j];
    if (a != NO_UNIT) {
      xs[j] = vec4f(x[a], 0.0, 0.0, 0.0);
    }
  }
  let pivot = vec4f(x[channel], 0.0, 0.0, 0.0);
  let s = statisticsOf(local, channel, moments(local, tile, xs, pivot, LANE_X, false, false), pivot, 0u);
  for (var j = 0u; j < UNITS; j += 1u) {
    let a = tile.addresses[j];
    if (a != NO_UNIT) {
      y[a] = activate(fma(xs[j].x, s.scale, s.shift));
    }
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn fusedForwardRowsVec4(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let group = gridWorkgroup(workgroup, workgroups);
  if (group >= params.groups) {
    return;
  }
  let tile = rowsTile(group, local);
  var xs: array<vec4f, UNITS>;
  for (var j = 0u; j < UNITS; j += 1u) {
    let a = tile.addresses[j];
    if (a != NO_UNIT) {
      xs[j] = x4[a];
    }
  }
  // Four channels, each with its own pivot (row 0) and moments.
  let pivot = x4[group];
  let m = moments(local, tile, xs, pivot, ALL_LANES, false, true);
  var scale: vec4f;
  var shift: vec4f;
  for (var lane = 0u; lane < 4u; lane += 1u) {
    let s = statisticsOf(local, 4u * group + lane, m, pivot, lane);
    scale[lane] = s.scale;
    shift[lane] = s.shift;
  }
  for (var j = 0u; j < UNITS; j += 1u) {
    let a = tile.addresses[j];
    if (a != NO_UNIT) {
      y4[a] = activate4(fma(xs[j], scale, shift));
    }
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn fusedForwardSerialScalar(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let channel = gridThread(workgroup, workgroups, local);
  if (channel >= params.groups) {
    return;
  }
  let step = params.groups;
  let end = params.units * step;
  let pivot = x[channel];
  var sum = 0.0;
  for (var a = channel; a < end;) {
    var part = 0.0;
    for (let stop = blockEnd(a, end); a < stop; a += step) {
      part += x[a] - pivot;
    }
    sum += part;
  }
  let shiftedMean = sum / params.count;
  var squares = 0.0;
  for (var a = channel; a < end;) {
    var part = 0.0;
    for (let stop = blockEnd(a, end); a < stop; a += step) {
      let e = (x[a] - pivot) - shiftedMean;
      part = fma(e, e, part);
    }
    squares += part;
  }
  let s = channelStatistics(channel, vec4f(params.count, shiftedMean, squares, pivot));
  storeChannel(channel, s);
  for (var a = channel; a < end; a += step) {
    y[a] = activate(fma(x[a], s.scale, s.shift));
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn fusedForwardSerialVec4(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let group = gridThread(workgroup, workgroups, local);
  if (group >= params.groups) {
    return;
  }
  let step = params.groups;
  let end = params.units * step;
  // Four channels, each with its own pivot (row 0) and moments.
  let pivot = x4[group];
  var sum = vec4f(0.0);
  for (var a = group; a < end;) {
    var part = vec4f(0.0);
    for (let stop = blockEnd(a, end); a < stop; a += step) {
      part += x4[a] - pivot;
    }
    sum += part;
  }
  let shiftedMean = sum / params.count;
  var squares = vec4f(0.0);
  for (var a = group; a < end;) {
    var part = vec4f(0.0);
    for (let stop = blockEnd(a, end); a < stop; a += step) {
      let e = (x4[a] - pivot) - shiftedMean;
      part = fma(e, e, part);
    }
    squares += part;
  }
  var scale: vec4f;
  var shift: vec4f;
  for (var lane = 0u; lane < 4u; lane += 1u) {
    let channel = 4u * group + lane;
    let s = channelStatistics(channel, vec4f(params.count, shiftedMean[lane], squares[lane], pivot[lane]));
    storeChannel(channel, s);
    scale[lane] = s.scale;
    shift[lane] = s.shift;
  }
  for (var a = group; a < end; a += step) {
    y4[a] = activate4(fma(x4[a], scale, shift));
  }
}

// The serial Runs kernels' statistics, as the three-kernel path's Segments walk and in-order
// finalize take them (moments.wgsl): each run read in blocks of 16 values merged into the run's
// moments, then the runs merged in order into the channel's, all about one pivot (the channel's
// first value). Their error bound is that path's for a segment per run and an in-order final
// merge of the runs (docs/numerics.md). One walk instead of the register kernels' two passes:
// these channels are too long for registers, and a second walk would cost what it saves.

// Moments of the vec4 units [begin, end) of one run.
fn runMomentsVec4(begin: u32, end: u32, pivot: f32) -> vec4f {
  var m = vec4f(0.0, 0.0, 0.0, pivot);
  var a = begin;
  for (; a + 4u <= end; a += 4u) {
    m = mergeBlock(m, 16.0, channelBlock(x4[a], x4[a + 1u], x4[a + 2u], x4[a + 3u], pivot));
  }
  let left = end - a;
  if (left > 0u) {
    // Units past the run's end repeat its last; channelTail ignores them.
    let last = end - 1u;
    let v0 = x4[a];
    m = mergeBlock(m, f32(4u * left), channelTail(v0, x4[min(a + 1u, last)], x4[min(a + 2u, last)], v0, 4u * left, pivot));
  }
  return m;
}

// Moments of the values [begin, end) of one run.
fn runMomentsScalar(begin: u32, end: u32, pivot: f32) -> vec4f {
  var m = vec4f(0.0, 0.0, 0.0, pivot);
  var a = begin;
  for (; a + 16u <= end; a += 16u) {
    let v0 = vec4f(x[a], x[a + 1u], x[a + 2u], x[a + 3u]);
    let v1 = vec4f(x[a + 4u], x[a + 5u], x[a + 6u], x[a + 7u]);
    let v2 = vec4f(x[a + 8u], x[a + 9u], x[a + 10u], x[a + 11u]);
    let v3 = vec4f(x[a + 12u], x[a + 13u], x[a + 14u], x[a + 15u]);
    m = mergeBlock(m, 16.0, channelBlock(v0, v1, v2, v3, pivot));
  }
  let left = end - a;
  if (left > 0u) {
    // Values past the run's end repeat its last; channelTail ignores them.
    let last = end - 1u;
    var v: array<f32, 16>;
    for (var k = 0u; k < 16u; k += 1u) {
      v[k] = x[min(a + k, last)];
    }
    let tail = channelTail(vec4f(v[0], v[1], v[2], v[3]), vec4f(v[4], v[5], v[6], v[7]), vec4f(v[8], v[9], v[10], v[11]), vec4f(v[12], v[13], v[14], v[15]), left, pivot);
    m = mergeBlock(m, f32(left), tail);
  }
  return m;
}

// The channel's moments from its runs, merged in order into moments about the channel's first
// value. (One function per width: an entry point may use only one of x and x4, which alias.)
fn channelMomentsScalar(channel: u32) -> vec4f {
  let pivot = x[runBegin(channel, 0u)];
  var m = vec4f(0.0, 0.0, 0.0, pivot);
  for (var run = 0u; run < params.units / params.innerUnits; run += 1u) {
    let begin = runBegin(channel, run);
    let r = runMomentsScalar(begin, begin + params.innerUnits, pivot);
    m = mergeBlock(m, r.x, r.yz);
  }
  return m;
}

fn channelMomentsVec4(channel: u32) -> vec4f {
  let pivot = x4[runBegin(channel, 0u)].x;
  var m = vec4f(0.0, 0.0, 0.0, pivot);
  for (var run = 0u; run < params.units / params.innerUnits; run += 1u) {
    let begin = runBegin(channel, run);
    let r = runMomentsVec4(begin, begin + params.innerUnits, pivot);
    m = mergeBlock(m, r.x, r.yz);
  }
  return m;
}

// The channel's statistics, stored with the running statistics; y is computed with the very values
// stored.
fn serialRunsStatistics(channel: u32, m: vec4f) -> ChannelStatistics {
  let s = channelStatistics(channel, momentsOrFlag(m));
  storeChannel(channel, s);
  return s;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn fusedForwardSerialRunsScalar(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let channel = gridThread(workgroup, workgroups, local);
  if (channel >= params.groups) {
    return;
  }
  let s = serialRunsStatistics(channel, channelMomentsScalar(channel));
  let runs = params.units / params.innerUnits;
  for (var run = 0u; run < runs; run += 1u) {
    let begin = runBegin(channel, run);
    let end = begin + params.innerUnits;
    var a = begin;
    for (; a + 4u <= end; a += 4u) {
      y[a] = activate(fma(x[a], s.scale, s.shift));
      y[a + 1u] = activate(fma(x[a + 1u], s.scale, s.shift));
      y[a + 2u] = activate(fma(x[a + 2u], s.scale, s.shift));
      y[a + 3u] = activate(fma(x[a + 3u], s.scale, s.shift));
    }
    for (; a < end; a += 1u) {
      y[a] = activate(fma(x[a], s.scale, s.shift));
    }
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn fusedForwardSerialRunsVec4(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let channel = gridThread(workgroup, workgroups, local);
  if (channel >= params.groups) {
    return;
  }
  let s = serialRunsStatistics(channel, channelMomentsVec4(channel));
  let scale = vec4f(s.scale);
  let shift = vec4f(s.shift);
  let runs = params.units / params.innerUnits;
  for (var run = 0u; run < runs; run += 1u) {
    let begin = runBegin(channel, run);
    let end = begin + params.innerUnits;
    var a = begin;
    // Four units a step, as the floor's fastest copy on a CPU adapter walks (copy.wgsl, copySegments).
    for (; a + 4u <= end; a += 4u) {
      y4[a] = activate4(fma(x4[a], scale, shift));
      y4[a + 1u] = activate4(fma(x4[a + 1u], scale, shift));
      y4[a + 2u] = activate4(fma(x4[a + 2u], scale, shift));
      y4[a + 3u] = activate4(fma(x4[a + 3u], scale, shift));
    }
    for (; a < end; a += 1u) {
      y4[a] = activate4(fma(x4[a], scale, shift));
    }
  }
}
