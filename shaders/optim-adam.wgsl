// #import grid
// torch.optim.Adam and AdamW, one thread per parameter value (PyTorch's _single_tensor_adam):
//
//   t ← t + 1
//   g ← −∇ if MAXIMIZE, else ∇
//   AdamW: p ← p·(1 − γ·λ)      Adam: g ← g + λ·p          (WEIGHT_DECAY: λ ≠ 0)
//   m ← β1·m + (1 − β1)·g,  v ← β2·v + (1 − β2)·g²
//   v_max ← max(v_max, v)                                    (AMSGRAD; then v_max replaces v below)
//   step_size ← γ / (1 − β1^t),  denom ← sqrt(v) / sqrt(1 − β2^t) + ε
//   p ← p − step_size · (m / denom)
//
// Bindings and segments as in optim-sgd.wgsl. t comes from `steps`, which optim-step.wgsl advances
// after this kernel, so the step being taken is steps[slot] + 1.

struct Params {
  lr: f32,
  beta1: f32,
  beta2: f32,
  oneMinusBeta1: f32, // 1 − β1 and 1 − β2, rounded once from float64 on the host
  oneMinusBeta2: f32,
  eps: f32,
  weightDecay: f32,   // Adam: the L2 coefficient λ
  decay: f32,         // AdamW: 1 − γ·λ, from float64 on the host
  slot: u32,          // this parameter's entry in `steps`
}

override WORKGROUP_SIZE: u32;
override MAXIMIZE: bool;
override WEIGHT_DECAY: bool;
override DECOUPLED: bool;
override AMSGRAD: bool;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> steps: array<u32>;
@group(0) @binding(2) var<storage, read_write> param: array<f32>;
@group(0) @binding(3) var<storage, read> grad: array<f32>;
@group(0) @binding(4) var<storage, read_write> expAvg: array<f32>;
@group(0) @binding(5) var<storage, read_write> expAvgSq: array<f32>;
@group(0) @binding(6) var<storage, read_write> maxExpAvgSq: array<f32>;

// Bias correction 1 − β^t, given d = 1 − β. Forming β^t and subtracting it from 1 would cancel
// (β2 = 0.999: 1 − β2^1 keeps only ~13 of 24 bits, and f32 pow is looser still), so this powers
// c_k = 1 − β^k directly, by the bits of t from the top:
//   doubling  c_2k   = 1 − (β^k)² = c_k·(2 − c_k)
//   increment c_k+1  = 1 − β·β^k  = c_k + (1 − c_k)·d
// Neither step amplifies the relative error of c, so 1 − β^t carries a few ulps per bit of t.
fn oneMinusPow(d: f32, t: u32) -> f32 {
  var c = 0.0;
  for (var bit = i32(firstLeadingBit(t)); bit >= 0; bit -= 1) {
    c = c * (2.0 - c);
    if (((t >> u32(bit)) & 1u) == 1u) {
      c = fma(1.0 - c, d, c);
    }
  }
  return c;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn adamStep(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let i = gridThread(workgroup, workgroups, local);
  if (i >= arrayLength(&param)) {
    return;
  }
  let t = steps[params.slot] + 1u;
  var p = param[i];
  var g = grad[i];
  if (MAXIMIZE) {
    g = -g;
  }
  if (WEIGHT_DECAY) {
    if (DECOUPLED) {
      p = p * params.decay;
    } else {
      g = fma(params.weightDecay, p, g);
    }
  }
  let m = fma(params.beta1, expAvg[i], params.oneMinusBeta1 * g);
  var v = fma(params.beta2, expAvgSq[i], params.oneMinusBeta2 * (g * g));
  expAvg[i] = m;
  expAvgSq[i] = v;
  if (AMSGRAD) {
    v = max(maxExpAvgSq[i], v);
    maxExpAvgSq[i] = v;
  }
  let stepSize = params.lr / oneMinusPow(params.oneMinusBeta1, t);
  let denom = sqrt(v) / sqrt(oneMinusPow(params.oneMinusBeta2, t)) + params.eps;
  param[i] = p - stepSize * (m / denom);
}
