// #import activation norm-activation
// #expects CENTER RESIDUAL RELU GELU GELU_TANH SILU
// norm-gradient.wgsl's element gradient for a vec4 unit of one row, in the row-wise backward
// kernels (norm-rows-backward.wgsl), whose threads hold their units' γ and β in registers:
//   x̂ = (x − mean_r)·invStd_r,  g = dy·act'(a),  a = γ·x̂ + β (+ z),
// relu's gradient masked by the forward's y, by its bits (reluGradient4, activation.wgsl).

@group(0) @binding(1) var<storage, read> x4: array<vec4f>;
@group(0) @binding(2) var<storage, read> dy4: array<vec4f>;
// The saved statistics: mean (unless RMS norm, CENTER false) at meanOffset, invStd at invStdOffset.
@group(0) @binding(3) var<storage, read> rowStats: array<f32>;
@group(0) @binding(4) var<storage, read> gamma4: array<vec4f>;
@group(0) @binding(5) var<storage, read> beta4: array<vec4f>;
// relu: the forward's y; gelu, gelu-tanh, silu with a residual (RESIDUAL): z; otherwise x (unread).
@group(0) @binding(6) var<storage, read> saved4: array<vec4f>;

struct Gradient4 {
  g: vec4f,
  xhat: vec4f,
}

// Unit u of a row with statistics (mean, invStd) and parameters (γ, β).
fn gradient4(u: u32, mean: f32, invStd: f32, gamma: vec4f, beta: vec4f) -> Gradient4 {
  let xhat = (x4[u] - mean) * invStd;
  let d = dy4[u];
  var g = d;
  if (RELU) {
    g = reluGradient4(d, saved4[u]);
  } else if (GELU || GELU_TANH || SILU) {
    var a = gamma * xhat + beta;
    if (RESIDUAL) {
      a += saved4[u];
    }
    g = d * vec4f(normActivationDerivative(a.x), normActivationDerivative(a.y), normActivationDerivative(a.z), normActivationDerivative(a.w));
  }
  return Gradient4(g, xhat);
}
