// #import activation elementwise-span tensor-storage
// dx of batch norm from the per-channel coefficients of backward-finalize.wgsl, reading x and dy once
// more:
//   dx = k[c] · dy + c[c] + m[c] · (x − mean[c])      (training)
//   dx = k[c] · dy                                     (eval, frozen statistics: TRAIN = false)
// where, when RELU is set, dy is first set to 0 where the forward's output y (bound here, as the
// forward stored it) does not pass relu's gradient: reluGradient of activation.wgsl, a bit test on y.
// In eval mode without RELU, x is never used, and the compiler drops its load.
// With a residual (y = act(BN(x) + z), RESIDUAL set), the gradient of z is the masked dy itself,
// written to dz in the same walk: the mask is y's whichever input the activation had, so dx, dz,
// dgamma and dbeta all see the one mask the forward's output implies.
//
// The units (values, or vec4s) are walked exactly as in apply.wgsl (same Params up to `threads`,
// same `spanOf`): each thread keeps one channel, loads its coefficients once and walks units
// `stride` apart, by period or by runs (RUNS).
//
// Entry points: backwardApplyScalar (any layout), backwardApplyVec4Run (inner % 4 == 0: the four
// lanes share a channel), backwardApplyVec4Channels (inner == 1 and C % 4 == 0: the lanes are four
// consecutive channels).

struct Params {
  units: u32,          // units in this slab (the whole tensor unless it exceeds a binding)
  base: u32,           // global index of the slab's first unit
  channels: u32,       // C' in units: C, or C / 4 for backwardApplyVec4Channels
  inner: u32,          // inner' in units
  stride: u32,         // by period: a multiple of C'·inner'; by runs: threads per run
  segment: u32,        // by period: units per segment (a multiple of stride)
  firstRun: u32,       // by runs: base / inner', the run of the slab's first unit
  threads: u32,        // threads with work; the grid's others return at once
  block: u32,          // one C-value block of stats and coefficients, in units of their bindings
}

override WORKGROUP_SIZE: u32;
override RELU: bool;
override TRAIN: bool;
override RUNS: bool;
// A pipeline constant, so the pipeline without a residual stores nothing to dz.
override RESIDUAL: bool;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<tensor>;
@group(0) @binding(1) var<storage, read> x4: array<tensor4>;
@group(0) @binding(2) var<storage, read> dy: array<tensor>;
@group(0) @binding(2) var<storage, read> dy4: array<tensor4>;
// The forward's output, read only when RELU is set (without relu any read-only tensor is bound here).
@group(0) @binding(3) var<storage, read> y: array<tensor>;
@group(0) @binding(3) var<storage, read> y4: array<tensor4>;
// coefficients = [k | c | m | mean] (see backward-finalize.wgsl)
@group(0) @binding(4) var<storage, read> coefficients: array<f32>;
@group(0) @binding(4) var<storage, read> coefficients4: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> dx: array<tensor>;
@group(0) @binding(5) var<storage, read_write> dx4: array<tensor4>;
// The residual's gradient, written only when RESIDUAL is set (without it a placeholder is bound).
@group(0) @binding(6) var<storage, read_write> dz: array<tensor>;
@group(0) @binding(6) var<storage, read_write> dz4: array<tensor4>;

// spanOf(workgroup, workgroups, local): the units of one thread (elementwise-span.wgsl, put in
// front of this file).

// What a unit needs of its channel.
struct Coefficients {
  k: f32,
  c: f32,
  m: f32,
  mean: f32,
}

// The same for four consecutive channels (backwardApplyVec4Channels), or one broadcast (Vec4Run).
struct Coefficients4 {
  k: vec4f,
  c: vec4f,
  m: vec4f,
  mean: vec4f,
}

fn channelCoefficients(channel: u32) -> Coefficients {
  let b = params.block;
  return Coefficients(coefficients[channel], coefficients[b + channel], coefficients[2u * b + channel], coefficients[3u * b + channel]);
}

