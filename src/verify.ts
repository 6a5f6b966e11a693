import { BatchNormError } from './errors';
import type { ResolvedOptions } from './options';
import type { ForwardTrainResult, Tolerance } from './types';

/**
 * Verify mode: every GPU result is compared with the CPU path on the same inputs.
 *
 * An element passes when |gpu − cpu| ≤ atol + rtol · magnitude, where magnitude is the size of
 * the terms float32 had to combine, not only of the result: y = x · scale + shift cancels when the
 * mean is large (x = 1e4 ± 1 gives y ≈ 1 from terms near 1e4), and float32 cannot do better than
 * 2^-24 of those terms. So for y the magnitude is max(|y|, |x · scale| + |shift|), for the mean it
 * is |mean| + std, and for every other output it is |value|.
 */
export const defaultVerifyTolerance: Tolerance = { rtol: 1e-4, atol: 1e-5 };

export interface Mismatch {
  output: string;
  index: number;
  gpu: number;
  cpu: number;
  allowed: number;
  excess: number;
}

/**
 * The element furthest out of tolerance, if any. `slack` adds an absolute allowance per element for
 * what rounding alone cannot explain but is still correct (e.g. a relu mask at y = 0).
 */
export function worstMismatch(
  output: string,
  gpu: Float32Array,
  cpu: Float32Array,
  magnitude: (i: number) => number,
  tol: Tolerance,
  slack?: (i: number) => number,
): Mismatch | undefined {
  let worst: Mismatch | undefined;
  for (let i = 0; i < cpu.length; i++) {
    const a = gpu[i];
    const b = cpu[i];
    if (Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b))) continue;
    const allowed = tol.atol + tol.rtol * magnitude(i) + (slack ? slack(i) : 0);
    const diff = Math.abs(a - b);
    // NaN differences (one side NaN or Inf) always fail.
    const excess = Number.isNaN(diff) || !Number.isFinite(diff) ? Infinity : diff - allowed;
    if (excess > 0 && (!worst || excess > worst.excess)) worst = { output, index: i, gpu: a, cpu: b, allowed, excess };
  }
  return worst;
}

export function describe(m: Mismatch, shape: readonly number[]): string {
  return `GPU result differs from the CPU path: ${m.output}[${m.index}] (shape [${shape.join(', ')}]) is ${m.gpu} on the GPU and ${m.cpu} on the CPU; allowed difference ${m.allowed.toExponential(3)}`;
}

/** |z| of a residual add: y's magnitude includes the term added before the activation. */
function residualTerm(o: ResolvedOptions, i: number): number {
  return o.residual ? Math.abs(o.residual[i]) : 0;
}

/** Throws `verification-failed` naming the worst element; returns normally when all outputs agree. */
export function verifyForwardTrain(gpu: ForwardTrainResult, cpu: ForwardTrainResult, x: Float32Array, o: ResolvedOptions, tol: Tolerance): void {
  const { channels: C, inner } = o.view;
  const channelOf = (i: number) => Math.floor(i / inner) % C;
  const scale = cpu.invStd.map((inv, c) => (o.gamma ? o.gamma[c] : 1) * inv);
  const shift = scale.map((s, c) => (o.beta ? o.beta[c] : 0) - cpu.mean[c] * s);
  const checks: (Mismatch | undefined)[] = [
    worstMismatch('y', gpu.y, cpu.y, (i) => Math.max(Math.abs(cpu.y[i]), Math.abs(x[i] * scale[channelOf(i)]) + Math.abs(shift[channelOf(i)]) + residualTerm(o, i)), tol),
    worstMismatch('mean', gpu.mean, cpu.mean, (c) => Math.abs(cpu.mean[c]) + Math.sqrt(cpu.variance[c]), tol),
    worstMismatch('variance', gpu.variance, cpu.variance, (c) => Math.abs(cpu.variance[c]), tol),
    worstMismatch('invStd', gpu.invStd, cpu.invStd, (c) => Math.abs(cpu.invStd[c]), tol),
  ];
  if (gpu.runningMean && cpu.runningMean) {
    const rm = cpu.runningMean;
    checks.push(worstMismatch('runningMean', gpu.runningMean, rm, (c) => Math.abs(rm[c]) + Math.sqrt(cpu.variance[c]), tol));
  }
  if (gpu.runningVar && cpu.runningVar) {
    const rv = cpu.runningVar;
    checks.push(worstMismatch('runningVar', gpu.runningVar, rv, (c) => Math.abs(rv[c]), tol));
  }
  const worst = checks.filter((m): m is Mismatch => m !== undefined).sort((a, b) => b.excess - a.excess)[0];
  if (worst) throw new BatchNormError('verification-failed', describe(worst, o.shape));
}

export function verifyForwardInference(gpu: Float32Array, cpu: Float32Array, x: Float32Array, o: ResolvedOptions, tol: Tolerance): void {
  const { channels: C, inner } = o.view;
  const rm = o.runningMean!;
  const rv = o.runningVar!;
  const scale = Float64Array.from(rv, (v, c) => (o.gamma ? o.gamma[c] : 1) / Math.sqrt(v + o.eps));
  const shift = Float64Array.from(scale, (s, c) => (o.beta ? o.beta[c] : 0) - rm[c] * s);
  const channelOf = (i: number) => Math.floor(i / inner) % C;
  const worst = worstMismatch('y', gpu, cpu, (i) => Math.max(Math.abs(cpu[i]), Math.abs(x[i] * scale[channelOf(i)]) + Math.abs(shift[channelOf(i)]) + residualTerm(o, i)), tol);
  if (worst) throw new BatchNormError('verification-failed', describe(worst, o.shape));
}

export function resolveVerify(verify: boolean | Partial<Tolerance> | undefined): Tolerance | undefined {
  if (!verify) return undefined;
  if (verify === true) return defaultVerifyTolerance;
  const tol = { ...defaultVerifyTolerance, ...verify };
  if (!(tol.rtol >= 0) || !(tol.atol >= 0)) {
    throw new BatchNormError('invalid-option', `verify tolerance must have rtol ≥ 0 and atol ≥ 0, got ${JSON.stringify(verify)}`);
  }
  return tol;
}
