import { activate, activationDerivative } from './activation-math';
import { runningRowStatistics, updatedInstanceRunning } from './instance-running';
import type { CheckedNormSaved, NormBackwardResult, NormForwardResult, NormView, ResolvedNormBackwardOptions, ResolvedNormOptions } from './norm-types';

/*
 * The norm family on the CPU: the fallback without WebGPU and what verify mode checks a GPU
 * against. Float64 throughout, each output rounded to float32 once on store. Per row r of D values
 * (norm-types.ts, NormView), with p the element's parameter:
 *   mean_r = Σx / D, var_r = Σ(x − mean_r)² / D        (RMS: mean_r = 0, var_r = Σx² / D)
 *   invStd_r = 1 / sqrt(var_r + eps), x̂ = (x − mean_r) · invStd_r
 *   a = γ_p · x̂ + β_p (+ z),  y = act(a)
 * and backward, with g = dy · act'(a) (relu: dy where the forward's y > 0), h = g · γ_p:
 *   dγ_p = Σ g·x̂, dβ_p = Σ g, dz = g,  dx = invStd_r · (h − Σ_r h / D − x̂ · Σ_r h·x̂ / D)
 *   (RMS: without the Σ_r h / D term, its mean being 0 and not a function of x).
 * Instance norm with `training: false` takes its row statistics from the running ones
 * (instance-running.ts), constants of x: dx = invStd_r · h.
 * Two passes over each row (mean, then the centred squares) cost little and keep data like 1e4 ± 1
 * exact where E[x²] − E[x]² would lose it. Both walk x as runs that share a row and a parameter
 * (forEachRun), so channels-last views (a row strided through memory) take the same code.
 */

const FLOAT32_MAX = 3.4028234663852886e38;

/** NaN for a float64 value that is not a finite float32 (as batch norm's backward-finalize). */
function finiteOrNaN(value: number): number {
  return Number.isFinite(Math.fround(value)) ? value : NaN;
}

/**
 * Per-row mean and biased variance (RMS: 0 and mean(x²)). As batch norm's channelMoments (the GPU's
 * rule): a row holding NaN or ±Inf, or whose sum of squares exceeds float32's range, where a GPU's
 * float32 sums overflow, gets NaN for both, so its outputs are NaN on every path.
 */
function rowMoments(x: Float32Array, view: NormView, rms: boolean): { mean: Float64Array; variance: Float64Array } {
  const { rows, rowLength: D } = view;
  const mean = new Float64Array(rows);
  const squares = new Float64Array(rows);
  if (!rms) {
    forEachRun(view, (start, end, step, r) => {
      let sum = 0;
      for (let i = start; i < end; i += step) sum += x[i];
      mean[r] += sum;
    });
    for (let r = 0; r < rows; r++) mean[r] /= D;
  }
  forEachRun(view, (start, end, step, r) => {
    const m = mean[r];
    let sum = 0;
    for (let i = start; i < end; i += step) {
      const d = x[i] - m;
      sum += d * d;
    }
    squares[r] += sum;
  });
  const variance = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    if (!Number.isFinite(mean[r]) || !(squares[r] <= FLOAT32_MAX)) {
      mean[r] = NaN;
      variance[r] = NaN;
    } else {
      variance[r] = squares[r] / D;
    }
  }
  return { mean, variance };
}

/**
 * Visits x as runs of values that share their row and parameter, the element indices start,
 * start + step, … < end: x as [outer, params, inner] (runs of `inner` contiguous values, step 1)
 * or, channels last, [outer, inner, params] (a parameter's `inner` values of one sample, step
 * params); the params in view.groups groups, row = outer index · groups + group. The caller loops
 * over the run, with the row's and parameter's values in local variables.
 */
function forEachRun(view: NormView, visit: (start: number, end: number, step: number, row: number, param: number) => void): void {
  const { outer, params, inner, groups } = view;
  const perGroup = params / groups;
  if (view.channelsLast) {
    const sample = inner * params;
    for (let o = 0; o < outer; o++) {
      for (let p = 0; p < params; p++) visit(o * sample + p, (o + 1) * sample, params, o * groups + Math.floor(p / perGroup), p);
    }
    return;
  }
  for (let o = 0, i = 0; o < outer; o++) {
    for (let p = 0; p < params; p++, i += inner) visit(i, i + inner, 1, o * groups + Math.floor(p / perGroup), p);
  }
}

