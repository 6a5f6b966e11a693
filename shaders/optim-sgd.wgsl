// #import grid
// torch.optim.SGD, one thread per parameter value (PyTorch's _single_tensor_sgd, elementwise):
//
//   g ← −∇ if MAXIMIZE, else ∇
//   g ← g + λ·p                                  (WEIGHT_DECAY: λ ≠ 0)
//   b ← g on the first step, else μ·b + (1 − τ)·g  (MOMENTUM: μ ≠ 0)
//   g ← g + μ·b if NESTEROV, else b               (MOMENTUM)
//   p ← p − γ·g
//
// The binding range of `param` is one segment of the parameter (see src/optim/gpu-param.ts), so
// arrayLength(&param) is the segment's length; `grad` and `momentumBuffer` are bound over the same
// range. The step count lives in `steps[params.slot]` and is advanced by optim-step.wgsl after
// every parameter has been updated, so here it still counts the steps taken before this one.

struct Params {
  lr: f32,
  momentum: f32,
  oneMinusDampening: f32, // 1 − τ, rounded once from float64 on the host
  weightDecay: f32,
  slot: u32,              // this parameter's entry in `steps`
}

override WORKGROUP_SIZE: u32;
override MAXIMIZE: bool;
override WEIGHT_DECAY: bool;
override MOMENTUM: bool;
override NESTEROV: bool;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> steps: array<u32>;
@group(0) @binding(2) var<storage, read_write> param: array<f32>;
@group(0) @binding(3) var<storage, read> grad: array<f32>;
@group(0) @binding(4) var<storage, read_write> momentumBuffer: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn sgdStep(
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
  if (MOMENTUM) {
    var b = g;
    if (steps[params.slot] > 0u) {
      b = fma(params.momentum, momentumBuffer[i], params.oneMinusDampening * g);
    }
    momentumBuffer[i] = b;
    if (NESTEROV) {
      g = fma(params.momentum, b, g);
    } else {
      g = b;
    }
  }
  param[i] = p - params.lr * g;
}
