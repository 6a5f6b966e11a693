// #import elementwise-span relu tensor-storage running-fold grid
// y = fma(x, scale[c], shift[c]), plus the residual z when RESIDUAL is set, then relu when RELU is
// set (activation.wgsl): y = act(BN(x) + z). Serves training (apply…: scale and shift read from
// what `finalize.wgsl` wrote) and inference in one dispatch (inference…: each thread folds the
// running statistics of the channels it walks itself, running-fold.wgsl, and the grid also stores
// every channel's fold into stats, as a training forward stores its statistics there). A fold per
// thread and channel is a few loads and a division: a second dispatch cost far more on a GPU,
// where a dispatch and its barrier take microseconds, and on small tensors anywhere.
//
// The tensor is a sequence of units (values, or vec4s) viewed as [outer, C', inner']. Each thread
// keeps one channel: it loads that channel's scale and shift once, then walks units `stride`
// apart, so the loop does no index arithmetic beyond the copy kernel's (per unit: load, fma,
// store). Two ways to give a thread a fixed channel (RUNS, chosen per launch by the host):
// - by runs (RUNS true), when runs are long (inner' ≥ the units a thread should write):
//   `stride` threads share one run of inner' units (one channel of one row), lane j taking units
//   j, j + stride, … of it (NCHW, NCL, NCDHW);
// - by period (RUNS false) otherwise (NC, NHWC, short runs): the tensor is cut into segments of
//   `segment` units, each shared by `stride` threads, lane j taking units j, j + stride, … of it;
//   stride is a multiple of C'·inner', the length after which the channel pattern repeats.
// Neighbouring threads touch neighbouring units, and the threads of a workgroup a compact block,
// either way. On a CPU adapter a third walk takes long runs instead (CONTIGUOUS, see
// elementwise-span.wgsl): each thread a contiguous range of units, run by run, reloading the
// channel's scale and shift at each run it enters. A tensor larger than one binding comes
// in slabs (see slabs.ts): `base` is the global index of the slab's first unit, and a slab may
// start or end inside a run.
//
// Entry points, each an apply… and an inference… one: …Scalar (any layout), …Vec4Run (inner % 4 ==
// 0: the four lanes share a channel), …Vec4Channels (inner == 1 and C % 4 == 0: the lanes are four
// consecutive channels).

struct Params {
  units: u32,          // units in this slab (the whole tensor unless it exceeds a binding)
  base: u32,           // global index of the slab's first unit
  channels: u32,       // C' in units: C, or C / 4 for applyVec4Channels
  inner: u32,          // inner' in units
  stride: u32,         // by period: a multiple of C'·inner'; by runs: threads per run
  segment: u32,        // by period: units per segment (a multiple of stride)
  firstRun: u32,       // by runs: base / inner', the run of the slab's first unit
  threads: u32,        // threads with work; the grid's others return at once
  scaleOffset: u32,    // apply…: index of scale[0] in coefficients, in units of that binding
  shiftOffset: u32,
  eps: f32,            // inference…: ε of the fold
  statsChannels: u32,  // inference…: C, the channels stored into stats (by the first slab's launch)
}

override WORKGROUP_SIZE: u32;
override RELU: bool;
override RUNS: bool;
// A pipeline constant rather than a runtime flag, so the pipeline without a residual has no load
// of z and no add: the compiler drops both.
override RESIDUAL: bool;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<tensor>;
@group(0) @binding(1) var<storage, read> x4: array<tensor4>;
// apply…: [… | scale | shift] as finalize.wgsl wrote them.
@group(0) @binding(2) var<storage, read> coefficients: array<f32>;
@group(0) @binding(2) var<storage, read> coefficients4: array<vec4f>;
// inference…: receives [mean | variance | invStd | scale | shift] (running-fold.wgsl).
@group(0) @binding(2) var<storage, read_write> stats: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<tensor>;
@group(0) @binding(3) var<storage, read_write> y4: array<tensor4>;
// The residual z, read only when RESIDUAL is set (without it any read-only tensor is bound here).
@group(0) @binding(4) var<storage, read> z: array<tensor>;
@group(0) @binding(4) var<storage, read> z4: array<tensor4>;
// inference…: the parameters and population statistics the fold reads.
@group(0) @binding(5) var<storage, read> gamma: array<f32>;
@group(0) @binding(6) var<storage, read> beta: array<f32>;
@group(0) @binding(7) var<storage, read> runningMean: array<f32>;
@group(0) @binding(8) var<storage, read> runningVar: array<f32>;

// spanOf(workgroup, workgroups, local): the units of one thread (elementwise-span.wgsl, put in
// front of this file).

// activate(v), activate4(v): relu when RELU is set (relu.wgsl, put in front of this file).

