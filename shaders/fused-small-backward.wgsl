// #import activation fused-small-walk backward-channel grid
// Backward of a small tensor in ONE dispatch: the two per-channel sums Σ dy and Σ dy · (x − mean),
// dgamma and dbeta, then dx, reading x and dy from memory once. A workgroup holds its whole
// channel (or group of four channels) of x and dy in registers (UNITS units of each per thread, see
// fused-small-walk.wgsl), so where the three-kernel path (backward-reduce, backward-finalize,
// backward-apply) reads x and dy twice, this computes dx from the registers once the workgroup
// totals are known. The gradients and coefficients come from backward-channel.wgsl, as in
// backward-finalize.wgsl; dx = k · dy + c + m · (x − mean) as backward-apply.wgsl computes it.
// Training (TRAIN) and eval (frozen statistics) both; with RELU, dy is set to 0 as it is loaded
// wherever the forward's output y does not let the gradient pass (reluGradient, activation.wgsl).
//
// Entry points: fusedBackward{Runs,Rows}{Scalar,Vec4}, fusedBackwardSerial{Scalar,Vec4} and
// fusedBackwardSerialRuns{Scalar,Vec4}, as fusedForward… (fused-small-forward.wgsl); the serial ones
// walk their channel (group) twice (sums, dx), adding SERIAL_BLOCK units (of a row's column, or of
// a run) into a partial before adding it to the sums, so a term goes through at most
// min(units, SERIAL_BLOCK) + (blocks) additions.

// x and dy: 2 · UNITS vec4 registers per thread.
const UNITS: u32 = 4u;

struct Params {
  groups: u32,          // workgroups with work: C (Runs), or channel groups (Rows)
  units: u32,           // units of one channel (Runs) or channel group (Rows)
  innerUnits: u32,      // Runs: inner in units; Rows: 1
  channels: u32,        // C
  invCount: f32,        // 1 / M
  nan: f32,             // a quiet NaN, written by the host
}

override WORKGROUP_SIZE: u32;
override RELU: bool;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> x4: array<vec4f>;
// Bindings 2–5 (stats, γ, dgamma, dbeta): backward-channel.wgsl.
@group(0) @binding(6) var<storage, read> dy: array<f32>;
@group(0) @binding(6) var<storage, read> dy4: array<vec4f>;
@group(0) @binding(7) var<storage, read_write> dx: array<f32>;
@group(0) @binding(7) var<storage, read_write> dx4: array<vec4f>;
// The forward's output, read only with RELU (the host binds x in its place otherwise).
@group(0) @binding(8) var<storage, read> y: array<f32>;
@group(0) @binding(8) var<storage, read> y4: array<vec4f>;

const ALL_LANES = vec4<bool>(true, true, true, true);
const LANE_X = vec4<bool>(true, false, false, false);

// dy at address a, masked by the relu rule on the forward's y there.
fn dyAt(a: u32) -> f32 {
  if (RELU) {
    return reluGradient(dy[a], y[a]);
  }
  return dy[a];
}

fn dyAt4(a: u32) -> vec4f {
  if (RELU) {
    return reluGradient4(dy4[a], y4[a]);
  }
  return dy4[a];
}

// A group's registers: x, and dy (masked by the relu as loaded, and to its live lanes by masked).
struct Registers {
  xs: array<vec4f, UNITS>,
  dys: array<vec4f, UNITS>,
}

fn masked(r: Registers, tile: Tile, live: vec4<bool>) -> Registers {
  var out = r;
  for (var j = 0u; j < UNITS; j += 1u) {
    let flows = live & vec4<bool>(tile.addresses[j] != NO_UNIT);
    out.dys[j] = select(vec4f(0.0), r.dys[j], flows);
  }
  return out;
}

// Per lane: (Σ dy, Σ dy · (x − mean)) of the thread's units. Lanes a unit does not use hold dy = 0.
struct Sums {
  dy: vec4f,
  dyXmu: vec4f,
}

