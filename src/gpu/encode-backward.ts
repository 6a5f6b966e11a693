import { forwardPassOf, resolveBackwardMode } from '../backward-options';
import { BatchNormError } from '../errors';
import { resolveScalarOptions, type ResolvedScalarOptions, type ScalarOptions } from '../options';
import type { BackwardMode } from '../types';
import { coefficientScratch } from './backward-scratch';
import { contextFor, type GpuContext } from './context';
import type { Launch } from './dispatch';
import { fusedBackwardLaunch, planFusedWork } from './fused-small';
import { passKinds, prepareCached, runPrepared, type PreparedCall } from './program-cache';
import { planBackwardFinalize } from './backward-plan';
import { elementwiseLaunches, planElementwiseWork, type SlabbedElementwise } from './elementwise-plan';
import { planPartialsFold, planReduction, reductionLaunches, type ReductionWork } from './statistics-plan';
import { checkBuffer, checkDistinct, checkDtypeSupported, checkEncoder, optionsKey, statsByteLength, residentTensorBytes } from './resident-options';
import { shaders, tensorShader } from './shader-sources';

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
  /**
   * The forward's output, still holding what it wrote: required with activation 'relu', where dy
   * passes exactly where y > 0 (decided on y's bits, so the mask is the forward's on any device).
   */
  y?: GPUBuffer;
  /** γ (C values); ones when omitted. */
  gamma?: GPUBuffer;
  /** Receive Σ dy·x̂ and Σ dy (C values each); not computed when omitted. */
  dgamma?: GPUBuffer;
  dbeta?: GPUBuffer;
  /**
   * Receives the gradient of a fused residual's z (y = act(BN(x) + z)): dy where y passes the
   * activation's gradient (all of dy without one). A tensor of x's size; must differ from every
   * other buffer. The rest of the backward is the same with or without a residual: the mask comes
   * from y either way.
   */
  dz?: GPUBuffer;
}

export type GpuBackwardArgs = ScalarOptions &
  BackwardBuffers & {
    /** Add the gradients to what dgamma and dbeta hold instead of overwriting them (default false). */
    accumulate?: boolean;
    /** 'train' (default): through the batch statistics; 'eval': frozen statistics. */
    mode?: BackwardMode;
  };

interface ResolvedBackwardArgs {
  resolved: ResolvedScalarOptions;
  mode: BackwardMode;
  accumulate: boolean;
}

/** Validates options and buffers before anything is encoded, so a bad call leaves no partial work. */
function resolveBackwardArgs(args: GpuBackwardArgs): ResolvedBackwardArgs {
  if (args === null || typeof args !== 'object') {
    throw new BatchNormError('invalid-option', 'encodeBackward needs { shape, dy, x, dx, stats, … }');
  }
  const mode = resolveBackwardMode(args.mode);
  const resolved = resolveScalarOptions(args, forwardPassOf(mode));
  if (args.accumulate !== undefined && typeof args.accumulate !== 'boolean') {
    throw new BatchNormError('invalid-option', `accumulate must be a boolean, got ${JSON.stringify(args.accumulate)}`);
  }
  const bytes = residentTensorBytes(resolved);
  const C = resolved.view.channels;
  for (const name of ['dy', 'x', 'dx'] as const) checkBuffer(name, args[name], bytes, GPUBufferUsage.STORAGE);
  if (args.dz !== undefined) checkBuffer('dz', args.dz, bytes, GPUBufferUsage.STORAGE);
  if (resolved.activation === 'relu') {
    if (args.y === undefined) throw new BatchNormError('invalid-buffer', "activation 'relu' needs y, the forward's output, to mask dy where y is not positive");
    checkBuffer('y', args.y, bytes, GPUBufferUsage.STORAGE);
  }
  checkBuffer('stats', args.stats, statsByteLength(C), GPUBufferUsage.STORAGE);
  for (const name of ['gamma', 'dgamma', 'dbeta'] as const) {
    if (args[name] !== undefined) checkBuffer(name, args[name], C * 4, GPUBufferUsage.STORAGE);
  }
  // Written buffers may alias nothing; x, dy and y are only read, so they may share buffers.
  const { dx, dgamma, dbeta, dz } = args;
  checkDistinct({ dx, dgamma, dbeta, dz, x: args.x, stats: args.stats, gamma: args.gamma });
  checkDistinct({ dx, dgamma, dbeta, dz, dy: args.dy });
  if (resolved.activation === 'relu') checkDistinct({ dx, dgamma, dbeta, dz, y: args.y });
  return { resolved, mode, accumulate: args.accumulate ?? false };
}

/**
 * Backward on GPU-resident data (checked by prepareBackward, then encoded; see encode-forward.ts),
 * recorded into the caller's encoder as one compute pass: the two
 * per-channel sums (one read of x and dy, and of y with relu), dgamma and dbeta with the
 * coefficients of dx, then dx (one more read of x and dy, and of y with relu; dz written in the same
 * walk when given). Nothing is submitted or read back.
 */
