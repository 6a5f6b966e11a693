import { conventionDefaults, runningUpdate } from '../conventions';
import { BatchNormError } from '../errors';
import { checkPerChannel } from '../options';
import type { Convention } from '../types';
import type { InstanceNormOptions, NormView, ResolvedRunningStats } from './norm-types';

/*
 * Instance norm's running statistics (PyTorch's InstanceNorm track_running_stats): per channel c,
 * over the N instances (n, c) of a call, each with its spatial count S,
 *   training:  y as without them (each instance by its own statistics), and
 *              runningMean_c ← keep·runningMean_c + take·mean_n(mean_nc)
 *              runningVar_c  ← keep·runningVar_c  + take·mean_n(var_nc·S/(S−1))
 *   inference: each instance normalized by (runningMean_c, runningVar_c): batch norm's inference
 * as PyTorch computes it (at::instance_norm: batch norm over x viewed as (1, N·C, *) with the running
 * statistics repeated N times, then their mean over N). keep, take and the variance factor are
 * batch norm's conventions (conventions.ts): 'pytorch' keep = 1 − momentum with the unbiased
 * variance, 'keras' and 'onnx' keep = momentum with the biased one. The caller's arrays are never
 * written: updated copies come back, so nothing changes when a call throws.
 */

/** Validates the running-statistics options of an instance norm (undefined when none are given). */
export function resolveInstanceRunning(opts: InstanceNormOptions, view: NormView, convention: Convention): ResolvedRunningStats | undefined {
  const runningMean = checkPerChannel('runningMean', opts.runningMean, view.params);
  const runningVar = checkPerChannel('runningVar', opts.runningVar, view.params);
  const training = opts.training ?? true;
  if (typeof training !== 'boolean') throw new BatchNormError('invalid-option', `training must be a boolean, got ${JSON.stringify(training)}`);
  if ((runningMean === undefined) !== (runningVar === undefined)) {
    throw new BatchNormError('missing-running-stats', 'runningMean and runningVar must be given together');
  }
  const momentum = opts.momentum ?? conventionDefaults[convention].momentum;
  if (typeof momentum !== 'number' || !(momentum >= 0 && momentum <= 1)) {
    throw new BatchNormError('invalid-momentum', `momentum must be in [0, 1], got ${String(momentum)}`);
  }
  if (runningMean === undefined || runningVar === undefined) {
    // momentum alone is checked and unused, as F.instance_norm's (the forward's options serve the backward).
    if (!training) throw new BatchNormError('missing-running-stats', 'training: false normalizes by the running statistics: give runningMean and runningVar');
    return undefined;
  }
  const spatial = view.rowLength;
  if (training && spatial < 2 && !Number.isFinite(runningUpdate(convention, momentum, spatial).varianceFactor)) {
    throw new BatchNormError('invalid-shape', `updating running statistics takes the unbiased variance of each instance, which needs more than 1 spatial element, got ${spatial}`);
  }
  return { runningMean, runningVar, momentum, training };
}

/**
 * The updated copies from each instance's mean and biased variance (per row n·C + c, any float
 * type): the mean over N is taken in float64, each result rounded to float32 once.
 */
export function updatedInstanceRunning(running: ResolvedRunningStats, convention: Convention, view: NormView, mean: ArrayLike<number>, variance: ArrayLike<number>): { runningMean: Float32Array; runningVar: Float32Array } {
  const { keep, take, varianceFactor } = runningUpdate(convention, running.momentum, view.rowLength);
  const { outer: N, params: C } = view;
  const runningMean = new Float32Array(C);
  const runningVar = new Float32Array(C);
  for (let c = 0; c < C; c++) {
    let meanSum = 0;
    let varianceSum = 0;
    for (let n = 0; n < N; n++) {
      meanSum += mean[n * C + c];
      varianceSum += variance[n * C + c];
    }
    runningMean[c] = keep * running.runningMean[c] + take * (meanSum / N);
    runningVar[c] = keep * running.runningVar[c] + take * ((varianceSum / N) * varianceFactor);
  }
  return { runningMean, runningVar };
}

/**
 * Inference's per-row statistics, in float64: row n·C + c gets runningMean_c and runningVar_c, so
 * the apply (CPU or GPU) is the training one with these in place of the instance's own.
 */
export function runningRowStatistics(running: ResolvedRunningStats, view: NormView, eps: number): { mean: Float64Array; variance: Float64Array; invStd: Float64Array } {
  const { rows, params: C } = view;
  const mean = new Float64Array(rows);
  const variance = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    mean[r] = running.runningMean[r % C];
    variance[r] = running.runningVar[r % C];
  }
  return { mean, variance, invStd: variance.map((v) => 1 / Math.sqrt(v + eps)) };
}
