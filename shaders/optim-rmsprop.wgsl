// #import grid
// torch.optim.RMSprop, one thread per parameter value (PyTorch's _single_tensor_rmsprop):
//
//   g ← −∇ if MAXIMIZE, else ∇
//   g ← g + λ·p                                    (WEIGHT_DECAY: λ ≠ 0)
//   s ← α·s + (1 − α)·g²
//   CENTERED: a ← α·a + (1 − α)·g,  avg ← sqrt(s − a²) + ε;  else avg ← sqrt(s) + ε
//   MOMENTUM (μ > 0): b ← μ·b + g / avg,  p ← p − γ·b;  else p ← p − γ·(g / avg)
//
// Segments as in optim-sgd.wgsl. RMSprop's formulas do not use the step count, so no `steps` is
// bound here; it is kept (advanced by optim-step.wgsl) because PyTorch's state dict records it.

struct Params {
  lr: f32,
  alpha: f32,
  oneMinusAlpha: f32, // 1 − α, rounded once from float64 on the host
  eps: f32,
  weightDecay: f32,
  momentum: f32,
}

override WORKGROUP_SIZE: u32;
override MAXIMIZE: bool;
override WEIGHT_DECAY: bool;
override CENTERED: bool;
override MOMENTUM: bool;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> squareAvg: array<f32>;
@group(0) @binding(4) var<storage, read_write> gradAvg: array<f32>;
@group(0) @binding(5) var<storage, read_write> momentumBuffer: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn rmspropStep(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let i = gridThread(workgroup, workgroups, local);
  if (i >= arrayLength(&param)) {
    return;
  }
  let p = param[i];
  var g = grad[i];
  if (MAXIMIZE) {
    g = -g;
  }
  if (WEIGHT_DECAY) {
    g = fma(params.weightDecay, p, g);
  }
  let s = fma(params.alpha, squareAvg[i], params.oneMinusAlpha * (g * g));
  squareAvg[i] = s;
  var avg: f32;
  if (CENTERED) {
    let a = fma(params.alpha, gradAvg[i], params.oneMinusAlpha * g);
    gradAvg[i] = a;
    avg = sqrt(s - a * a) + params.eps;
  } else {
    avg = sqrt(s) + params.eps;
  }
  if (MOMENTUM) {
    let b = fma(params.momentum, momentumBuffer[i], g / avg);
    momentumBuffer[i] = b;
    param[i] = p - params.lr * b;
  } else {
    param[i] = p - params.lr * (g / avg);
  }
}
