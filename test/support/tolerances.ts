import { channelView, type ChannelView } from '../../src/layout';
import type { Layout } from '../../src/types';
import { planFused, type FusedLimits } from '../../src/gpu/fused-small';
import { planMerge, planPartialsFold, planSlabbedReduction } from '../../src/gpu/statistics-plan';
import { defaultTuning, softwareAdapterTuning, type KernelTuning } from '../../src/gpu/tuning';
import { reductionSubgroupMaxSize, workgroupSumChain } from './backward-tolerances';

/*
 * Tolerances of the GPU checks, derived from float32 error analysis rather than tuned to pass.
 * ε = 2^-24 is float32's unit roundoff. Browser-safe (the harness page computes the checks).
 *
 * Statistics (docs/numerics.md states the same bound for users). Per channel: M values, mean μ,
 * biased variance σ², and R = max |x − μ| / σ, the data's farthest value in standard deviations.
 * Every pivot is a value of the channel and every mean of a subset lies between the smallest and
 * the largest value, so a shifted value x − p and a mean about a pivot are at most 2Rσ, and a
 * subset's mean is within Rσ of μ. To first order in ε:
 *   |variance − σ²| / σ² ≤ ε · (L + 4R + 2P·R + 2Q·(R + R²))
 *   |mean − μ| ≤ ε · (2|μ| + (P + 2)·R·σ)
 * - L: the longest chain of roundings of the terms of M2, which are all ≥ 0 (squares of a block's
 *   deviations, merged M2s, between-set terms), so their errors add up relative to M2: 7 in a block
 *   of 16 values (the deviation, its square, four levels of pairwise sums; 6 for 8 rows), 2 per
 *   merge of a thread's chain of J blocks, the workgroup sums of a chunk (+ 6), 2 per merge of
 *   finalize's fold (or per level of its tree), + 10 for the products of the between-set terms and
 *   the division by M.
 * - 4R: each value is shifted by its pivot once (one rounding of at most 2Rσ), which moves M2 by
 *   ≤ 2 Σ|x − μ| · 2εRσ ≤ 4εR·Mσ² (Cauchy–Schwarz: Σ|x − μ| ≤ Mσ).
 * - P: a subset S (n values) whose mean is off by e moves M2 by 2n·|μ_S − μ|·e when merged. When
 *   the subsets partition the channel and e ≤ κεRσ, that is ≤ 2κεR·Mσ² per level, since
 *   Σ n·|μ_S − μ| ≤ Σ|x − μ| ≤ Mσ. P sums κ over such levels: 10 for blocks (a pairwise sum of
 *   depth ≤ 4 of values ≤ 2Rσ, and the division of a last block; the × 1/16 or 1/8 of a full one is
 *   exact), 2W + 4 for a chunk's workgroup sum (W its chain), 10 per level of finalize's tree, and
 *   for each chain of merges below its output's error.
 * - Chains: the kernels keep their first pivot p (moving it needs a compiler that does not
 *   reassociate), so a merge of a piece of t values, mean b, into running moments (n values, mean a,
 *   both about p) rounds the new mean by ε|a'| ≤ 2εRσ, besides ≤ 3ε|b − a|·t/(n + t) (the
 *   difference, the weight, the product; finalize's pivot difference adds ≤ 2εRσ·t/(n + t)). Each
 *   error shrinks by n/(n + t) at every later merge, so after j merges of equal blocks the running
 *   mean is off by E_j ≤ εRσ·(6 + j) (Σ t|b − a| ≤ 2Rσ·n; Σ_i n_i / n_j = (j + 1)/2 for equal
 *   blocks), and by ≤ εRσ·(8 + 2j) for pieces of any sizes (Σ_i n_i / n_j ≤ j). The chain's output
 *   mean is a partition level with κ = J + 8 (thread chains of J blocks, the last one partial) or
 *   2K + 8 (finalize's fold of K partials). Inside the chain, merge j uses a − E_{j−1} in its
 *   between-set term t·n/(n + t)·(b − a)², which moves M2 by ≤ 2t·|b − a|·|E_{j−1}|; with
 *   Σ t|b − a| ≤ Σ|x − μ| + n·Rσ summed over the chains of a level, ≤ 2·max E·Mσ(1 + R). Q sums
 *   max E / (εRσ) over the chains: J + 6 for a thread's chain, 2K + 8 for finalize's fold. The R²
 *   comes from prefixes whose mean is far from μ, which only data sorted along the channel has:
 *   shuffled data stays far below.
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
/**
 * A residual add y = act(BN(x) + z) rounds the sum once more: ≤ ε·|sum| ≤ ε·(|x·scale| + |shift| +
 * |z|) to first order (the CPU path rounds its float64 sum once: ≤ ε/2 of it); 2 rather than 1
 * leaves room for the second-order terms (the BN part's own error times ε).
 */
