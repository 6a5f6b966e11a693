import { BatchNormError } from '../errors';
import { checkInput, type ResolvedOptions } from '../options';
import type { ForwardTrainResult } from '../types';
import { applyChannelAffine } from './apply';
import { channelMoments } from './moments';
import { updatedRunningStats } from './running-stats';
import { foldScaleShift, inverseStd } from './scale-shift';

/*
 * The CPU path: the library's fallback when WebGPU is missing and the reference its GPU results are
 * verified against. Everything is computed in float64; outputs are rounded to float32 once.
 */

/** Training-mode forward: batch statistics, normalized output and updated running statistics. */
export function cpuForwardTrain(x: Float32Array, o: ResolvedOptions): ForwardTrainResult {
  checkInput('x', x, o.view);
  if (o.view.count < 2) {
    // PyTorch's M / (M − 1) would silently turn the running variance into Infinity.
    throw new BatchNormError('too-few-values', 'Expected more than 1 value per channel when training');
  }
  const { mean, variance } = channelMoments(x, o.view);
  const invStd = inverseStd(variance, o.eps);
  const affine = foldScaleShift(mean, invStd, o.gamma, o.beta);
  const result: ForwardTrainResult = {
    y: applyChannelAffine(x, o.view, affine, o.activation, o.residual),
    mean: Float32Array.from(mean),
    variance: Float32Array.from(variance),
    invStd: Float32Array.from(invStd),
  };
  const running = updatedRunningStats(o, mean, variance);
  if (running) {
    result.runningMean = running.runningMean;
    result.runningVar = running.runningVar;
  }
  return result;
}

/** Inference-mode forward with the population (running) statistics folded into scale and shift. */
export function cpuForwardInference(x: Float32Array, o: ResolvedOptions): Float32Array {
  checkInput('x', x, o.view);
  const { runningMean, runningVar } = o;
  if (runningMean === undefined || runningVar === undefined) {
    throw new BatchNormError('missing-running-stats', 'forwardInference needs runningMean and runningVar');
  }
  const invStd = inverseStd(runningVar, o.eps);
  const affine = foldScaleShift(runningMean, invStd, o.gamma, o.beta);
  return applyChannelAffine(x, o.view, affine, o.activation, o.residual);
}
