/*
 * Float64 layer, RMS, group and instance norm, forward and backward, written the textbook way by
 * index arithmetic and sharing no code with the library:
 *   row r of element i = ⌊i / D⌋ (D = rowLength), parameter p = ⌊i / inner⌋ mod params;
 *   channels last (x stored [outer, inner, params]): p = i mod params, and with (o, s, p) the
 *   element's sample, spatial position and channel, i = (o·inner + s)·params + p, r = o·groups + ⌊p / (params/groups)⌋;
 *   mean_r = Σx / D, var_r = Σ(x − mean_r)² / D (RMS: mean_r = 0, var_r = Σx² / D),
 *   invStd_r = 1 / sqrt(var_r + eps), x̂ = (x − mean_r)·invStd_r,
 *   a = γ_p·x̂ + β_p (+ z),  y = act(a);
 *   g = dy·act'(a) (relu: dy where the forward's y > 0),  dz = g,
 *   dγ_p = Σ g·x̂,  dβ_p = Σ g,  h = g·γ_p,
 *   dx = invStd_r·(h − Σ_r h / D − x̂·Σ_r h·x̂ / D)   (RMS: without the Σ_r h / D term).
 * Browser-safe: the GPU harness page imports it too.
 */

export type ReferenceNormKind = 'layer' | 'rms' | 'group' | 'instance';
export type ReferenceNormActivation = 'none' | 'relu' | 'gelu' | 'gelu-tanh' | 'silu';

/** x as [outer, params, inner] (channelsLast: [outer, inner, params]); the params in `groups` groups; a row = (outer index, group). */
export interface ReferenceNormView {
  outer: number;
  params: number;
  inner: number;
  groups: number;
  channelsLast?: boolean;
}

export interface ReferenceNormParams {
  kind: ReferenceNormKind;
  view: ReferenceNormView;
  gamma?: ArrayLike<number>;
  beta?: ArrayLike<number>;
  eps: number;
  activation: ReferenceNormActivation;
  residual?: ArrayLike<number>;
  /** The statistics are the running ones (instance norm in inference): the backward has no row terms. */
  frozen?: boolean;
}

/**
 * The view of each op, from x's shape: layer and RMS norm over the trailing `normalized` dims; group
 * and instance norm with the channels on axis 1.
 */
export function referenceNormView(kind: ReferenceNormKind, shape: readonly number[], opts: { normalized?: number; groups?: number; channelsLast?: boolean } = {}): ReferenceNormView {
  const product = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);
  if (kind === 'layer' || kind === 'rms') {
    const k = opts.normalized ?? 1;
    return { outer: product(shape.slice(0, shape.length - k)), params: product(shape.slice(shape.length - k)), inner: 1, groups: 1 };
  }
  if (opts.channelsLast) {
    const channels = shape[shape.length - 1];
    return { outer: shape[0], params: channels, inner: product(shape.slice(1, -1)), groups: kind === 'instance' ? channels : opts.groups!, channelsLast: true };
  }
  const channels = shape[1];
  return { outer: shape[0], params: channels, inner: product(shape.slice(2)), groups: kind === 'instance' ? channels : opts.groups! };
}

export interface ReferenceNormForward {
  y: Float64Array;
  /** Per row; zeros for RMS norm. */
  mean: Float64Array;
  variance: Float64Array;
  invStd: Float64Array;
  /** The activation's input a = γ·x̂ + β (+ z). */
  preActivation: Float64Array;
}

export interface ReferenceNormStats {
  mean?: ArrayLike<number>;
  invStd: ArrayLike<number>;
}

export interface ReferenceNormBackward {
  dx: Float64Array;
  dgamma: Float64Array;
  dbeta: Float64Array;
  dz: Float64Array;
  /** g, the gradient at the activation's input. */
  g: Float64Array;
  mean: Float64Array;
  invStd: Float64Array;
}

const rowLengthOf = (v: ReferenceNormView) => (v.params / v.groups) * v.inner;

/** The parameter (channel, or position in the normalized shape) of element i. */
export function referenceParamOf(i: number, v: ReferenceNormView): number {
  return v.channelsLast ? i % v.params : Math.floor(i / v.inner) % v.params;
}

/** The row of element i: (sample, group) of its parameter. */
export function referenceRowOf(i: number, v: ReferenceNormView): number {
  if (!v.channelsLast) return Math.floor(i / rowLengthOf(v));
  const sample = Math.floor(i / (v.inner * v.params));
  return sample * v.groups + Math.floor(referenceParamOf(i, v) / (v.params / v.groups));
}

/** Each row's element indices, in memory order. */
export function referenceRowMembers(v: ReferenceNormView): number[][] {
  const rows: number[][] = Array.from({ length: v.outer * v.groups }, () => []);
  for (let i = 0; i < v.outer * v.params * v.inner; i++) rows[referenceRowOf(i, v)].push(i);
  return rows;
}

const paramOf = referenceParamOf;

/** erf in float64 to ~1e-13: its Maclaurin series below |x| = 3, erfc's continued fraction above. */
export function referenceErf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  let value: number;
  if (ax < 3) {
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 200; n++) {
      term *= (-ax * ax) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    value = (2 / Math.sqrt(Math.PI)) * sum;
  } else {
    // erfc(x) = exp(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + …))))), evaluated bottom-up.
    let fraction = ax;
    for (let k = 120; k >= 1; k--) fraction = ax + k / 2 / fraction;
    value = 1 - Math.exp(-ax * ax) / Math.sqrt(Math.PI) / fraction;
  }
  return x < 0 ? -value : value;
}

