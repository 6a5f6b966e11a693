// #import norm-gradient workgroup-sum
// The parameter gradients of the norm backward, a workgroup per parameter p (grid folded past
// 65 535): dγ_p = Σ g·x̂, dβ_p = Σ g over the outer · inner elements of p, each with its own row's
// statistics (norm-gradient.wgsl), each written where its buffer is given (DGAMMA, DBETA).

struct Params {
  rowLength: u32,
  inner: u32,
  params: u32,
  meanOffset: u32,
  invStdOffset: u32,
  outer: u32,
}

override WORKGROUP_SIZE: u32;
override CENTER: bool;
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
  let p = workgroup.x + workgroup.y * workgroups.x;
  var sums = vec2f(0.0);
  if (p < params.params) {
    let count = params.outer * params.inner;
    for (var k = local; k < count; k += WORKGROUP_SIZE) {
      let o = k / params.inner;
      let i = (o * params.params + p) * params.inner + (k - o * params.inner);
      let q = normGradient(i);
      sums += vec2f(q.g * q.xhat, q.g);
    }
  }
  let total = workgroupSum(local, sums);
  if (local == 0u && p < params.params) {
    if (DGAMMA) {
      dgamma[p] = total.x;
    }
    if (DBETA) {
      dbeta[p] = total.y;
    }
  }
}
