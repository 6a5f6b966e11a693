import { runningUpdate } from '../conventions';
import type { ResolvedOptions } from '../options';

export interface UpdatedRunningStats {
  runningMean: Float32Array;
  runningVar: Float32Array;
}

/**
 * New running statistics in the requested convention, running = keep · running + take · stat, from
 * the float64 batch statistics. Returns fresh arrays: the caller's arrays are never written.
 */
export function updatedRunningStats(
  o: ResolvedOptions,
  mean: Float64Array,
  variance: Float64Array,
): UpdatedRunningStats | undefined {
  const { runningMean, runningVar } = o;
  if (runningMean === undefined || runningVar === undefined) return undefined;
  const { keep, take, varianceFactor } = runningUpdate(o.convention, o.momentum, o.view.count);
  const channels = o.view.channels;
  const nextMean = new Float32Array(channels);
  const nextVar = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    nextMean[c] = keep * runningMean[c] + take * mean[c];
    nextVar[c] = keep * runningVar[c] + take * (variance[c] * varianceFactor);
  }
  return { runningMean: nextMean, runningVar: nextVar };
}
