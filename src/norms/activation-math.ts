import type { NormActivation } from './norm-types';

/*
 * The fused activations of the norm family in float64, for the CPU path: values and derivatives.
 * GELU needs erf, which JavaScript lacks: erfc below uses W. J. Cody's rational Chebyshev
 * approximations ("Rational Chebyshev approximations for the error function", Math. Comp. 23
 * (1969), 631–638; the coefficients of his published CALERF), accurate to about 1e-16 relative on
 * three intervals of |x|, so GELU of a large negative input keeps its relative accuracy (erfc, not
 * 1 − erf, where erf is close to −1).
 */

/** erf(x) = x · P(x²) / Q(x²) for |x| ≤ 0.46875. */
const smallP = [3.1611237438705656, 113.864154151050156, 377.485237685302021, 3209.37758913846947, 0.185777706184603153];
const smallQ = [23.6012909523441209, 244.024637934444173, 1282.61652607737228, 2844.23683343917062];
/** erfc(x) = exp(−x²) · P(x) / Q(x) for 0.46875 < x ≤ 4. */
const middleP = [
  0.564188496988670089, 8.88314979438837594, 66.1191906371416295, 298.635138197400131, 881.95222124176909, 1712.04761263407058, 2051.07837782607147,
  1230.33935479799725, 2.15311535474403846e-8,
];
const middleQ = [15.7449261107098347, 117.693950891312499, 537.181101862009858, 1621.38957456669019, 3290.79923573345963, 4362.61909014324716, 3439.36767414372164, 1230.33935480374942];
/** erfc(x) = exp(−x²)/x · (1/√π − R(1/x²)/x²) for x > 4. */
const largeP = [0.305326634961232344, 0.360344899949804439, 0.125781726111229246, 0.0160837851487422766, 6.58749161529837803e-4, 0.0163153871373020978];
const largeQ = [2.56852019228982242, 1.87295284992346047, 0.527905102951428412, 0.0605183413124413191, 0.00233520497626869185];

const INV_SQRT_PI = 0.56418958354775628695;
/** Beyond this erfc(x) underflows to 0 in float64. */
const ERFC_ZERO_FROM = 26.543;

/**
 * Cody's ratio of polynomials in t, evaluated by Horner's rule as he orders the coefficients: the
 * numerator's leading one stored last (p[n], n = q.length), the denominator monic:
 *   num = (…((p[n]·t + p[0])·t + p[1])·t … + p[n−2])·t + p[n−1]
 *   den = (…((t + q[0])·t + q[1])·t … + q[n−2])·t + q[n−1]
 */
function ratio(p: readonly number[], q: readonly number[], t: number): number {
  const n = q.length;
  let num = p[n] * t;
  let den = t;
  for (let k = 0; k < n - 1; k++) {
    num = (num + p[k]) * t;
    den = (den + q[k]) * t;
  }
  return (num + p[n - 1]) / (den + q[n - 1]);
}

/** exp(−y²) without the rounding error of y² at large y: y split into a 1/16 multiple and the rest. */
function expMinusSquare(y: number): number {
  const coarse = Math.trunc(y * 16) / 16;
  return Math.exp(-coarse * coarse) * Math.exp(-(y - coarse) * (y + coarse));
}

/** erfc(|x|) for |x| > 0.46875. */
function erfcTail(y: number): number {
  if (y <= 4) return expMinusSquare(y) * ratio(middleP, middleQ, y);
  if (y >= ERFC_ZERO_FROM) return 0;
  const t = 1 / (y * y);
  return (expMinusSquare(y) * (INV_SQRT_PI - t * ratio(largeP, largeQ, t))) / y;
}

export function erf(x: number): number {
  const y = Math.abs(x);
  if (y <= 0.46875) return x * ratio(smallP, smallQ, x * x);
  if (Number.isNaN(y)) return NaN;
  const value = 1 - erfcTail(y);
  return x < 0 ? -value : value;
}

/** erfc(x) = 1 − erf(x), with its relative accuracy for large x. */
export function erfc(x: number): number {
  const y = Math.abs(x);
  if (y <= 0.46875) return 1 - x * ratio(smallP, smallQ, x * x);
  if (Number.isNaN(y)) return NaN;
  const tail = erfcTail(y);
  return x < 0 ? 2 - tail : tail;
}

const SQRT_HALF = Math.SQRT1_2;
const INV_SQRT_2PI = 0.3989422804014327;
/** √(2/π), the tanh form's scale, and its cubic coefficient (PyTorch's approximate='tanh'). */
const TANH_SCALE = 0.7978845608028654;
const TANH_CUBIC = 0.044715;

/** act(a) in float64. relu keeps NaN (as torch.relu); its bit-exact float32 form is the caller's. */
export function activate(activation: NormActivation, a: number): number {
  switch (activation) {
    case 'none':
      return a;
    case 'relu':
      return a > 0 || Number.isNaN(a) ? a : 0;
    case 'gelu':
      return 0.5 * a * erfc(-a * SQRT_HALF);
    case 'gelu-tanh':
      return 0.5 * a * (1 + Math.tanh(TANH_SCALE * (a + TANH_CUBIC * a * a * a)));
    case 'silu':
      return a / (1 + Math.exp(-a));
  }
}

/**
 * act'(a) in float64 for the activations whose backward recomputes a (gelu, gelu-tanh, silu); 1 for
 * 'none'. relu's mask is read from the forward's y instead (see cpu-norms.ts).
 */
export function activationDerivative(activation: NormActivation, a: number): number {
  switch (activation) {
    case 'none':
    case 'relu':
      return 1;
    case 'gelu':
      return 0.5 * erfc(-a * SQRT_HALF) + a * INV_SQRT_2PI * Math.exp(-0.5 * a * a);
    case 'gelu-tanh': {
      const t = Math.tanh(TANH_SCALE * (a + TANH_CUBIC * a * a * a));
      return 0.5 * (1 + t) + 0.5 * a * (1 - t * t) * TANH_SCALE * (1 + 3 * TANH_CUBIC * a * a);
    }
    case 'silu': {
      const s = 1 / (1 + Math.exp(-a));
      return s * (1 + a * (1 - s));
    }
  }
}