export const RESIDUAL_TERMS = 2;
export const ATOL = 1e-6;
/** Roundings of invStd = 1 / sqrt(var + eps) beyond the variance's: eps + var, sqrt, the division. */
export const INV_STD_TERMS = 12;

/** The plan-dependent coefficients of the statistics bound above. */
export interface StatisticsTerms {
  /** L: longest chain of roundings of M2's non-negative terms. */
  chain: number;
  /** P: Σ κ over levels that partition the channel. */
  partitions: number;
  /** Q: Σ over serial chains of merges of their running mean's error, in εRσ. */
  chains: number;
}

/** The CPU path computes in float64 and rounds each output once. */
export const CPU_STATISTICS_TERMS: StatisticsTerms = { chain: 4, partitions: 0, chains: 0 };

/** Relative error bound of the variance of a channel whose farthest value is R standard deviations out. */
export function varianceBound(terms: StatisticsTerms, R: number): number {
  return EPS32 * (terms.chain + 4 * R + 2 * terms.partitions * R + 2 * terms.chains * (R + R * R));
}

/** Absolute error bound of the mean. */
export function meanBound(terms: StatisticsTerms, R: number, mean: number, std: number): number {
  return EPS32 * (2 * Math.abs(mean) + (terms.partitions + 2) * R * std);
}

/** Values a statistics thread takes per block (moments.wgsl): 16, or 8 rows of four channels. */
function blockValues(shape: 'Rows' | 'Runs', width: 'Scalar' | 'Vec4'): number {
  return shape === 'Rows' && width === 'Vec4' ? 8 : 16;
}

/** A chain of `merges` merges: its output mean's error (κ) and its running mean's (for Q), in εRσ. */
function threadChain(merges: number): { kappa: number; running: number } {
  return merges > 1 ? { kappa: merges + 8, running: merges + 6 } : { kappa: 0, running: 0 };
}

function foldChain(merges: number): { kappa: number; running: number } {
  return merges > 1 ? { kappa: 2 * merges + 8, running: 2 * merges + 8 } : { kappa: 0, running: 0 };
}

/**
 * The coefficients for the statistics kernels' launch plan (stats-rows/-runs.wgsl, finalize.wgsl):
 * per slab, a thread's blocks (J merges, the last block partial), the workgroup sums of 'Runs'
 * chunks, then the finalize.
 */
