// #import norm-gradient workgroup-sum finite grid
// The parameter gradients of the norm backward: dγ_p = Σ g·x̂, dβ_p = Σ g over the outer · inner
// elements of p, each with its own row's statistics (norm-gradient.wgsl), each written where its
// buffer is given (DGAMMA, DBETA). Two entry points (grids folded past 65 535 workgroups):
// - normBackwardParams: a workgroup per parameter, for inner > 1 (group and instance norm), whose
//   elements come in runs of inner values: the threads take every WORKGROUP_SIZE-th, then a
//   workgroup sum;
// - normBackwardParamsColumns: a thread per parameter, for inner == 1 (layer and RMS norm), where a
//   parameter's elements are a column, one per row: neighbouring threads read neighbouring values
//   of each row, and each thread adds its column in blocks of 16 (a block's sum, then the running
//   sum), so no chain of additions is longer than 16 + outer / 16. It serves channels-last group and
//   instance norm too (CHANNELS_LAST), where a parameter's elements are a column of the
//   outer · inner positions, the row's sample being the position / inner.

struct Params {
  inner: u32,
  params: u32,
  meanOffset: u32,
  invStdOffset: u32,
  outer: u32,
  groups: u32,
  nan: f32,   // a quiet NaN (writeParam)
}

override WORKGROUP_SIZE: u32;
override CENTER: bool;
override CHANNELS_LAST: bool;
override RESIDUAL: bool;
override RELU: bool;
override GELU: bool;
override GELU_TANH: bool;
override SILU: bool;
override DGAMMA: bool;
override DBETA: bool;

@group(0) @binding(0) var<uniform> params: Params;
// Bindings 1–6: norm-gradient.wgsl.
// Placeholders, never written, where DGAMMA or DBETA is false.
@group(0) @binding(7) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(8) var<storage, read_write> dbeta: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn normBackwardParams(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let p = gridWorkgroup(workgroup, workgroups);
  var sums = vec2f(0.0);
  if (p < params.params) {
    let count = params.outer * params.inner;
    let group = p / (params.params / params.groups);
    for (var k = local; k < count; k += WORKGROUP_SIZE) {
      let o = k / params.inner;
      let i = (o * params.params + p) * params.inner + (k - o * params.inner);
      let q = normGradient(i, o * params.groups + group, p);
      sums += vec2f(q.g * q.xhat, q.g);
    }
  }
  let total = workgroupSum(local, sums);
  if (local == 0u && p < params.params) {
    writeParam(p, total);
  }
}

// dγ and dβ, each NaN where it is not finite (finite.wgsl).
fn writeParam(p: u32, sums: vec2f) {
  let total = finiteOrNaN2(sums, params.nan);
  if (DGAMMA) {
    dgamma[p] = total.x;
  }
  if (DBETA) {
    dbeta[p] = total.y;
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn normBackwardParamsColumns(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let p = gridThread(workgroup, workgroups, local);
  if (p >= params.params) {
    return;
  }
  let group = p / (params.params / params.groups);
  var total = vec2f(0.0);
  let count = select(params.outer, params.outer * params.inner, CHANNELS_LAST);
  for (var first = 0u; first < count; first += 16u) {
    var block = vec2f(0.0);
    for (var o = first; o < min(first + 16u, count); o += 1u) {
      let sample = select(o, o / params.inner, CHANNELS_LAST);
      let q = normGradient(o * params.params + p, sample * params.groups + group, p);
      block += vec2f(q.g * q.xhat, q.g);
    }
    total += block;
  }
  writeParam(p, total);
}
