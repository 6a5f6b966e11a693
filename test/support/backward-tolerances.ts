import type { ChannelView } from '../../src/layout';
import { planFused } from '../../src/gpu/fused-small';
import { planMerge, planPartialsFold, planSlabbedReduction } from '../../src/gpu/statistics-plan';
import { usesSubgroups, type KernelTuning } from '../../src/gpu/tuning';
import { channelOf, splitShape } from './channel-index';
import type { ReferenceParams } from './reference';
import type { ReferenceBackwardResult } from './reference-backward';
import { EPS32, guaranteedFusedLimits } from './tolerances';

/*
 * Tolerances of the backward checks, derived from float32 error analysis like tolerances.ts.
 * ε = 2^-24. Per channel, with g = dy after the relu mask and M values per channel, let
 *   S1 = Σ|g|,  S2 = Σ|g|·|x − mean|,  k = |γ|·invStd.
 * These are the magnitudes of the terms the float32 computation adds up; the results can be far
 * smaller (random signs: |Σ g| ~ √M·|g| while S1 ~ M·|g|), so |value|·rtol would be wrong.
 *
 * - dbeta = Σ g: every value reaches the total through a chain of float32 additions — a thread's
 *   own values, the workgroup sum of backward-reduce-runs (a barrier tree, or subgroupAdd then a
 *   tree of per-subgroup totals), the finalize fold (serial, or strided then a tree); in one dispatch
 *   (fused-small.ts) a thread's few units and one workgroup sum — and a chain of
 *   n additions is off by at most n·ε·S1 (Higham, γ_n). Threads add their values in blocks of four
 *   (pairwise) before adding each block to their sums, so a thread of n values is ⌈n / 4⌉ + 2 long.
 *   The chain length follows from the launch plan and the device (additionChain below); the
 *   4-thread workgroups that force > 65 535 workgroups fold the most partials. The bound is
 *   rigorous, not statistical; the observed errors are a few ε (random-walk growth).
 * - dgamma = invStd · Σ g·(x − mean): x − mean rounds once per term, the product once where it is
 *   not fused (counted in the chain), invStd·Σ once more: (chain + 2)·ε·invStd·S2.
 * - dx = k·g + c + m·(x − mean), with c = −k·dbeta/M and m = −k·invStd·dgamma/M carrying the errors of
 *   the sums plus ≤ 5 roundings each (k = γ·invStd, 1/M, k/M, the products), and 3 more for the
 *   two fmas and x − mean: (chain + 10)·ε·k·(|g| + S1/M + invStd²·|x − mean|·S2/M). The three terms
 *   (M·dy, dbeta and x̂·dgamma in the textbook form) can be much larger than dx itself, which is why
 *   dx is measured against them and not against |dx|.
 * All three use terms = chain + 10 (gpuBackwardTerms).
 *
 * When the path normalized with statistics that differ from the reference's (the CPU path gets the
 * float32-rounded mean and invStd of its forward; the reference keeps float64 ones), two more terms
 * follow from differentiating the formulas: a mean off by δ moves dgamma by invStd·|δ|·S1 and dx by
 * k·invStd²/M·|δ|·(S2 + |x − mean|·S1); an invStd off by a relative ρ moves dgamma by ρ·|dgamma| ≤
 * ρ·invStd·S2 and dx by ≤ 3ρ times its terms (k, and invStd² in m).
 *
 * relu: every path masks dy from the y it is given, the reference too (g = dy where y > 0), so the
 * mask is exact and adds nothing.
 */

/**
 * Additions on a value's way through workgroupSum (shaders/workgroup-reduce*.wgsl) for workgroups of
 * `wg` invocations. The barrier tree: log2(wg). With subgroups (subgroupMaxSize given): subgroupAdd
 * over the invocations of one subgroup, at most min(subgroupMaxSize, wg), which the implementation
 * may add in any order, so up to that − 1 additions; then log2(wg) in invocation 0's pairwise sum
 * of the per-subgroup totals. SwiftShader (subgroups of 4), wg = 64: 3 + 6 against 6.
 */
export function workgroupSumChain(wg: number, subgroupMaxSize: number | undefined): number {
  const tree = Math.log2(wg);
  return subgroupMaxSize === undefined ? tree : Math.min(subgroupMaxSize, wg) - 1 + tree;
}

/**
 * The largest subgroup the kernels' workgroup sums can meet on this engine's device, or undefined
 * when they use the barrier tree (no `subgroups` feature, or tuning.useSubgroups false). WebGPU caps
 * subgroups at 128 invocations where the adapter does not say.
 */
export function reductionSubgroupMaxSize(gpu: { device: GPUDevice; tuning: KernelTuning }): number | undefined {
  if (!usesSubgroups(gpu.device.features, gpu.tuning)) return undefined;
  return gpu.device.adapterInfo?.subgroupMaxSize ?? 128;
}

/**
 * The longest chain of float32 additions from one value to its channel's sums, for the launch plan
 * the GPU uses: a thread's blocks of four values, the workgroup sum of 'Runs' reductions
 * (workgroupSumChain), then the finalize fold.
 */