// The input of the activation at unit u: BN(x) + z[u] with a residual, BN(x) without. The sum is
// rounded once more; the backward never recomputes it (its relu mask is read from y).
fn preActivation(v: f32, u: u32) -> f32 {
  if (RESIDUAL) {
    return v + fromTensor(z[u]);
  }
  return v;
}

fn preActivation4(v: vec4f, u: u32) -> vec4f {
  if (RESIDUAL) {
    return v + fromTensor4(z4[u]);
  }
  return v;
}

fn applyAt(u: u32, scale: f32, shift: f32) {
  y[u] = toTensor(activate(preActivation(fma(fromTensor(x[u]), scale, shift), u)));
}

fn applyAt4(u: u32, scale: vec4f, shift: vec4f) {
  y4[u] = toTensor4(activate4(preActivation4(fma(fromTensor4(x4[u]), scale, shift), u)));
}

// One piece of a thread's units (a thread has one, but in the contiguous walk). The contiguous walk
// takes four units per loop step: a CPU adapter pays the loop's bound test and index update once per
// four. The strided walks keep one per step (a GPU's; on SwiftShader four per step was 5 % slower
// there).

fn applySpan(span: Span, scale: f32, shift: f32) {
  if (CONTIGUOUS) {
    var u = span.first;
    for (; u + 3u < span.end; u += 4u) {
      applyAt(u, scale, shift);
      applyAt(u + 1u, scale, shift);
      applyAt(u + 2u, scale, shift);
      applyAt(u + 3u, scale, shift);
    }
    for (; u < span.end; u += 1u) {
      applyAt(u, scale, shift);
    }
    return;
  }
  for (var u = span.first; u < span.end; u += span.step) {
    applyAt(u, scale, shift);
  }
}

fn applySpan4(span: Span, scale: vec4f, shift: vec4f) {
  if (CONTIGUOUS) {
    var u = span.first;
    for (; u + 3u < span.end; u += 4u) {
      applyAt4(u, scale, shift);
      applyAt4(u + 1u, scale, shift);
      applyAt4(u + 2u, scale, shift);
      applyAt4(u + 3u, scale, shift);
    }
    for (; u < span.end; u += 1u) {
      applyAt4(u, scale, shift);
    }
    return;
  }
  for (var u = span.first; u < span.end; u += span.step) {
    applyAt4(u, scale, shift);
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn applyScalar(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  var span = spanOf(workgroup, workgroups, local);
  while (span.first < span.end) {
    applySpan(span, coefficients[params.scaleOffset + span.channel], coefficients[params.shiftOffset + span.channel]);
    span = nextSpan(span);
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn applyVec4Run(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  var span = spanOf(workgroup, workgroups, local);
  while (span.first < span.end) {
    applySpan4(span, vec4f(coefficients[params.scaleOffset + span.channel]), vec4f(coefficients[params.shiftOffset + span.channel]));
    span = nextSpan(span);
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn applyVec4Channels(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  // By period only (inner' = 1): one span per thread.
  let span = spanOf(workgroup, workgroups, local);
  applySpan4(span, coefficients4[params.scaleOffset + span.channel], coefficients4[params.shiftOffset + span.channel]);
}

// The inference entry points. Thread t of the first slab's launch (base 0) also stores the folds of
// channels t, t + threads, …: every channel once, whatever the walk (a CPU adapter's contiguous
// walk may have fewer threads than channels).
fn storeFolds(t: u32) {
  if (params.base != 0u) {
    return;
  }
  for (var c = t; c < params.statsChannels; c += params.threads) {
    storeFolded(c, params.statsChannels, foldRunning(c));
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn inferenceScalar(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  storeFolds(gridThread(workgroup, workgroups, local));
  var span = spanOf(workgroup, workgroups, local);
  while (span.first < span.end) {
    let f = foldRunning(span.channel);
    applySpan(span, f.scale, f.shift);
    span = nextSpan(span);
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn inferenceVec4Run(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  storeFolds(gridThread(workgroup, workgroups, local));
  var span = spanOf(workgroup, workgroups, local);
  while (span.first < span.end) {
    let f = foldRunning(span.channel);
    applySpan4(span, vec4f(f.scale), vec4f(f.shift));
    span = nextSpan(span);
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn inferenceVec4Channels(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  storeFolds(gridThread(workgroup, workgroups, local));
  // By period only (inner' = 1): one span per thread, of channels 4c … 4c + 3.
  let span = spanOf(workgroup, workgroups, local);
  let c = 4u * span.channel;
  let f0 = foldRunning(c);
  let f1 = foldRunning(c + 1u);
  let f2 = foldRunning(c + 2u);
  let f3 = foldRunning(c + 3u);
  applySpan4(span, vec4f(f0.scale, f1.scale, f2.scale, f3.scale), vec4f(f0.shift, f1.shift, f2.shift, f3.shift));
}
