import { forwardPassOf, resolveBackwardMode } from '../backward-options';
import { BatchNormError } from '../errors';
import { resolveScalarOptions, type ResolvedScalarOptions, type ScalarOptions } from '../options';
import type { BackwardMode } from '../types';
import { coefficientScratch } from './backward-scratch';
import { contextFor, type GpuContext } from './context';
import { encodeLaunches, type Launch } from './dispatch';
import { planBackwardFinalize } from './plan-backward';
import type { SlabbedElementwise } from './plan-slabs';
import { elementwiseLaunches, planElementwiseWork, planReduction, reductionLaunches, type ReductionWork } from './slab-launches';
import { checkBuffer, checkDistinct, checkEncoder, statsByteLength } from './resident-options';
import { shaders } from './shader-sources';

export interface BackwardBuffers {
  dy: GPUBuffer;
  x: GPUBuffer;
  /** Receives dx; must differ from every other buffer. */
  dx: GPUBuffer;
  /**
   * The forward's [mean | variance | invStd | scale | shift]: written by encodeForwardTrain for
   * mode 'train', by encodeForwardInference (the running statistics folded) for mode 'eval'.
   */
  stats: GPUBuffer;
  /** γ (C values); ones when omitted. */
  gamma?: GPUBuffer;
  /** Receive Σ dy·x̂ and Σ dy (C values each); not computed when omitted. */
  dgamma?: GPUBuffer;
  dbeta?: GPUBuffer;
}

export type GpuBackwardArgs = ScalarOptions &
  BackwardBuffers & {
    /** Add the gradients to what dgamma and dbeta hold instead of overwriting them (default false). */
    accumulate?: boolean;
    /** 'train' (default): through the batch statistics; 'eval': frozen statistics. */
    mode?: BackwardMode;
  };

interface ResolvedBackwardArgs {
  /** The engine's context for this call's size class (see context.ts). */
  context: GpuContext;
  resolved: ResolvedScalarOptions;
  mode: BackwardMode;
  accumulate: boolean;
  reduce: ReductionWork;
  apply: SlabbedElementwise;
}

/** Validates options and buffers before anything is encoded, so a bad call leaves no partial work. */
function resolveBackwardArgs(context: GpuContext, args: GpuBackwardArgs): ResolvedBackwardArgs {
  if (args === null || typeof args !== 'object') {
    throw new BatchNormError('invalid-option', 'encodeBackward needs { shape, dy, x, dx, stats, … }');
  }
  const mode = resolveBackwardMode(args.mode);
  const resolved = resolveScalarOptions(args, forwardPassOf(mode));
  if (args.accumulate !== undefined && typeof args.accumulate !== 'boolean') {
    throw new BatchNormError('invalid-option', `accumulate must be a boolean, got ${JSON.stringify(args.accumulate)}`);
  }
  const bytes = resolved.view.size * 4;
  const C = resolved.view.channels;
  for (const name of ['dy', 'x', 'dx'] as const) checkBuffer(name, args[name], bytes, GPUBufferUsage.STORAGE);
  checkBuffer('stats', args.stats, statsByteLength(C), GPUBufferUsage.STORAGE);
  for (const name of ['gamma', 'dgamma', 'dbeta'] as const) {
    if (args[name] !== undefined) checkBuffer(name, args[name], C * 4, GPUBufferUsage.STORAGE);
  }
  // Written buffers may alias nothing; x and dy are only read, so they may be one buffer.
  const { dx, dgamma, dbeta } = args;
  checkDistinct({ dx, dgamma, dbeta, x: args.x, stats: args.stats, gamma: args.gamma });
  checkDistinct({ dx, dgamma, dbeta, dy: args.dy });
  const tuned = contextFor(context, 'backward', resolved.view);
  return {
    context: tuned,
    resolved,
    mode,
    accumulate: args.accumulate ?? false,
    reduce: planReduction(tuned, resolved.view, 'backwardReduce'),
    apply: planElementwiseWork(tuned, resolved.view),
  };
}

/**
 * Backward on GPU-resident data (checked by prepareBackward, then encoded; see encode-forward.ts),
 * recorded into the caller's encoder as one compute pass: the two
 * per-channel sums (one read of x and dy), dgamma and dbeta with the coefficients of dx, then dx
 * (one more read of x and dy). Nothing is submitted or read back.
 */
export function prepareBackward(context: GpuContext, encoder: GPUCommandEncoder, args: GpuBackwardArgs): () => void {
  checkEncoder(encoder);
  const checked = resolveBackwardArgs(context, args);
  return () => encodeChecked(checked.context, encoder, args, checked);
}

export function encodeBackward(context: GpuContext, encoder: GPUCommandEncoder, args: GpuBackwardArgs): void {
  prepareBackward(context, encoder, args)();
}

function encodeChecked(context: GpuContext, encoder: GPUCommandEncoder, args: GpuBackwardArgs, checked: ResolvedBackwardArgs): void {
  const { resolved, mode, accumulate, reduce, apply } = checked;
  const { view } = resolved;
  const C = view.channels;
  const { tuning, maxWorkgroupsPerDimension: maxGrid } = context;
  const relu = resolved.activation === 'relu';
  const train = mode === 'train';
  const reduction = reductionLaunches(context, reduce, [args.x, args.dy], [args.stats], { RELU: relu });
  const coefficients = coefficientScratch(context).get(4 * C * 4);
  const applyKernel = {
    shader: shaders.backwardApply,
    entryPoint: `backwardApply${apply.variant}`,
    constants: { RELU: relu, TRAIN: train },
  };
  const launches: Launch[] = [
    ...reduction.launches,
    {
      shader: shaders.backwardFinalize,
      ...planBackwardFinalize(view, reduce.plan.chunks, tuning, maxGrid),
      constants: { TRAIN: train, ACCUMULATE: accumulate, WRITE_DGAMMA: args.dgamma !== undefined, WRITE_DBETA: args.dbeta !== undefined },
      buffers: [
        reduction.partials,
        args.stats,
        args.gamma ?? context.constants.filled(C, 1),
        args.dgamma ?? context.constants.placeholder('dgamma'),
        args.dbeta ?? context.constants.placeholder('dbeta'),
        coefficients,
      ],
    },
    ...elementwiseLaunches(apply, applyKernel, { block: apply.channelBlock }, (slab) => [slab(args.x), slab(args.dy), args.stats, coefficients, slab(args.dx)]),
  ];
  encodeLaunches(context, encoder, 'backward', launches, reduction.cleared);
}
