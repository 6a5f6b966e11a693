import type { ChannelView } from '../../src/layout';
import { planMerge } from '../../src/gpu/plan';
import { planSlabbedReduction } from '../../src/gpu/plan-slabs';
import { defaultTuning, softwareAdapterTuning, type KernelTuning } from '../../src/gpu/tuning';
import { reductionSubgroupMaxSize, workgroupSumChain } from './backward-tolerances';

/*
 * Tolerances of the GPU checks, derived from float32 error analysis rather than tuned to pass.
 * ε = 2^-24 is float32's unit roundoff. Browser-safe (the harness page computes the checks).
 *
 * Statistics (docs/numerics.md states the same bound for users). Per channel: M values, mean μ,
 * biased variance σ², and R = max |x − μ| / σ, the data's farthest value in standard deviations.
 * Every pivot and every mean of a subset lies between the smallest and the largest value, so a
 * shifted value x − p is at most 2Rσ, and a subset's mean is within Rσ of μ. To first order in ε:
 *   |variance − σ²| / σ² ≤ ε · (L + 4R + 2P·R + 20Q·(R + R²))
 *   |mean − μ| ≤ ε · (2|μ| + (P + 20Q + 2)·R·σ)
 * - L: the longest chain of roundings of the terms of M2, which are all ≥ 0 (squares of a block's
 *   deviations, merged M2s, between-set terms), so their errors add up relative to M2: 4 in a block,
 *   2 per Chan merge of a thread's chain of blocks (J), the workgroup sums of a chunk (+ 6), 2 per
 *   merge of finalize's fold, + 10 for the products of the between-set terms and the division by M.
 * - 4R: each value is shifted by its pivot once (one rounding of at most 2Rσ), which moves M2 by
 *   ≤ 2 Σ|x − μ| · 2εRσ ≤ 4εR·Mσ² (Cauchy–Schwarz: Σ|x − μ| ≤ Mσ).
 * - A subset S (n values) whose mean is off by e moves M2 by 2n·|μ_S − μ|·e when merged. When the
 *   subsets partition the channel (blocks, chunks, the levels of a tree) and e ≤ κεRσ, that is
 *   ≤ 2κεR·Mσ² per level, since Σ n·|μ_S − μ| ≤ Σ|x − μ| ≤ Mσ. P sums κ over such levels: 14 for
 *   blocks (two additions and a division of values ≤ 2Rσ), workgroup sum + 10 for a chunk's mean,
 *   20 per tree level of finalize.
 * - A serial chain of merges (a thread's blocks, finalize's fold) rounds the running mean after each
 *   merge by ≤ 10ε·|δ|·t / n (δ the merged piece's mean minus the running mean, t its count, n the
 *   count so far; nothing of the size of the mean itself is rounded), and the prefixes are not a
 *   partition: ≤ 20ε(R + R²)·Mσ² per chain level. Q counts such levels. R² is reached only by data
 *   in sorted order; shuffled data stays far below. This term was derived for merges that move the
 *   pivot to the merged mean; the kernels keep their first pivot instead (moving it needs a compiler
 *   that does not reassociate), which rounds the running mean by ≤ ε·|mean − pivot| ≤ εRσ per merge:
 *   the term is still to be re-derived for that.
 * The data order and the pivots (first values) enter nowhere: the bound holds for any of them.
 *
 * y = fma(x, scale, shift) with scale = γ·invStd and shift = β − mean·scale, both rounded to
 * float32: the result cannot be closer than a few ε of the terms combined, |x·scale| + |shift|,
 * which is ≫ |y| when the mean is large (1e4 ± 1: terms near 1e4, y near 1). The statistics add
 * their own errors: invStd's relative error (half the variance's, plus the square root's and the
 * division's roundings) times |y − β|, and the mean's error times |scale|. So y is allowed
 *   Y_TERMS·ε·(|x·scale| + |shift|) + ρ·|y − β| + |scale|·Δmean + ATOL.
 */
export const EPS32 = 2 ** -24;
export const Y_TERMS = 16;
export const ATOL = 1e-6;
/** Roundings of invStd = 1 / sqrt(var + eps) beyond the variance's: eps + var, sqrt, the division. */
export const INV_STD_TERMS = 12;

