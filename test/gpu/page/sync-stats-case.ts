/** Synchronized batch norm on the GPU: partial statistics of 4 shards, merged, vs the full batch. */
import { createBatchNorm, mergeChannelStatistics, type Layout } from '../../../src/index';
import { caseSeed, channelNormals, createRng } from '../../support/random';
import { referenceForwardTrain } from '../../support/reference';

export interface SyncStatsReport {
  count: number;
  expectedCount: number;
  meanErr: number;
  varianceRelErr: number;
}

export async function runSyncStatsCase(arg: { seed: number; layout: Layout; shape: number[]; parts: number[]; center: number }): Promise<SyncStatsReport> {
  const { layout, shape, parts } = arg;
  const rng = createRng(caseSeed(arg.seed, `sync ${layout} ${shape}`));
  const C = shape[layout.indexOf('C')];
  const x = channelNormals(rng, shape, layout, Array.from({ length: C }, () => arg.center + rng.normal()), Array.from({ length: C }, () => 1 + rng.uniform()));
  const bn = await createBatchNorm({ backend: 'webgpu' });
  const perSample = x.length / shape[0];
  let start = 0;
  const partials = [];
  for (const n of parts) {
    partials.push(await bn.channelStatistics(x.slice(start * perSample, (start + n) * perSample), { shape: [n, ...shape.slice(1)], layout }));
    start += n;
  }
  bn.dispose();
  const merged = mergeChannelStatistics(partials);
  const full = referenceForwardTrain(x, { shape, layout, eps: 1e-5, momentum: 0.1, convention: 'pytorch', activation: 'none' });
  let meanErr = 0;
  let varianceRelErr = 0;
  for (let c = 0; c < C; c++) {
    meanErr = Math.max(meanErr, Math.abs(merged.mean[c] - full.mean[c]) / (Math.abs(full.mean[c]) + Math.sqrt(full.variance[c])));
    varianceRelErr = Math.max(varianceRelErr, Math.abs(merged.variance[c] - full.variance[c]) / full.variance[c]);
  }
  return { count: merged.count, expectedCount: x.length / C, meanErr, varianceRelErr };
}