export function statisticsTerms(view: ChannelView, tuning: KernelTuning, maxPerDimension = 65535, deviceBindingBytes = Infinity, subgroupMaxSize?: number, elementBytes = 4): StatisticsTerms {
  const alignment = 256;
  const bindingBytes = Math.floor(Math.min(tuning.maxBindingBytes ?? Infinity, deviceBindingBytes) / alignment) * alignment;
  const threeKernels = threeKernelTerms(view, tuning, maxPerDimension, bindingBytes, alignment, subgroupMaxSize, elementBytes);
  // One dispatch with a thread per channel walking its runs (fused-small-forward.wgsl,
  // fusedForwardSerialRuns*): the blocks of each run merged into the run's moments (a thread chain),
  // then the runs merged in order (a serial fold of K = outer pieces), as the Segments walk with a
  // segment per run and a serial finalize. Forward calls with a residual take the three kernels, so
  // a test's bound covers both paths. (The other one-dispatch kernels take two exact passes, within
  // the three-kernel bound.)
  const fused = elementBytes === 4 ? planFused(view, 'forward', tuning, guaranteedFusedLimits(maxPerDimension, bindingBytes)) : undefined;
  if (!fused?.entryPoint.startsWith('fusedForwardSerialRuns')) return threeKernels;
  const blocks = Math.ceil(view.inner / 16);
  const thread = threadChain(blocks);
  const runs = foldChain(view.outer);
  const serialRuns = { chain: 7 + 2 * blocks + 2 * view.outer + 10, partitions: 10 + thread.kappa + runs.kappa, chains: thread.running + runs.running };
  return {
    chain: Math.max(threeKernels.chain, serialRuns.chain),
    partitions: Math.max(threeKernels.partitions, serialRuns.partitions),
    chains: Math.max(threeKernels.chains, serialRuns.chains),
  };
}

/**
 * The limits the one-dispatch planner sees on any device (fused-small.ts, FusedLimits): WebGPU
 * guarantees 256 invocations, 16 KiB of workgroup memory and 8 storage buffers per stage.
 */
export function guaranteedFusedLimits(maxWorkgroupsPerDimension: number, bindingBytes: number): FusedLimits {
  return { maxInvocationsPerWorkgroup: 256, maxWorkgroupSizeX: 256, maxWorkgroupStorageBytes: 16384, maxWorkgroupsPerDimension, bindingBytes, maxStorageBuffers: 8 };
}

/**
 * Whether a software adapter's engine with one dispatch forced (tuning.oneDispatch true,
 * runSegments true) runs `shape` in one serial dispatch: the GPU suites' serial case lists.
 */
export function serialPlanTakes(shape: number[], layout: Layout | undefined, direction: 'forward' | 'backward'): boolean {
  const tuning: KernelTuning = { ...defaultTuning, ...softwareAdapterTuning, oneDispatch: true, runSegments: true };
  return planFused(channelView(shape, layout), direction, tuning, guaranteedFusedLimits(65535, 128 * 1024 * 1024))?.strategy === 'Serial';
}