fn threadSums(r: Registers, mean: vec4f) -> Sums {
  var sums = Sums(vec4f(0.0), vec4f(0.0));
  for (var j = 0u; j < UNITS; j += 1u) {
    sums.dy += r.dys[j];
    sums.dyXmu = fma(r.dys[j], r.xs[j] - mean, sums.dyXmu);
  }
  return sums;
}

// dx of one unit, as backward-apply.wgsl's gradient4.
fn dxOf(xv: vec4f, d: vec4f, g: ChannelGradients4) -> vec4f {
  if (TRAIN) {
    return fma(g.m, xv - g.mean, fma(g.k, d, g.c));
  }
  return g.k * d;
}

struct ChannelGradients4 {
  k: vec4f,
  c: vec4f,
  m: vec4f,
  mean: vec4f,
}

// One channel's gradients from its workgroup totals; invocation 0 stores dgamma and dbeta.
fn gradientsOf(local: u32, channel: u32, total: vec2f) -> ChannelGradients {
  let g = channelGradients(channel, total);
  if (local == 0u) {
    storeGradients(channel, g);
  }
  return g;
}

fn broadcast4(g: ChannelGradients) -> ChannelGradients4 {
  return ChannelGradients4(vec4f(g.k), vec4f(g.c), vec4f(g.m), vec4f(g.mean));
}

