// #import activation norm-activation
// #expects params.meanOffset params.invStdOffset
// #expects CENTER RESIDUAL RELU GELU GELU_TANH SILU
// One element's part of the backward of layer, RMS, group and instance norm, shared by the three
// backward kernels (norm-backward-rows, -params, -apply.wgsl), which read x and dy once each:
//   x̂ = (x − mean_r)·invStd_r,  g = dy·act'(a),  a = γ_p·x̂ + β_p (+ z),
// with relu's gradient masked by the forward's y, by its bits (activation.wgsl, reluGradient), so
// the mask is the forward's output whatever either kernel rounded; the smooth activations' a is
// recomputed from x, the saved statistics, γ, β and (with a residual) z.

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
// The saved statistics: mean (unless RMS norm, CENTER false) at meanOffset, invStd at invStdOffset.
@group(0) @binding(3) var<storage, read> rowStats: array<f32>;
@group(0) @binding(4) var<storage, read> gamma: array<f32>;
@group(0) @binding(5) var<storage, read> beta: array<f32>;
// relu: the forward's y; gelu, gelu-tanh, silu with a residual (RESIDUAL): z; otherwise x (unread).
@group(0) @binding(6) var<storage, read> saved: array<f32>;

struct NormGradient {
  g: f32,
  xhat: f32,
  gamma: f32,
  invStd: f32,
}

// Element i, of row `row` and parameter p (the caller knows them from its walk, which spares an
// integer division or two per element: dear on CPU adapters).
fn normGradient(i: u32, row: u32, p: u32) -> NormGradient {
  let mean = select(0.0, rowStats[params.meanOffset + row], CENTER);
  let invStd = rowStats[params.invStdOffset + row];
  let xhat = (x[i] - mean) * invStd;
  let d = dy[i];
  var g = d;
  if (RELU) {
    g = reluGradient(d, saved[i]);
  } else if (GELU || GELU_TANH || SILU) {
    var a = gamma[p] * xhat + beta[p];
    if (RESIDUAL) {
      a += saved[i];
    }
    g = d * normActivationDerivative(a);
  }
  return NormGradient(g, xhat, gamma[p], invStd);
}