export function cpuNormForward(x: Float32Array, o: ResolvedNormOptions): NormForwardResult {
  const rms = o.kind === 'rms';
  const { running } = o;
  const frozen = running !== undefined && !running.training;
  const { mean, variance } = frozen ? runningRowStatistics(running, o.view, o.eps) : rowMoments(x, o.view, rms);
  const invStd = variance.map((v) => 1 / Math.sqrt(v + o.eps));
  const { gamma, beta, residual, activation } = o;
  const y = new Float32Array(o.view.size);
  const plain = activation === 'none' || activation === 'relu';
  forEachRun(o.view, (start, end, step, r, p) => {
    // a = x·scale + shift with the row's mean inside: (x − mean) is formed first, so nothing cancels.
    const m = mean[r];
    const scale = invStd[r] * (gamma ? gamma[p] : 1);
    const shift = beta ? beta[p] : 0;
    for (let i = start; i < end; i += step) {
      const a = (x[i] - m) * scale + shift + (residual ? residual[i] : 0);
      y[i] = plain ? a : activate(activation, a);
    }
  });
  // relu on the rounded value, as batch norm's CPU path and activation.wgsl: y ≤ 0 (−0 and −Inf
  // included) becomes +0, NaN stays NaN, so every path gives the same bits.
  if (activation === 'relu') for (let i = 0; i < y.length; i++) if (y[i] <= 0) y[i] = 0;
  const result: NormForwardResult = { y, invStd: Float32Array.from(invStd) };
  if (!rms) result.mean = Float32Array.from(mean);
  if (running) Object.assign(result, frozen ? { runningMean: running.runningMean.slice(), runningVar: running.runningVar.slice() } : updatedInstanceRunning(running, o.convention, o.view, mean, variance));
  return result;
}

export function cpuNormBackward(dy: Float32Array, x: Float32Array, o: ResolvedNormBackwardOptions, saved: CheckedNormSaved): NormBackwardResult {
  const { view, gamma, beta, activation } = o;
  const rms = o.kind === 'rms';
  const z = o.residual instanceof Float32Array ? o.residual : undefined;
  const { invStd, y } = saved;
  const mean = saved.mean;
  const size = view.size;
  const g = new Float64Array(size);
  const xhat = new Float64Array(size);
  const dgamma = new Float64Array(view.params);
  const dbeta = new Float64Array(view.params);
  const sumH = new Float64Array(view.rows);
  const sumHX = new Float64Array(view.rows);
  forEachRun(view, (start, end, step, r, p) => {
    const m = mean ? mean[r] : 0;
    const inv = invStd[r];
    const scale = gamma ? gamma[p] : 1;
    const shift = beta ? beta[p] : 0;
    let sumG = 0;
    let sumGX = 0;
    for (let i = start; i < end; i += step) {
      const xh = (x[i] - m) * inv;
      let gi: number;
      if (activation === 'relu') gi = y![i] > 0 ? dy[i] : 0; // the forward's own mask, NaN and ±0 masked
      else if (activation === 'none') gi = dy[i];
      else gi = dy[i] * activationDerivative(activation, scale * xh + shift + (z ? z[i] : 0));
      g[i] = gi;
      xhat[i] = xh;
      sumG += gi;
      sumGX += gi * xh;
    }
    dgamma[p] += sumGX;
    dbeta[p] += sumG;
    sumH[r] += sumG * scale;
    sumHX[r] += sumGX * scale;
  });
  const D = view.rowLength;
  // As the GPU's float32 sums: a row sum a float32 would not hold makes that row's dx NaN.
  // Frozen statistics (instance norm, training: false) do not depend on x: no row terms.
  const frozen = o.running !== undefined && !o.running.training;
  const centre = sumH.map((s) => (rms || frozen ? 0 : finiteOrNaN(s) / D));
  const slope = sumHX.map((s) => (frozen ? 0 : finiteOrNaN(s) / D));
  const dx = new Float32Array(size);
  forEachRun(view, (start, end, step, r, p) => {
    const inv = invStd[r];
    const scale = gamma ? gamma[p] : 1;
    const c = centre[r];
    const k = slope[r];
    for (let i = start; i < end; i += step) dx[i] = inv * (g[i] * scale - c - xhat[i] * k);
  });
  const result: NormBackwardResult = { dx, dgamma: Float32Array.from(dgamma, finiteOrNaN) };
  if (!rms) result.dbeta = Float32Array.from(dbeta, finiteOrNaN);
  if (o.residual !== undefined) result.dz = Float32Array.from(g);
  return result;
}
