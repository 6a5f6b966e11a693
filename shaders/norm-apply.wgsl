// #import elementwise-span norm-activation
// The forward output of layer, RMS, group and instance norm:
//   y = act(γ_p·((x − mean_r)·invStd_r) + β_p (+ z)),  row r = ⌊i / D⌋, parameter p = ⌊i / inner⌋ mod params
// (CHANNELS_LAST, group and instance norm on NLC, NHWC, NDHWC: x is [N, spatial, C], walked as
// [N·spatial, C, 1]: p = i mod C, r = ⌊i / (spatial·C)⌋·G + ⌊p / (C/G)⌋).
// The tensor is walked as apply.wgsl walks it (elementwise-span.wgsl), with the parameters in the
// place of the channels ([outer, params, inner] in units): each thread keeps one parameter, so it
// loads γ_p and β_p once, and looks up its row's statistics per unit (a row holds params / groups
// parameters, so a thread's units cross rows). x − mean is taken first, unlike batch norm's
// fma(x, scale, shift): for data like 1e4 ± 1 it is exact or nearly so, where x·scale and shift
// would each be rounded at the size of the mean.
//
// Entry points: normApplyScalar (any shape), normApplyVec4Run (inner % 4 == 0: the four lanes share
// a parameter and a row), normApplyVec4Channels (inner == 1, params % 4 == 0 and D % 4 == 0: the
// lanes are four consecutive parameters of one row). Tensors are float32 (the family has no
// float16 API yet).

struct Params {
  units: u32,          // units in this slab
  base: u32,           // global index of the slab's first unit
  channels: u32,       // parameters in units: params, or params / 4 for normApplyVec4Channels
  inner: u32,          // inner in units
  stride: u32,
  segment: u32,
  firstRun: u32,
  threads: u32,
  rowUnits: u32,       // D in units
  meanOffset: u32,     // index of mean[0] in rowStats
  invStdOffset: u32,   // index of invStd[0] in rowStats
  sampleUnits: u32,    // CHANNELS_LAST: one sample's units (spatial·C, in units)
  groups: u32,         // CHANNELS_LAST: G
  groupUnits: u32,     // CHANNELS_LAST: C / G in units
}

override WORKGROUP_SIZE: u32;
override RUNS: bool;
override RESIDUAL: bool;
// false for RMS norm, which subtracts no mean (its rowStats' mean block is then never read).
override CENTER: bool;
override CHANNELS_LAST: bool;
override RELU: bool;
override GELU: bool;
override GELU_TANH: bool;
override SILU: bool;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> x4: array<vec4f>;
@group(0) @binding(2) var<storage, read> rowStats: array<f32>;
@group(0) @binding(3) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> gamma4: array<vec4f>;
@group(0) @binding(4) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read> beta4: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read_write> y4: array<vec4f>;
// The residual z, read only when RESIDUAL is set (without it x is bound here).
@group(0) @binding(6) var<storage, read> z: array<f32>;
@group(0) @binding(6) var<storage, read> z4: array<vec4f>;

// The row of slab unit u (in units of the launch's width), whose parameter (in units) is `channel`.
fn rowOf(u: u32, channel: u32) -> u32 {
  if (CHANNELS_LAST) {
    return ((params.base + u) / params.sampleUnits) * params.groups + channel / params.groupUnits;
  }
  return (params.base + u) / params.rowUnits;
}

// The mean and invStd of slab unit u's row.
fn normalizedRow(u: u32, channel: u32) -> vec2f {
  let row = rowOf(u, channel);
  let mean = select(0.0, rowStats[params.meanOffset + row], CENTER);
  return vec2f(mean, rowStats[params.invStdOffset + row]);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn normApplyScalar(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let span = spanOf(workgroup, workgroups, local);
  let g = gamma[span.channel];
  let b = beta[span.channel];
  for (var u = span.first; u < span.end; u += params.stride) {
    let s = normalizedRow(u, span.channel);
    var a = g * ((x[u] - s.x) * s.y) + b;
    if (RESIDUAL) {
      a += z[u];
    }
    y[u] = normActivate(a);
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn normApplyVec4Run(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let span = spanOf(workgroup, workgroups, local);
  let g = vec4f(gamma[span.channel]);
  let b = vec4f(beta[span.channel]);
  for (var u = span.first; u < span.end; u += params.stride) {
    let s = normalizedRow(u, span.channel);
    var a = g * ((x4[u] - s.x) * s.y) + b;
    if (RESIDUAL) {
      a += z4[u];
    }
    y4[u] = vec4f(normActivate(a.x), normActivate(a.y), normActivate(a.z), normActivate(a.w));
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn normApplyVec4Channels(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let span = spanOf(workgroup, workgroups, local);
  let g = gamma4[span.channel];
  let b = beta4[span.channel];
  for (var u = span.first; u < span.end; u += params.stride) {
    let s = normalizedRow(u, span.channel);
    var a = g * ((x4[u] - s.x) * s.y) + b;
    if (RESIDUAL) {
      a += z4[u];
    }
    y4[u] = vec4f(normActivate(a.x), normActivate(a.y), normActivate(a.z), normActivate(a.w));
  }
}