export function prepareBackward(context: GpuContext, encoder: GPUCommandEncoder, args: GpuBackwardArgs): PreparedCall<void> {
  checkEncoder(encoder);
  const checked = resolveBackwardArgs(args);
  const { resolved, mode, accumulate } = checked;
  checkDtypeSupported(context.device, resolved);
  // The size class's autotuned launch shapes, if any (context.ts).
  context = contextFor(context, 'backward', resolved.view);
  return prepareCached(
    context,
    encoder,
    {
      label: 'backward',
      key: [passKinds.backward, ...optionsKey(resolved), mode === 'train' ? 1 : 0, accumulate ? 1 : 0],
      slots: [args.dy, args.x, args.dx, args.stats, args.gamma, args.dgamma, args.dbeta, resolved.activation === 'relu' ? args.y : undefined, args.dz],
      plan: () => {
        // One dispatch when every channel (group) fits a workgroup (fused-small.ts), which writes no
        // dz: a residual's backward takes the general launches.
        const fused = args.dz ? undefined : planFusedWork(context, resolved.view, 'backward', resolved.dtype);
        if (fused) {
          const launch = fusedBackwardLaunch(context, resolved, fused, { train: mode === 'train', accumulate }, args);
          return () => ({ launches: [launch], cleared: [] });
        }
        const reduce = planReduction(context, resolved.view, 'backwardReduce', resolved.dtype);
        const apply = planElementwiseWork(context, resolved.view, resolved.dtype);
        return () => backwardLaunches(context, args, checked, reduce, apply);
      },
    },
    undefined,
  );
}

export function encodeBackward(context: GpuContext, encoder: GPUCommandEncoder, args: GpuBackwardArgs): void {
  runPrepared(prepareBackward(context, encoder, args));
}

function backwardLaunches(context: GpuContext, args: GpuBackwardArgs, checked: ResolvedBackwardArgs, reduce: ReductionWork, apply: SlabbedElementwise): { launches: Launch[]; cleared: GPUBufferBinding[] } {
  const { resolved, mode, accumulate } = checked;
  const { view } = resolved;
  const C = view.channels;
  const { tuning, maxWorkgroupsPerDimension: maxGrid } = context;
  const relu = resolved.activation === 'relu';
  const train = mode === 'train';
  // Without relu the kernels never read y; x stands in for its binding.
  const y = relu ? args.y! : args.x;
  const reduction = reductionLaunches(context, reduce, [args.x, args.dy, y], [args.stats], { RELU: relu });
  // A two-level finalize above FINALIZE_MAX_PARTIALS partials per channel (statistics-plan.ts).
  const fold = planPartialsFold(view, reduce.plan.chunks, tuning, maxGrid, 'sums');
  const foldedBytes = fold ? fold.params.groups * C * 8 : 0;
  const sums = fold ? { buffer: context.foldedScratch.get(foldedBytes), offset: 0, size: foldedBytes } : reduction.partials;
  const coefficients = coefficientScratch(context).get(4 * C * 4);
  const applyKernel = {
    shader: tensorShader(shaders.backwardApply, resolved.dtype),
    entryPoint: `backwardApply${apply.variant}`,
    constants: { RELU: relu, TRAIN: train, RESIDUAL: args.dz !== undefined },
  };
  // Without a residual the kernel never stores to dz; a placeholder fills its (writable) binding.
  const dz = (slab: (tensor: GPUBuffer) => GPUBufferBinding) => (args.dz ? slab(args.dz) : context.constants.placeholder('dz'));
  const launches: Launch[] = [
    ...reduction.launches,
    ...(fold ? [{ shader: shaders.partialsFold, ...fold, constants: { WORKGROUP_SIZE: fold.workgroupSize }, buffers: [reduction.partials, sums] }] : []),
    {
      shader: shaders.backwardFinalize,
      ...planBackwardFinalize(view, fold ? fold.params.groups : reduce.plan.chunks, tuning, maxGrid),
      constants: { TRAIN: train, ACCUMULATE: accumulate, WRITE_DGAMMA: args.dgamma !== undefined, WRITE_DBETA: args.dbeta !== undefined },
      buffers: [
        sums,
        args.stats,
        args.gamma ?? context.constants.filled(C, 1),
        args.dgamma ?? context.constants.placeholder('dgamma'),
        args.dbeta ?? context.constants.placeholder('dbeta'),
        coefficients,
      ],
    },
    ...elementwiseLaunches(apply, applyKernel, { block: apply.channelBlock }, (slab) => [slab(args.x), slab(args.dy), slab(y), coefficients, slab(args.dx), dz(slab)]),
  ];
  return { launches, cleared: reduction.cleared };
}
