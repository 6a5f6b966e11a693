import { BatchNormError } from './errors';

/**
 * Per-channel partial statistics of one batch (or shard): the count of values per channel, their
 * mean and M2 = Σ(x − mean)². This is what a data-parallel trainer all-reduces across workers for
 * synchronized batch norm: merge the workers' partials, then normalize every shard with the merged
 * mean and variance. (count, mean, M2) merges exactly and stably with Chan's formula; sums of x and
 * x² would cancel for data with large means.
 */
export interface ChannelStatistics {
  count: number;
  mean: Float32Array;
  m2: Float32Array;
}

/** The merged statistics with the biased variance M2 / count, as forwardTrain reports it. */
export interface MergedChannelStatistics extends ChannelStatistics {
  variance: Float32Array;
}

/** Chan et al.'s pairwise merge of (count, mean, M2), in float64, over any number of parts. */
export function mergeChannelStatistics(parts: readonly ChannelStatistics[]): MergedChannelStatistics {
  if (!Array.isArray(parts) || parts.length === 0) {
    throw new BatchNormError('invalid-option', 'mergeChannelStatistics needs at least one part');
  }
  const channels = parts[0].mean?.length;
  parts.forEach((part, k) => {
    if (!Number.isSafeInteger(part.count) || part.count < 1) {
      throw new BatchNormError('invalid-option', `part ${k}: count must be a positive integer, got ${part.count}`);
    }
    if (!(part.mean instanceof Float32Array) || !(part.m2 instanceof Float32Array) || part.mean.length !== channels || part.m2.length !== channels) {
      throw new BatchNormError('channel-mismatch', `part ${k}: mean and m2 must be Float32Arrays of length ${channels}`);
    }
  });
  const mean = Float64Array.from(parts[0].mean);
  const m2 = Float64Array.from(parts[0].m2);
  let count = parts[0].count;
  for (const part of parts.slice(1)) {
    const total = count + part.count;
    const weight = part.count / total;
    for (let c = 0; c < channels; c++) {
      const delta = part.mean[c] - mean[c];
      mean[c] += delta * weight;
      m2[c] += part.m2[c] + delta * delta * count * weight;
    }
    count = total;
  }
  return { count, mean: Float32Array.from(mean), m2: Float32Array.from(m2), variance: Float32Array.from(m2, (v) => v / count) };
}