/** statisticsTerms of the three-kernel path (statistics, the fold of a two-level finalize, finalize). */
function threeKernelTerms(view: ChannelView, tuning: KernelTuning, maxPerDimension: number, bindingBytes: number, alignment: number, subgroupMaxSize: number | undefined, elementBytes: number): StatisticsTerms {
  const wg = tuning.workgroupSize;
  const reduction = planSlabbedReduction(view, tuning, maxPerDimension, bindingBytes, alignment, elementBytes);
  let chain = 0;
  let partitions = 0;
  let chains = 0;
  for (const { params: p, walk, width } of reduction.slabs) {
    // Values a thread reads (at most), and the chunk's workgroup sum.
    let values: number;
    let workgroup = 0;
    if (reduction.shape === 'Rows') {
      values = p.laneRows > 0 ? p.laneRows : Math.ceil(p.rows / p.rowLanes);
    } else if (walk === 'Segments') {
      values = p.chunkLength * (width === 'Vec4' ? 4 : 1);
    } else {
      values = Math.ceil(p.chunkLength / wg) * (width === 'Vec4' ? 4 : 1);
      workgroup = workgroupSumChain(wg, subgroupMaxSize);
    }
    const merges = Math.ceil(values / blockValues(reduction.shape, width));
    const thread = threadChain(merges);
    chain = Math.max(chain, 7 + 2 * merges + (workgroup > 0 ? workgroup + 6 : 0));
    partitions = Math.max(partitions, 10 + thread.kappa + (workgroup > 0 ? 2 * workgroup + 4 : 0));
    chains = Math.max(chains, thread.running);
  }
  // A two-level finalize (statistics-plan.ts, planPartialsFold) first folds groups of partials
  // exactly as a tree finalize does (strided folds, then a tree, in workgroups of the fold's own
  // size), then the finalize merges the groups' results: each level adds its own terms.
  const fold = planPartialsFold(view, reduction.chunks, tuning, maxPerDimension);
  if (fold) {
    const foldWg = fold.workgroupSize;
    const perThread = Math.ceil(fold.params.groupSize / foldWg);
    const level = foldChain(perThread);
    chain += 2 * (perThread + Math.log2(foldWg));
    partitions += level.kappa + 10 * Math.log2(foldWg);
    chains += level.running;
  }
  const chunks = fold ? fold.params.groups : reduction.chunks;
  const merge = planMerge(view, chunks, tuning, maxPerDimension);
  if (merge.strategy === 'Serial') {
    const fold = foldChain(chunks);
    chain += 2 * chunks;
    partitions += fold.kappa;
    chains += fold.running;
  } else {
    const fold = foldChain(Math.ceil(chunks / wg));
    chain += 2 * (Math.ceil(chunks / wg) + Math.log2(wg));
    partitions += fold.kappa + 10 * Math.log2(wg);
    chains += fold.running;
  }
  return { chain: chain + 10, partitions, chains };
}

/** The coefficients for the engine `gpu` (bn.gpu): its tuning, binding size and workgroup sums. */
export function gpuStatisticsTerms(view: ChannelView, gpu: { device: GPUDevice; tuning: KernelTuning }, elementBytes = 4): StatisticsTerms {
  return statisticsTerms(view, gpu.tuning, 65535, gpu.device.limits.maxStorageBufferBindingSize, reductionSubgroupMaxSize(gpu), elementBytes);
}

/*
 * A float16 output (dtype 'float16'): the float32 result, within its own bound b of the reference
 * r, is rounded once more as it is stored. WGSL lets a conversion to f16 go to either float16
 * neighbour (no rounding mode is promised), so the GPU's store moves a value by less than one
 * float16 ulp: < 2^-10·(|r| + b) where the value is normal; below 2^-14 float16 is subnormal (spaced
 * 2^-24), and since implementations may flush subnormals to zero, 2^-14 absolute covers that range.
 * The CPU path rounds to nearest even: half an ulp, 2^-11 relative and 2^-25 absolute.
 */
export const F16_GPU = { rtol: 2 ** -10, atol: 2 ** -14 } as const;
export const F16_CPU = { rtol: 2 ** -11, atol: 2 ** -25 } as const;

/** `tol` (the float32 bound of an output whose reference is `ref`) widened by its float16 rounding. */
export function float16Output(tol: (i: number) => number, ref: ArrayLike<number>, rounding: { rtol: number; atol: number } = F16_GPU): (i: number) => number {
  return (i) => {
    const bound = tol(i);
    return bound + rounding.rtol * (Math.abs(ref[i]) + bound) + rounding.atol;
  };
}

/**
 * For an engine whose kernels' tuning the test cannot see (the Node host process): the larger
 * coefficients of the GPU defaults and the software adapters' tuning, with subgroups of up to 128.
 */
export function anyAdapterStatisticsTerms(view: ChannelView): StatisticsTerms {
  const all = [defaultTuning, { ...defaultTuning, ...softwareAdapterTuning }].map((tuning) => statisticsTerms(view, tuning, 65535, Infinity, 128));
  return { chain: Math.max(...all.map((t) => t.chain)), partitions: Math.max(...all.map((t) => t.partitions)), chains: Math.max(...all.map((t) => t.chains)) };
}
