// #import activation
// #expects RELU GELU GELU_TANH SILU
// The activations of the normalization family beside relu (activation.wgsl, decided on bits):
// GELU in its erf form, its tanh approximation, and SiLU, with their derivatives for the backward.
// The including kernel declares one `override …: bool` per activation (at most one set; none set is
// the identity), so each pipeline holds only its own activation's code.
//
// Both sigmoid-shaped ones are written as a·σ(t), with no cancellation anywhere:
//   gelu-tanh(a) = ½a(1 + tanh(u)) = a·σ(2u), u = √(2/π)(a + 0.044715a³),   silu(a) = a·σ(a),
// σ(t) = 1 / (1 + exp(−t)). WGSL's exp is accurate to 3 + 2|x| ULP; its tanh only "inherits" the
// accuracy of sinh/cosh, i.e. of (exp(x) ∓ exp(−x)) / 2, which overflows (∞/∞) well before tanh
// saturates, so tanh is not used. The argument of exp is clamped to ≤ 80 (e^80 ≈ 5.5e34 is finite
// in float32): beyond, σ(t) < 2e-35 either way. The errors these forms keep are stated (and used as
// tolerances) in the tests' norm tolerances: relative ε·(10 + 10|t|) for a·σ(t).
//
// erf has no WGSL builtin: Abramowitz & Stegun 7.1.26, erf(x) = 1 − t·P(t)·exp(−x²), t = 1/(1 + px)
// for x ≥ 0 (odd symmetry below), whose approximation error is at most 1.5e-7 absolute. Evaluated in
// float32 with an exactly rounded exp, the error stays below 1.5e-7 + 7ε (ε = 2^-24; every float32
// in [0, 12] at steps of 6e-6, against a float64 erf); WGSL's exp (3 + 2x² ULP, times e^(−x²) ≤ 1,
// times P·t < 1) adds at most 6ε more. The stated bound, which the tests use, is
// |erf − erfApprox| ≤ 1.5e-7 + 32ε absolute.
// |x| is clamped at 10 (erf(10) rounds to 1 in float32), so x² never overflows.

const ERF_P: f32 = 0.3275911;
const ERF_A1: f32 = 0.254829592;
const ERF_A2: f32 = -0.284496736;
const ERF_A3: f32 = 1.421413741;
const ERF_A4: f32 = -1.453152027;
const ERF_A5: f32 = 1.061405429;
const FRAC_1_SQRT_2: f32 = 0.70710678118654752;
// 1 / √(2π), for the derivative of the erf form, and √(2/π), GELU-tanh's scale of u.
const FRAC_1_SQRT_2PI: f32 = 0.39894228040143268;
const SQRT_2_OVER_PI: f32 = 0.79788456080286536;
const GELU_TANH_CUBIC: f32 = 0.044715;
const EXP_ARGUMENT_MAX: f32 = 80.0;

fn erfApprox(x: f32) -> f32 {
  let ax = min(abs(x), 10.0);
  let t = 1.0 / (1.0 + ERF_P * ax);
  let poly = t * (ERF_A1 + t * (ERF_A2 + t * (ERF_A3 + t * (ERF_A4 + t * ERF_A5))));
  let value = 1.0 - poly * exp(-ax * ax);
  return select(value, -value, x < 0.0);
}

// exp(−t), its argument clamped (see above).
fn expNeg(t: f32) -> f32 {
  return exp(min(-t, EXP_ARGUMENT_MAX));
}

// t of the sigmoid form a·σ(t): 2u for gelu-tanh (a clamped to ±20, where 2u is far beyond the
// clamp of exp already, so a³ cannot overflow), a for silu.
fn sigmoidArgument(a: f32) -> f32 {
  if (GELU_TANH) {
    let c = clamp(a, -20.0, 20.0);
    return 2.0 * SQRT_2_OVER_PI * (c + GELU_TANH_CUBIC * c * c * c);
  }
  return a;
}

// act(a): the activation after the normalization (and the residual add).
fn normActivate(a: f32) -> f32 {
  if (RELU) {
    return relu(a);
  }
  if (GELU) {
    return 0.5 * a * (1.0 + erfApprox(a * FRAC_1_SQRT_2));
  }
  if (GELU_TANH || SILU) {
    return a / (1.0 + expNeg(sigmoidArgument(a)));
  }
  return a;
}

// act'(a) for the smooth activations (relu's gradient is masked by the forward's y instead:
// activation.wgsl, reluGradient); 1 for none.
//   gelu:       Φ(a) + a·φ(a) = ½(1 + erf(a/√2)) + a·e^(−a²/2)/√(2π)
//   a·σ(t):     σ + a·σ(1 − σ)·t'(a), with 1 − σ = e·σ for e = exp(−t) (no cancellation),
//               t' = 2√(2/π)(1 + 3·0.044715a²) for gelu-tanh (0 where a was clamped), 1 for silu.
fn normActivationDerivative(a: f32) -> f32 {
  if (GELU) {
    return 0.5 * (1.0 + erfApprox(a * FRAC_1_SQRT_2)) + a * exp(max(-0.5 * a * a, -EXP_ARGUMENT_MAX)) * FRAC_1_SQRT_2PI;
  }
  if (GELU_TANH || SILU) {
    let e = expNeg(sigmoidArgument(a));
    let s = 1.0 / (1.0 + e);
    var slope = 1.0;
    if (GELU_TANH) {
      let c = clamp(a, -20.0, 20.0);
      slope = select(0.0, 2.0 * SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_TANH_CUBIC * c * c), abs(a) <= 20.0);
    }
    return s + a * (s * (e * s)) * slope;
  }
  return 1.0;
}