// Runs, and Rows with one channel per unit: the two sums of the one channel, in one workgroup total.
fn oneChannel(local: u32, channel: u32, r: Registers) -> ChannelGradients4 {
  let sums = threadSums(r, vec4f(stats[channel]));
  let ones = vec4f(1.0);
  let total = workgroupTotal(local, 0u, vec4f(dot(sums.dy, ones), dot(sums.dyXmu, ones), 0.0, 0.0), false);
  return broadcast4(gradientsOf(local, channel, total.xy));
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn fusedBackwardRunsScalar(
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
  var r: Registers;
  for (var j = 0u; j < UNITS; j += 1u) {
    let a = tile.addresses[j];
    if (a != NO_UNIT) {
      r.xs[j] = vec4f(x[a], 0.0, 0.0, 0.0);
      r.dys[j] = vec4f(dyAt(a), 0.0, 0.0, 0.0);
    }
  }
  r = masked(r, tile, LANE_X);
  let g = oneChannel(local, channel, r);
  for (var j = 0u; j < UNITS; j += 1u) {
    let a = tile.addresses[j];
    if (a != NO_UNIT) {
      dx[a] = dxOf(r.xs[j], r.dys[j], g).x;
    }
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn fusedBackwardRunsVec4(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let channel = gridWorkgroup(workgroup, workgroups);
  if (channel >= params.groups) {
    return;
  }
  let tile = runsTile(channel, local);
  var r: Registers;
  for (var j = 0u; j < UNITS; j += 1u) {
    let a = tile.addresses[j];
    if (a != NO_UNIT) {
      r.xs[j] = x4[a];
      r.dys[j] = dyAt4(a);
    }
  }
  r = masked(r, tile, ALL_LANES);
  let g = oneChannel(local, channel, r);
  for (var j = 0u; j < UNITS; j += 1u) {
    let a = tile.addresses[j];
    if (a != NO_UNIT) {
      dx4[a] = dxOf(r.xs[j], r.dys[j], g);
    }
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn fusedBackwardRowsScalar(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let channel = gridWorkgroup(workgroup, workgroups);
  if (channel >= params.groups) {
    return;
  }
  let tile = rowsTile(channel, local);
  var r: Registers;
  for (var j = 0u; j < UNITS; j += 1u) {
    let a = tile.addresses[j];
    if (a != NO_UNIT) {
      r.xs[j] = vec4f(x[a], 0.0, 0.0, 0.0);
      r.dys[j] = vec4f(dyAt(a), 0.0, 0.0, 0.0);
    }
  }
  r = masked(r, tile, LANE_X);
  let g = oneChannel(local, channel, r);
  for (var j = 0u; j < UNITS; j += 1u) {
    let a = tile.addresses[j];
    if (a != NO_UNIT) {
      dx[a] = dxOf(r.xs[j], r.dys[j], g).x;
    }
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn fusedBackwardRowsVec4(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let group = gridWorkgroup(workgroup, workgroups);
  if (group >= params.groups) {
    return;
  }
  let tile = rowsTile(group, local);
  var r: Registers;
  for (var j = 0u; j < UNITS; j += 1u) {
    let a = tile.addresses[j];
    if (a != NO_UNIT) {
      r.xs[j] = x4[a];
      r.dys[j] = dyAt4(a);
    }
  }
  // Four channels per unit, each summed apart: two wide workgroup totals.
  var mean: vec4f;
  for (var lane = 0u; lane < 4u; lane += 1u) {
    mean[lane] = stats[4u * group + lane];
  }
  r = masked(r, tile, ALL_LANES);
  let sums = threadSums(r, mean);
  let totalDy = workgroupTotal(local, 0u, sums.dy, true);
  let totalDyXmu = workgroupTotal(local, 1u, sums.dyXmu, true);
  var g: ChannelGradients4;
  for (var lane = 0u; lane < 4u; lane += 1u) {
    let one = gradientsOf(local, 4u * group + lane, vec2f(totalDy[lane], totalDyXmu[lane]));
    g.k[lane] = one.k;
    g.c[lane] = one.c;
    g.m[lane] = one.m;
    g.mean[lane] = one.mean;
  }
  for (var j = 0u; j < UNITS; j += 1u) {
    let a = tile.addresses[j];
    if (a != NO_UNIT) {
      dx4[a] = dxOf(r.xs[j], r.dys[j], g);
    }
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn fusedBackwardSerialScalar(
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
  let mean = vec4f(stats[channel]);
  var sums = vec2f(0.0);
  for (var a = channel; a < end;) {
    var part = vec2f(0.0);
    for (let stop = blockEnd(a, end); a < stop; a += step) {
      let xv = vec4f(x[a]);
      let d = dyAt(a);
      part = vec2f(part.x + d, fma(d, xv.x - mean.x, part.y));
    }
    sums += part;
  }
  let g = channelGradients(channel, sums);
  storeGradients(channel, g);
  let g4 = broadcast4(g);
  for (var a = channel; a < end; a += step) {
    let xv = vec4f(x[a]);
    dx[a] = dxOf(xv, vec4f(dyAt(a)), g4).x;
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn fusedBackwardSerialVec4(
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
  var mean: vec4f;
  for (var lane = 0u; lane < 4u; lane += 1u) {
    mean[lane] = stats[4u * group + lane];
  }
  var sumDy = vec4f(0.0);
  var sumDyXmu = vec4f(0.0);
  for (var a = group; a < end;) {
    var partDy = vec4f(0.0);
    var partDyXmu = vec4f(0.0);
    for (let stop = blockEnd(a, end); a < stop; a += step) {
      let xv = x4[a];
      let d = dyAt4(a);
      partDy += d;
      partDyXmu = fma(d, xv - mean, partDyXmu);
    }
    sumDy += partDy;
    sumDyXmu += partDyXmu;
  }
  var g: ChannelGradients4;
  for (var lane = 0u; lane < 4u; lane += 1u) {
    let channel = 4u * group + lane;
    let one = channelGradients(channel, vec2f(sumDy[lane], sumDyXmu[lane]));
    storeGradients(channel, one);
    g.k[lane] = one.k;
    g.c[lane] = one.c;
    g.m[lane] = one.m;
    g.mean[lane] = one.mean;
  }
  for (var a = group; a < end; a += step) {
    let xv = x4[a];
    dx4[a] = dxOf(xv, dyAt4(a), g);
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn fusedBackwardSerialRunsScalar(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let channel = gridThread(workgroup, workgroups, local);
  if (channel >= params.groups) {
    return;
  }
  let runs = params.units / params.innerUnits;
  let mean = stats[channel];
  var sums = vec2f(0.0);
  for (var run = 0u; run < runs; run += 1u) {
    let begin = runBegin(channel, run);
    let end = begin + params.innerUnits;
    for (var a = begin; a < end;) {
      var part = vec2f(0.0);
      for (let stop = min(a + SERIAL_BLOCK, end); a < stop; a += 1u) {
        let d = dyAt(a);
        part = vec2f(part.x + d, fma(d, x[a] - mean, part.y));
      }
      sums += part;
    }
  }
  let g = channelGradients(channel, sums);
  storeGradients(channel, g);
  let g4 = broadcast4(g);
  for (var run = 0u; run < runs; run += 1u) {
    let begin = runBegin(channel, run);
    for (var a = begin; a < begin + params.innerUnits; a += 1u) {
      dx[a] = dxOf(vec4f(x[a]), vec4f(dyAt(a)), g4).x;
    }
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn fusedBackwardSerialRunsVec4(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let channel = gridThread(workgroup, workgroups, local);
  if (channel >= params.groups) {
    return;
  }
  let runs = params.units / params.innerUnits;
  let mean = vec4f(stats[channel]);
  // Per lane; the four lanes of a unit are values of the one channel, added at the end.
  var sumDy = vec4f(0.0);
  var sumDyXmu = vec4f(0.0);
  for (var run = 0u; run < runs; run += 1u) {
    let begin = runBegin(channel, run);
    let end = begin + params.innerUnits;
    for (var a = begin; a < end;) {
      var partDy = vec4f(0.0);
      var partDyXmu = vec4f(0.0);
      let stop = min(a + SERIAL_BLOCK, end);
      // Four units a step (pairwise), then the rest one by one.
      for (; a + 4u <= stop; a += 4u) {
        let d0 = dyAt4(a);
        let d1 = dyAt4(a + 1u);
        let d2 = dyAt4(a + 2u);
        let d3 = dyAt4(a + 3u);
        partDy += (d0 + d1) + (d2 + d3);
        partDyXmu += (d0 * (x4[a] - mean) + d1 * (x4[a + 1u] - mean)) + (d2 * (x4[a + 2u] - mean) + d3 * (x4[a + 3u] - mean));
      }
      for (; a < stop; a += 1u) {
        let d = dyAt4(a);
        partDy += d;
        partDyXmu = fma(d, x4[a] - mean, partDyXmu);
      }
      sumDy += partDy;
      sumDyXmu += partDyXmu;
    }
  }
  let ones = vec4f(1.0);
  let g = channelGradients(channel, vec2f(dot(sumDy, ones), dot(sumDyXmu, ones)));
  storeGradients(channel, g);
  let g4 = broadcast4(g);
  for (var run = 0u; run < runs; run += 1u) {
    let begin = runBegin(channel, run);
    let end = begin + params.innerUnits;
    var a = begin;
    // Four units a step, as the floor's fastest copy on a CPU adapter walks (copy.wgsl, copySegments).
    for (; a + 4u <= end; a += 4u) {
      dx4[a] = dxOf(x4[a], dyAt4(a), g4);
      dx4[a + 1u] = dxOf(x4[a + 1u], dyAt4(a + 1u), g4);
      dx4[a + 2u] = dxOf(x4[a + 2u], dyAt4(a + 2u), g4);
      dx4[a + 3u] = dxOf(x4[a + 3u], dyAt4(a + 3u), g4);
    }
    for (; a < end; a += 1u) {
      dx4[a] = dxOf(x4[a], dyAt4(a), g4);
    }
  }
}
