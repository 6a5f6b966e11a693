import { checkSaved, type CheckedSaved, type ResolvedBackwardOptions } from '../backward-options';
import { checkInput } from '../options';
import type { BackwardResult } from '../types';
import { applyBackward, backwardSums, type BackwardCoefficients } from './backward-sums';
import { inverseStd } from './scale-shift';

/*
 * The backward pass on the CPU: the fallback without WebGPU and the reference verify mode checks the
 * GPU against. Float64 throughout, each output rounded to float32 once. With x̂ = (x − mean)·invStd
 * and M values per channel:
 *   dbeta = Σ dy,  dgamma = Σ dy·x̂,
 *   dx = γ·invStd/M · (M·dy − dbeta − x̂·dgamma)   (training; the statistics depend on x)
 *   dx = γ·invStd · dy                             (eval; frozen running statistics)
 * written as dx = k·dy + c + m·(x − mean) like the GPU kernels, so large means never cancel.
 * With a residual (y = act(BN(x) + z)), dz = dy after the relu mask, which y decides as without one.
 */

/** The statistics the forward normalized with: the saved batch statistics, or the running ones. */
export function normalizingStats(o: ResolvedBackwardOptions, saved: CheckedSaved): { mean: ArrayLike<number>; invStd: ArrayLike<number> } {
  if (o.mode === 'train') return { mean: saved.mean!, invStd: saved.invStd! };
  return { mean: o.runningMean!, invStd: inverseStd(o.runningVar!, o.eps) };
}

/**
 * dy with the relu mask applied: dy where the forward's output y > 0, 0 elsewhere (±0, negative
 * values, NaN), exactly the GPU kernels' bit test on y (activation.wgsl). JavaScript compares
 * float32 values exactly, NaN included, so both paths mask the same elements for the same y.
 */
function maskedDy(dy: Float32Array, o: ResolvedBackwardOptions, y: Float32Array | undefined): Float32Array {
  if (o.activation !== 'relu') return dy;
  const masked = new Float32Array(dy.length);
  for (let i = 0; i < dy.length; i++) masked[i] = y![i] > 0 ? dy[i] : 0;
  return masked;
}

function finiteOrNaN(value: number): number {
  return Number.isFinite(Math.fround(value)) ? value : NaN;
}

export function cpuBackward(dy: Float32Array, x: Float32Array, o: ResolvedBackwardOptions, saved: CheckedSaved | undefined): BackwardResult {
  checkInput('dy', dy, o.view);
  checkInput('x', x, o.view);
  // The CPU path computes on float32 values: float16 tensors (saved.y too) arrive decoded.
  const checked = checkSaved(saved, { ...o, dtype: 'float32' });
  const { mean, invStd } = normalizingStats(o, checked);
  const g = maskedDy(dy, o, checked.y);
  const { sumDy, sumDyXmu } = backwardSums(g, x, o.view, mean);
  const C = o.view.channels;
  const M = o.view.count;
  const dgamma = new Float32Array(C);
  const dbeta = new Float32Array(C);
  const co: BackwardCoefficients = { k: new Float64Array(C), c: new Float64Array(C), m: new Float64Array(C), mean };
  for (let c = 0; c < C; c++) {
    // As backward-finalize.wgsl: a sum that is not a finite float32 is NaN, each on its own.
    const gradGamma = finiteOrNaN(invStd[c] * sumDyXmu[c]);
    const gradBeta = finiteOrNaN(sumDy[c]);
    dgamma[c] = gradGamma;
    dbeta[c] = gradBeta;
    co.k[c] = (o.gamma ? o.gamma[c] : 1) * invStd[c];
    if (o.mode === 'train') {
      co.c[c] = (-co.k[c] * gradBeta) / M;
      co.m[c] = (-co.k[c] * invStd[c] * gradGamma) / M;
    }
  }
  const dx = applyBackward(g, x, o.view, co, o.mode === 'train');
  // A residual's gradient is the activated dy itself (a copy: g is dy without relu).
  return o.residualGradient ? { dx, dgamma, dbeta, dz: g === dy ? dy.slice() : g } : { dx, dgamma, dbeta };
}