/** The plan-dependent coefficients of the statistics bound above. */
export interface StatisticsTerms {
  /** L: longest chain of roundings of M2's non-negative terms. */
  chain: number;
  /** P: Σ κ over levels that partition the channel. */
  partitions: number;
  /** Q: serial chains of merges. */
  chains: number;
}

/** The CPU path computes in float64 and rounds each output once. */
export const CPU_STATISTICS_TERMS: StatisticsTerms = { chain: 4, partitions: 0, chains: 0 };

/** Relative error bound of the variance of a channel whose farthest value is R standard deviations out. */
export function varianceBound(terms: StatisticsTerms, R: number): number {
  return EPS32 * (terms.chain + 4 * R + 2 * terms.partitions * R + 20 * terms.chains * (R + R * R));
}

/** Absolute error bound of the mean. */
export function meanBound(terms: StatisticsTerms, R: number, mean: number, std: number): number {
  return EPS32 * (2 * Math.abs(mean) + (terms.partitions + 20 * terms.chains + 2) * R * std);
}

/**
 * The coefficients for the statistics kernels' launch plan (stats-rows/-runs.wgsl, finalize.wgsl):
 * per slab, a thread's blocks of four (J), the workgroup sums of 'Runs' chunks, then the finalize.
 */
export function statisticsTerms(view: ChannelView, tuning: KernelTuning, maxPerDimension = 65535, deviceBindingBytes = Infinity, subgroupMaxSize?: number): StatisticsTerms {
  const wg = tuning.workgroupSize;
  const alignment = 256;
  const bindingBytes = Math.floor(Math.min(tuning.maxBindingBytes ?? Infinity, deviceBindingBytes) / alignment) * alignment;
  const reduction = planSlabbedReduction(view, tuning, maxPerDimension, bindingBytes, alignment);
  let chain = 0;
  let partitions = 14;
  let threadChains = 0;
  for (const { params: p, walk, width } of reduction.slabs) {
    let blocks: number;
    let workgroup = 0;
    if (reduction.shape === 'Rows') {
      blocks = Math.ceil((p.laneRows > 0 ? p.laneRows : Math.ceil(p.rows / p.rowLanes)) / 4);
    } else if (walk === 'Segments') {
      blocks = width === 'Vec4' ? p.chunkLength : Math.ceil(p.chunkLength / 4);
    } else {
      const units = Math.ceil(p.chunkLength / wg);
      blocks = width === 'Vec4' ? units : Math.ceil(units / 4);
      workgroup = workgroupSumChain(wg, subgroupMaxSize);
      partitions = Math.max(partitions, 14 + workgroup + 10);
    }
    chain = Math.max(chain, 4 + 2 * blocks + (workgroup > 0 ? workgroup + 6 : 0));
    if (blocks > 1) threadChains = 1;
  }
  const { chunks } = reduction;
  const merge = planMerge(view, chunks, tuning, maxPerDimension);
  let finalizeChains = 0;
  if (merge.strategy === 'Serial') {
    chain += 2 * chunks;
    if (chunks > 1) finalizeChains = 1;
  } else {
    const folded = Math.ceil(chunks / wg);
    chain += 2 * (folded + Math.log2(wg));
    partitions += 20 * Math.log2(wg);
    if (folded > 1) finalizeChains = 1;
  }
  return { chain: chain + 10, partitions, chains: threadChains + finalizeChains };
}

/** The coefficients for the engine `gpu` (bn.gpu): its tuning, binding size and workgroup sums. */
export function gpuStatisticsTerms(view: ChannelView, gpu: { device: GPUDevice; tuning: KernelTuning }): StatisticsTerms {
  return statisticsTerms(view, gpu.tuning, 65535, gpu.device.limits.maxStorageBufferBindingSize, reductionSubgroupMaxSize(gpu));
}

/**
 * For an engine whose kernels' tuning the test cannot see (the Node host process): the larger
 * coefficients of the GPU defaults and the software adapters' tuning, with subgroups of up to 128.
 */
export function anyAdapterStatisticsTerms(view: ChannelView): StatisticsTerms {
  const all = [defaultTuning, { ...defaultTuning, ...softwareAdapterTuning }].map((tuning) => statisticsTerms(view, tuning, 65535, Infinity, 128));
  return { chain: Math.max(...all.map((t) => t.chain)), partitions: Math.max(...all.map((t) => t.partitions)), chains: Math.max(...all.map((t) => t.chains)) };
}