export function additionChain(view: ChannelView, tuning: KernelTuning, maxPerDimension = 65535, deviceBindingBytes = Infinity, subgroupMaxSize?: number, elementBytes = 4): number {
  const wg = tuning.workgroupSize;
  const alignment = 256;
  const bindingBytes = Math.floor(Math.min(tuning.maxBindingBytes ?? Infinity, deviceBindingBytes) / alignment) * alignment;
  // One dispatch (fused-small.ts): a thread's units (plus the lanes' dot for vec4 runs), then one
  // workgroup sum (none in the serial strategy, whose thread walks the whole channel).
  // float16 tensors never take one dispatch (fused-small.ts, planFusedWork).
  const fused = elementBytes === 4 ? planFused(view, 'backward', tuning, guaranteedFusedLimits(maxPerDimension, bindingBytes)) : undefined;
  if (fused) {
    const lanes = fused.entryPoint.endsWith('RunsVec4') ? 3 : 0;
    return fused.threadAdditions + lanes + (fused.strategy === 'Workgroup' ? workgroupSumChain(fused.workgroupSize, subgroupMaxSize) : 0);
  }
  const reduction = planSlabbedReduction(view, tuning, maxPerDimension, bindingBytes, alignment, elementBytes);
  // A thread adds blocks of four (two pairwise additions, and for vec4 units two more to add the four
  // units' block sums, or the lanes' pairwise sum at the end), then ⌈its units / 4⌉ blocks in a
  // chain; + 1 for the product g·(x − mean), which some paths round before adding.
  const own = Math.max(
    ...reduction.slabs.map(({ params: p, walk, width }) => {
      const vec4Extra = width === 'Vec4' ? 2 : 0;
      if (reduction.shape === 'Rows') return Math.ceil((p.laneRows > 0 ? p.laneRows : Math.ceil(p.rows / p.rowLanes)) / 4) + 2 + 2 + 1;
      if (walk === 'Segments') return Math.ceil(p.chunkLength / 4) + 2 + vec4Extra + 1;
      return Math.ceil(Math.ceil(p.chunkLength / wg) / 4) + 2 + vec4Extra + 1 + workgroupSumChain(wg, subgroupMaxSize);
    }),
  );
  // A two-level finalize (planPartialsFold) adds its groups as a tree finalize does, then the
  // finalize adds the groups' sums: the chains of both levels add up.
  const fold = planPartialsFold(view, reduction.chunks, tuning, maxPerDimension, 'sums');
  const first = fold ? Math.ceil(fold.params.groupSize / fold.workgroupSize) + Math.log2(fold.workgroupSize) : 0;
  const chunks = fold ? fold.params.groups : reduction.chunks;
  const merge = planMerge(view, chunks, tuning, maxPerDimension);
  return own + first + (merge.strategy === 'Serial' ? chunks : Math.ceil(chunks / wg) + Math.log2(wg));
}

/**
 * Multiple of ε for the float32 arithmetic of the GPU kernels (see above), for the engine `gpu`
 * (bn.gpu): its tuning, its device's binding size (slabs) and whether it adds with subgroups.
 */
export function gpuBackwardTerms(view: ChannelView, gpu: { device: GPUDevice; tuning: KernelTuning }, elementBytes = 4): number {
  return additionChain(view, gpu.tuning, 65535, gpu.device.limits.maxStorageBufferBindingSize, reductionSubgroupMaxSize(gpu), elementBytes) + 10;
}

/** The CPU path computes in float64 and rounds each output once: a few ε of the terms. */
export const CPU_BACKWARD_TERMS = 4;
/** Below anything the tests produce; only keeps exact zeros from dividing by zero in reports. */
export const BACKWARD_ATOL = 1e-30;

export interface BackwardErrorModel {
  /** Multiple of ε for the rounding of the computation itself. */
  terms: number;
  /** |error| of the mean the path normalized with, relative to the reference's, per channel. */
  meanError?: (channel: number) => number;
  /** Relative error of the invStd the path normalized with. */
  invStdError?: number;
}

export interface BackwardTolerances {
  dx: (index: number) => number;
  dgamma: (channel: number) => number;
  dbeta: (channel: number) => number;
}

export function backwardTolerances(
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  p: ReferenceParams,
  ref: ReferenceBackwardResult,
  mode: 'train' | 'eval',
  model: BackwardErrorModel,
): BackwardTolerances {
  const { channels, inner } = splitShape(p.shape, p.layout);
  const M = x.length / channels;
  const { mean, invStd } = ref;
  const S1 = new Float64Array(channels);
  const S2 = new Float64Array(channels);
  for (let i = 0; i < x.length; i++) {
    const c = channelOf(i, channels, inner);
    S1[c] += Math.abs(ref.g[i]);
    S2[c] += Math.abs(ref.g[i]) * Math.abs(x[i] - mean[c]);
  }
  const rounding = model.terms * EPS32;
  const rho = model.invStdError ?? 0;
  const delta = model.meanError ?? (() => 0);
  const k = (c: number) => Math.abs(p.gamma ? p.gamma[c] : 1) * invStd[c];
  return {
    dbeta: (c) => rounding * S1[c] + BACKWARD_ATOL,
    dgamma: (c) => (rounding + rho) * invStd[c] * S2[c] + invStd[c] * delta(c) * S1[c] + BACKWARD_ATOL,
    dx: (i) => {
      const c = channelOf(i, channels, inner);
      if (mode === 'eval') return (rounding + rho) * k(c) * Math.abs(ref.g[i]) + BACKWARD_ATOL;
      const dev = Math.abs(x[i] - mean[c]);
      const inv2 = invStd[c] ** 2;
      const terms = k(c) * (Math.abs(ref.g[i]) + S1[c] / M + inv2 * dev * (S2[c] / M));
      const meanShift = ((k(c) * inv2) / M) * delta(c) * (S2[c] + dev * S1[c]);
      return (rounding + 3 * rho) * terms + meanShift + BACKWARD_ATOL;
    },
  };
}