fn groupCoefficients(group: u32) -> Coefficients4 {
  let b = params.block;
  return Coefficients4(coefficients4[group], coefficients4[b + group], coefficients4[2u * b + group], coefficients4[3u * b + group]);
}

fn broadcast(co: Coefficients) -> Coefficients4 {
  return Coefficients4(vec4f(co.k), vec4f(co.c), vec4f(co.m), vec4f(co.mean));
}

// dy of one unit through the activation: masked where y does not pass relu's gradient.
fn activatedDy(u: u32) -> f32 {
  if (RELU) {
    return reluGradient(fromTensor(dy[u]), fromTensor(y[u]));
  }
  return fromTensor(dy[u]);
}

fn activatedDy4(u: u32) -> vec4f {
  if (RELU) {
    return reluGradient4(fromTensor4(dy4[u]), fromTensor4(y4[u]));
  }
  return fromTensor4(dy4[u]);
}

// dx of one unit from its activated dy `d`; `u` indexes x, dy and y alike.
fn gradient(u: u32, d: f32, co: Coefficients) -> f32 {
  let xv = fromTensor(x[u]);
  if (TRAIN) {
    return fma(co.m, xv - co.mean, fma(co.k, d, co.c));
  }
  return co.k * d;
}

fn gradient4(u: u32, d: vec4f, co: Coefficients4) -> vec4f {
  let xv = fromTensor4(x4[u]);
  if (TRAIN) {
    return fma(co.m, xv - co.mean, fma(co.k, d, co.c));
  }
  return co.k * d;
}

// dx (and dz) of one unit.
fn backwardAt(u: u32, co: Coefficients) {
  let d = activatedDy(u);
  dx[u] = toTensor(gradient(u, d, co));
  if (RESIDUAL) {
    dz[u] = toTensor(d);
  }
}

fn backwardAt4(u: u32, co: Coefficients4) {
  let d = activatedDy4(u);
  dx4[u] = toTensor4(gradient4(u, d, co));
  if (RESIDUAL) {
    dz4[u] = toTensor4(d);
  }
}

// One piece of a thread's units, walked as in apply.wgsl (four units per loop step in the
// contiguous walk).
fn backwardSpan(span: Span, co: Coefficients) {
  if (CONTIGUOUS) {
    var u = span.first;
    for (; u + 3u < span.end; u += 4u) {
      backwardAt(u, co);
      backwardAt(u + 1u, co);
      backwardAt(u + 2u, co);
      backwardAt(u + 3u, co);
    }
    for (; u < span.end; u += 1u) {
      backwardAt(u, co);
    }
    return;
  }
  for (var u = span.first; u < span.end; u += span.step) {
    backwardAt(u, co);
  }
}

fn backwardSpan4(span: Span, co: Coefficients4) {
  if (CONTIGUOUS) {
    var u = span.first;
    for (; u + 3u < span.end; u += 4u) {
      backwardAt4(u, co);
      backwardAt4(u + 1u, co);
      backwardAt4(u + 2u, co);
      backwardAt4(u + 3u, co);
    }
    for (; u < span.end; u += 1u) {
      backwardAt4(u, co);
    }
    return;
  }
  for (var u = span.first; u < span.end; u += span.step) {
    backwardAt4(u, co);
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn backwardApplyScalar(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  var span = spanOf(workgroup, workgroups, local);
  while (span.first < span.end) {
    backwardSpan(span, channelCoefficients(span.channel));
    span = nextSpan(span);
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn backwardApplyVec4Run(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  var span = spanOf(workgroup, workgroups, local);
  while (span.first < span.end) {
    backwardSpan4(span, broadcast(channelCoefficients(span.channel)));
    span = nextSpan(span);
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn backwardApplyVec4Channels(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  // By period only (inner' = 1): one span per thread.
  let span = spanOf(workgroup, workgroups, local);
  backwardSpan4(span, groupCoefficients(span.channel));
}
