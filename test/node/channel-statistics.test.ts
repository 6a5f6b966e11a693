import { describe, expect, it } from 'vitest';
import { createBatchNorm, mergeChannelStatistics } from '../../src/index';
import { caseSeed, channelNormals, createRng, seedFromEnv } from '../support/random';
import { referenceForwardTrain } from '../support/reference';

const seed = seedFromEnv();
console.log(`channel statistics tests: TEST_SEED=${seed}`);

/** Splits a batch along its first axis into `parts` shards of whole samples. */
function shards(x: Float32Array, shape: number[], parts: number[]): { x: Float32Array; shape: number[] }[] {
  const perSample = x.length / shape[0];
  let start = 0;
  return parts.map((n) => {
    const part = { x: x.slice(start * perSample, (start + n) * perSample), shape: [n, ...shape.slice(1)] };
    start += n;
    return part;
  });
}

describe('synchronized batch norm: per-shard partial statistics and their merge', () => {
  // Float64 throughout on the CPU path: a few float64 roundings of |mean| + std.
  it.each([
    ['NCHW', [12, 3, 5, 7], [3, 3, 3, 3], 0],
    ['NHWC', [10, 4, 3, 8], [1, 2, 3, 4], 0],
    ['NC', [40, 6], [10, 7, 20, 3], 1e4],
  ] as const)('%s %j: merging 4 shards equals the full batch (mean %d)', async (layout, shape, parts, center) => {
    const rng = createRng(caseSeed(seed, `${layout} ${shape}`));
    const C = shape[layout.indexOf('C')];
    const x = channelNormals(rng, shape, layout, Array.from({ length: C }, () => center + rng.normal()), Array.from({ length: C }, () => 1 + rng.uniform()));
    const bn = await createBatchNorm({ backend: 'cpu' });
    const partials = await Promise.all(shards(x, [...shape], [...parts]).map((s) => bn.channelStatistics(s.x, { shape: s.shape, layout })));
    const merged = mergeChannelStatistics(partials);
    const full = referenceForwardTrain(x, { shape, layout, eps: 1e-5, momentum: 0.1, convention: 'pytorch', activation: 'none' });
    expect(merged.count).toBe(x.length / C);
    for (let c = 0; c < C; c++) {
      const std = Math.sqrt(full.variance[c]);
      expect(Math.abs(merged.mean[c] - full.mean[c])).toBeLessThanOrEqual(1e-12 * (Math.abs(full.mean[c]) + std));
      expect(Math.abs(merged.variance[c] - full.variance[c])).toBeLessThanOrEqual(1e-10 * full.variance[c]);
    }
  });

  it('rejects empty lists, bad counts and mismatched channels', () => {
    const part = { count: 2, mean: new Float64Array(3), m2: new Float64Array(3) };
    expect(() => mergeChannelStatistics([])).toThrow(expect.objectContaining({ code: 'invalid-option' }));
    expect(() => mergeChannelStatistics([{ ...part, count: 0 }])).toThrow(expect.objectContaining({ code: 'invalid-option' }));
    expect(() => mergeChannelStatistics([part, { ...part, mean: new Float64Array(2) }])).toThrow(expect.objectContaining({ code: 'channel-mismatch' }));
  });
});
