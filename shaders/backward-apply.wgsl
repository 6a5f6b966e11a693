// dx of batch norm from the per-channel coefficients of backward-finalize.wgsl, reading x and dy once
// more:
//   dx = k[c] · dy + c[c] + m[c] · (x − mean[c])      (training)
//   dx = k[c] · dy                                     (eval, frozen statistics: TRAIN = false)
// where dy is first set to 0 where the forward output fma(x, scale[c], shift[c]) is ≤ 0 when RELU is
// set (NaN passes, as in torch's threshold_backward), recomputed from the stats buffer exactly like
// apply.wgsl and backward-reduce-*.wgsl do.
// In eval mode without RELU, x is never used, and the compiler drops its load.
//
// The units (values, or vec4s) are walked exactly as in apply.wgsl, with the same first five Params:
// workgroup w handles units [w·B, (w+1)·B) with B = WORKGROUP_SIZE · UNITS_PER_THREAD, each thread
// every WORKGROUP_SIZE-th unit, advancing (c, i) by a precomputed step with carries.
//
// Entry points: backwardApplyScalar (any layout), backwardApplyVec4Run (inner % 4 == 0: the four
// lanes share a channel), backwardApplyVec4Channels (inner == 1 and C % 4 == 0: the lanes are four
// consecutive channels).

struct Params {
  units: u32,          // units in this slab (the whole tensor unless it exceeds a binding; see slabs.ts)
  base: u32,           // global index of the slab's first unit, which fixes the channels
  channels: u32,       // C' in units: C, or C / 4 for backwardApplyVec4Channels
  inner: u32,          // inner' in units
  stepInner: u32,      // WORKGROUP_SIZE % inner'
  stepChannel: u32,    // (WORKGROUP_SIZE / inner') % C'
  block: u32,          // one C-value block of stats and coefficients, in units of their bindings
}

override WORKGROUP_SIZE: u32;
override UNITS_PER_THREAD: u32;
override RELU: bool;
override TRAIN: bool;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> x4: array<vec4f>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> dy4: array<vec4f>;
// stats = [mean | variance | invStd | scale | shift] (see finalize.wgsl); only scale and shift are read
@group(0) @binding(3) var<storage, read> stats: array<f32>;
@group(0) @binding(3) var<storage, read> stats4: array<vec4f>;
// coefficients = [k | c | m | mean] (see backward-finalize.wgsl)
@group(0) @binding(4) var<storage, read> coefficients: array<f32>;
@group(0) @binding(4) var<storage, read> coefficients4: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx4: array<vec4f>;

struct Cursor {
  unit: u32,
  channel: u32,
  inner: u32,
}

fn firstUnit(workgroup: vec3u, workgroups: vec3u, local: u32) -> Cursor {
  let w = workgroup.x + workgroup.y * workgroups.x;
  let unit = w * WORKGROUP_SIZE * UNITS_PER_THREAD + local;
  let global = params.base + unit;
  return Cursor(unit, (global / params.inner) % params.channels, global % params.inner);
}

fn advance(cursor: ptr<function, Cursor>) {
  (*cursor).unit += WORKGROUP_SIZE;
  (*cursor).inner += params.stepInner;
  var carry = 0u;
  if ((*cursor).inner >= params.inner) {
    (*cursor).inner -= params.inner;
    carry = 1u;
  }
  (*cursor).channel += params.stepChannel + carry;
  if ((*cursor).channel >= params.channels) {
    (*cursor).channel -= params.channels;
  }
}

// What a unit needs of its channel: the coefficients, and scale and shift for the relu mask.
struct Coefficients {
  k: f32,
  c: f32,
  m: f32,
  mean: f32,
  scale: f32,
  shift: f32,
}

// The same for four consecutive channels (backwardApplyVec4Channels), or one broadcast (Vec4Run).
struct Coefficients4 {
  k: vec4f,
  c: vec4f,
  m: vec4f,
  mean: vec4f,
  scale: vec4f,
  shift: vec4f,
}

fn channelCoefficients(channel: u32) -> Coefficients {
  let b = params.block;
  var co = Coefficients(coefficients[channel], coefficients[b + channel], coefficients[2u * b + channel], coefficients[3u * b + channel], 0.0, 0.0);
  if (RELU) {
    co.scale = stats[3u * b + channel];
    co.shift = stats[4u * b + channel];
  }
  return co;
}

fn groupCoefficients(group: u32) -> Coefficients4 {
  let b = params.block;
  var co = Coefficients4(coefficients4[group], coefficients4[b + group], coefficients4[2u * b + group], coefficients4[3u * b + group], vec4f(0.0), vec4f(0.0));
  if (RELU) {
    co.scale = stats4[3u * b + group];
    co.shift = stats4[4u * b + group];
  }
  return co;
}

fn broadcast(co: Coefficients) -> Coefficients4 {
  return Coefficients4(vec4f(co.k), vec4f(co.c), vec4f(co.m), vec4f(co.mean), vec4f(co.scale), vec4f(co.shift));
}

fn gradient(xv: f32, dyv: f32, co: Coefficients) -> f32 {
  var d = dyv;
  if (RELU) {
    d = select(d, 0.0, fma(xv, co.scale, co.shift) <= 0.0);
  }
  if (TRAIN) {
    return fma(co.m, xv - co.mean, fma(co.k, d, co.c));
  }
  return co.k * d;
}

fn gradient4(xv: vec4f, dyv: vec4f, co: Coefficients4) -> vec4f {
  var d = dyv;
  if (RELU) {
    d = select(d, vec4f(0.0), fma(xv, co.scale, co.shift) <= vec4f(0.0));
  }
  if (TRAIN) {
    return fma(co.m, xv - co.mean, fma(co.k, d, co.c));
  }
  return co.k * d;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn backwardApplyScalar(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  var cursor = firstUnit(workgroup, workgroups, local);
  for (var n = 0u; n < UNITS_PER_THREAD && cursor.unit < params.units; n += 1u) {
    let u = cursor.unit;
    dx[u] = gradient(x[u], dy[u], channelCoefficients(cursor.channel));
    advance(&cursor);
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn backwardApplyVec4Run(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  var cursor = firstUnit(workgroup, workgroups, local);
  for (var n = 0u; n < UNITS_PER_THREAD && cursor.unit < params.units; n += 1u) {
    let u = cursor.unit;
    dx4[u] = gradient4(x4[u], dy4[u], broadcast(channelCoefficients(cursor.channel)));
    advance(&cursor);
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn backwardApplyVec4Channels(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  var cursor = firstUnit(workgroup, workgroups, local);
  for (var n = 0u; n < UNITS_PER_THREAD && cursor.unit < params.units; n += 1u) {
    let u = cursor.unit;
    dx4[u] = gradient4(x4[u], dy4[u], groupCoefficients(cursor.channel));
    advance(&cursor);
  }
}