/** act(a) in float64. */
export function referenceActivation(activation: ReferenceNormActivation, a: number): number {
  switch (activation) {
    case 'none':
      return a;
    case 'relu':
      return a > 0 ? a : Number.isNaN(a) ? a : 0;
    case 'gelu':
      return 0.5 * a * (1 + referenceErf(a / Math.SQRT2));
    case 'gelu-tanh':
      return 0.5 * a * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (a + 0.044715 * a * a * a)));
    case 'silu':
      return a / (1 + Math.exp(-a));
  }
}

/** act'(a) in float64 (relu: not used, its mask comes from y). */
export function referenceActivationDerivative(activation: ReferenceNormActivation, a: number): number {
  switch (activation) {
    case 'none':
      return 1;
    case 'relu':
      return a > 0 ? 1 : 0;
    case 'gelu':
      return 0.5 * (1 + referenceErf(a / Math.SQRT2)) + (a * Math.exp(-0.5 * a * a)) / Math.sqrt(2 * Math.PI);
    case 'gelu-tanh': {
      const k = Math.sqrt(2 / Math.PI);
      const t = Math.tanh(k * (a + 0.044715 * a * a * a));
      return 0.5 * (1 + t) + 0.5 * a * (1 - t * t) * k * (1 + 3 * 0.044715 * a * a);
    }
    case 'silu': {
      const s = 1 / (1 + Math.exp(-a));
      return s * (1 + a * (1 - s));
    }
  }
}

function rowStatistics(x: ArrayLike<number>, p: ReferenceNormParams): { mean: Float64Array; variance: Float64Array } {
  const D = rowLengthOf(p.view);
  const members = referenceRowMembers(p.view);
  const mean = new Float64Array(members.length);
  const variance = new Float64Array(members.length);
  members.forEach((row, r) => {
    let sum = 0;
    if (p.kind !== 'rms') for (const i of row) sum += x[i];
    mean[r] = sum / D;
    let squares = 0;
    for (const i of row) squares += (x[i] - mean[r]) ** 2;
    variance[r] = squares / D;
  });
  return { mean, variance };
}

/** The normalized values x̂ and the activation's inputs a, for given statistics. */
function normalized(x: ArrayLike<number>, p: ReferenceNormParams, mean: ArrayLike<number>, invStd: ArrayLike<number>): { xhat: Float64Array; a: Float64Array } {
  const xhat = new Float64Array(x.length);
  const a = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const r = referenceRowOf(i, p.view);
    const q = paramOf(i, p.view);
    xhat[i] = (x[i] - (p.kind === 'rms' ? 0 : mean[r])) * invStd[r];
    a[i] = xhat[i] * (p.gamma ? p.gamma[q] : 1) + (p.beta ? p.beta[q] : 0) + (p.residual ? p.residual[i] : 0);
  }
  return { xhat, a };
}

/**
 * `given`: per-row statistics to normalize by instead of x's own (instance norm in inference: the
 * running statistics of each row's channel); mean and variance are then those.
 */
export function referenceNormForward(x: ArrayLike<number>, p: ReferenceNormParams, given?: { mean: ArrayLike<number>; variance: ArrayLike<number> }): ReferenceNormForward {
  const { mean, variance } = given ? { mean: Float64Array.from(given.mean), variance: Float64Array.from(given.variance) } : rowStatistics(x, p);
  const invStd = variance.map((v) => 1 / Math.sqrt(v + p.eps));
  const { a } = normalized(x, p, mean, invStd);
  return { y: a.map((v) => referenceActivation(p.activation, v)), mean, variance, invStd, preActivation: a };
}

/**
 * Gradients for dy at the forward of `p`. `stats`: the statistics the forward normalized with (the
 * saved mean and invStd, as the kernels get them); default the float64 ones of x. `y`: the forward
 * output the relu mask is read from; default the float64 forward's.
 */
export function referenceNormBackward(dy: ArrayLike<number>, x: ArrayLike<number>, p: ReferenceNormParams, stats?: ReferenceNormStats, y?: ArrayLike<number>): ReferenceNormBackward {
  const D = rowLengthOf(p.view);
  const rows = x.length / D;
  let mean: Float64Array;
  let invStd: Float64Array;
  if (stats) {
    mean = Float64Array.from(stats.mean ?? new Float64Array(rows));
    invStd = Float64Array.from(stats.invStd);
  } else {
    const own = referenceNormForward(x, p);
    mean = own.mean;
    invStd = own.invStd;
  }
  const { xhat, a } = normalized(x, p, mean, invStd);
  const output = y ?? a.map((v) => referenceActivation(p.activation, v));
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    g[i] = p.activation === 'relu' ? (output[i] > 0 ? dy[i] : 0) : dy[i] * referenceActivationDerivative(p.activation, a[i]);
  }
  const dgamma = new Float64Array(p.view.params);
  const dbeta = new Float64Array(p.view.params);
  const h = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const q = paramOf(i, p.view);
    dgamma[q] += g[i] * xhat[i];
    dbeta[q] += g[i];
    h[i] = g[i] * (p.gamma ? p.gamma[q] : 1);
  }
  const dx = new Float64Array(x.length);
  referenceRowMembers(p.view).forEach((row, r) => {
    let sumH = 0;
    let sumHX = 0;
    for (const i of row) {
      sumH += h[i];
      sumHX += h[i] * xhat[i];
    }
    // Frozen statistics (instance norm in inference) are constants of x: no row terms.
    const centre = p.kind === 'rms' || p.frozen ? 0 : sumH / D;
    const slope = p.frozen ? 0 : sumHX / D;
    for (const i of row) dx[i] = invStd[r] * (h[i] - centre - xhat[i] * slope);
  });
  return { dx, dgamma, dbeta, dz: g, g, mean, invStd };
}
