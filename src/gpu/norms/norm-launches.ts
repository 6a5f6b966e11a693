import { BatchNormError } from '../../errors';
import type { ChannelView } from '../../layout';
import { gpuEps, type ResolvedScalarOptions } from '../../options';
import type { NormActivation, NormKind, NormView } from '../../norms/norm-types';
import type { GpuContext } from '../context';
import type { Launch } from '../dispatch';
import { statisticsLaunches } from '../encode-forward';
import { elementwiseLaunches, planShapeSlabs, type ElementwiseShape, type SlabbedElementwise } from '../elementwise-plan';
import { perChannelThreads, planReduction, type ReductionWork } from '../statistics-plan';
import { shaders } from '../shader-sources';
import { checkTensorFits, foldWorkgroups, tensorBytes } from '../slabs';
import { planRowWalkWork, unitsInRow, rowBackwardLayout, rowWalkParams, type RowWalk } from './norm-rows';

/**
 * The launches of layer, RMS, group and instance norm, all of which normalize rows of D values,
 * contiguous except for channels-last group and instance norm (norm-types.ts, NormView; their
 * statistics: stridedRowsReduction; the other kernels take the row index behind CHANNELS_LAST):
 * - forward: the batch-norm statistics kernels over the view { outer 1, channels = rows, inner = D }
 *   (a row is a channel there: stats-rows / stats-runs, partials-fold, finalize, with their slabs
 *   and folded grids) with γ = 1, β = 0 and no running statistics, writing [mean | variance |
 *   invStd | scale | shift] per row; for RMS norm norm-rms.wgsl then rewrites invStd from
 *   mean(x²) = variance + mean²; then norm-apply.wgsl writes y.
 * - backward: norm-backward-rows (Σh/D, Σh·x̂/D per row, and dz), norm-backward-params (dγ, dβ per
 *   parameter), norm-backward-apply (dx); each reads x and dy once and recomputes g from them, the
 *   saved statistics and, for the smooth activations, γ, β and z. Three launches: the tensor is
 *   bound whole (see planNormBackward). Through frozen statistics (instance norm's running ones in
 *   inference) dx drops the row terms (FROZEN).
 * Planning is pure and may throw 'too-large' before any device call.
 */

/** What the norm launches need of a call: its kind, view, eps and activation. */
export interface NormCall {
  kind: NormKind;
  view: NormView;
  eps: number;
  activation: NormActivation;
  /** Backward through frozen statistics (instance norm's running statistics in inference): dx = invStd·h. */
  frozen?: boolean;
}

/** Where the saved statistics lie in the buffer the kernels read them from (indices of float32s). */
export interface RowStatsLayout {
  meanOffset: number;
  invStdOffset: number;
}

/** The forward's stats buffer: the batch-norm layout over rows, [mean | variance | invStd | scale | shift]. */
export function forwardStatsLayout(rows: number): RowStatsLayout {
  return { meanOffset: 0, invStdOffset: 2 * rows };
}

/** The rows as the channels of a batch-norm view. */
export function rowsView(view: NormView): ChannelView {
  return { outer: 1, channels: view.rows, inner: view.rowLength, count: view.rowLength, size: view.size };
}

/**
 * The statistics kernels' options for the rows: no running statistics (the keep/take/varianceFactor
 * they would use are never read), eps as the call's (RMS norm's invStd is rewritten after).
 */
function statisticsOptions(call: NormCall): ResolvedScalarOptions {
  const view = rowsView(call.view);
  return { shape: [view.channels, view.inner], layout: undefined, view, eps: call.eps, momentum: 0, convention: 'keras', activation: 'none', dtype: 'float32' };
}

/** One override constant per activation and the residual, so each pipeline has only its own code. */
export function activationConstants(activation: NormActivation): Record<string, boolean> {
  return { RELU: activation === 'relu', GELU: activation === 'gelu', GELU_TANH: activation === 'gelu-tanh', SILU: activation === 'silu' };
}

/**
 * The apply's units: vec4 where four consecutive values share a row and either a parameter
 * ('Vec4Run': inner % 4 == 0, hence D % 4 == 0) or a parameter block ('Vec4Channels': inner == 1,
 * params % 4 == 0 and D % 4 == 0, so no vec4 straddles two groups' rows); else single values.
 */
export function normElementwiseShape(view: NormView): ElementwiseShape {
  const { params, inner, size, rowLength } = view;
  if (inner % 4 === 0) return { variant: 'Vec4Run', channelBlock: params, unitBytes: 16, units: size / 4, channels: params, inner: inner / 4 };
  if (inner === 1 && params % 4 === 0 && rowLength % 4 === 0) return { variant: 'Vec4Channels', channelBlock: params / 4, unitBytes: 16, units: size / 4, channels: params / 4, inner: 1 };
  return { variant: 'Scalar', channelBlock: params, unitBytes: 4, units: size, channels: params, inner };
}

/** The elementwise launches over flat slabs (slabs.ts), as batch norm's apply plans them. */
export function planNormElementwise(context: GpuContext, shape: ElementwiseShape): SlabbedElementwise {
  // The norms' apply kernels have no contiguous walk.
  return planShapeSlabs(shape, context.tuning, context.maxWorkgroupsPerDimension, context.bindingBytes, false);
}

export interface NormForwardWork {
  statistics: ReductionWork;
  apply: SlabbedElementwise;
  /** The apply row by row (norm-rows.ts) where the shape allows it, instead of `apply`'s walk. */
  rowApply: RowWalk | undefined;
}

export function planNormForward(context: GpuContext, call: NormCall): NormForwardWork {
  checkTensorFits(context.device.limits, rowsView(call.view));
  const statistics = call.view.channelsLast ? stridedRowsReduction(context, call.view) : planReduction(context, rowsView(call.view), 'stats');
  return { statistics, apply: planNormElementwise(context, normElementwiseShape(walkView(call.view))), rowApply: planRowWalkWork(context, call.view) };
}

/**
 * The row statistics of a channels-last view, whose rows (n, g) are `inner` blocks of C/G values C
 * apart: batch norm's 'Runs' statistics kernel (stats-runs.wgsl) over x seen as [N·inner, G, C/G],
 * in which channel g of sample n is exactly chunk n of length inner·C/G, so each workgroup reduces
 * one row and writes its partial at n·G + g, the row's index: one partial per row, which the
 * finalize takes as it stands (K = 1). The same kernels and merges as every other statistics call,
 * so the same error bound (docs/numerics.md), with one workgroup sum per row. The tensor is bound
 * whole (no slabs): above one binding, 'too-large' (the host-array call then takes the CPU path).
 */
function stridedRowsReduction(context: GpuContext, view: NormView): ReductionWork {
  const bytes = tensorBytes(view.size);
  if (bytes > context.bindingBytes) {
    throw new BatchNormError('too-large', `channels-last group and instance norm bind the tensor whole: ${bytes} bytes exceed the largest storage binding in use (${context.bindingBytes} bytes)`);
  }
  const { outer, params, inner, groups } = view;
  const perGroup = params / groups;
  const vec4 = perGroup % 4 === 0;
  const units = vec4 ? perGroup / 4 : perGroup;
  const wg = context.tuning.workgroupSize;
  const workgroupCount = outer * groups;
  const slab = {
    walk: '' as const,
    width: vec4 ? ('Vec4' as const) : ('Scalar' as const),
    params: { channels: groups, inner: units, valuesPerChannel: outer * inner * units, chunkLength: inner * units, chunks: outer, workgroupCount, stepOuter: Math.floor(wg / units), stepInner: wg % units, skip: 0, chunkBase: 0, channelBase: 0, totalChannels: groups, segmentsPerRun: 0, threads: 0 },
    grid: foldWorkgroups(workgroupCount, context.maxWorkgroupsPerDimension),
    binding: { offset: 0, size: bytes, skip: 0 },
  };
  return { kernel: 'stats', dtype: 'float32', plan: { shape: 'Runs', chunks: 1, zeroFill: false, slabs: [slab] }, partialsBytes: view.rows * 16 };
}

/**
 * The view the elementwise kernels walk: channels-last x as [outer·inner, params, 1], the channels
 * innermost (each thread keeps one), and D the C/G consecutive values a vec4 must not straddle.
 */
export function walkView(view: NormView): NormView {
  if (!view.channelsLast) return view;
  return { ...view, outer: view.outer * view.inner, inner: 1, rowLength: view.params / view.groups };
}

/** The uniforms of the channels-last row index (norm-apply / norm-backward-apply); unused, as 1, otherwise. */
function channelsLastParams(view: NormView, unit: number): Record<string, number> {
  if (!view.channelsLast) return { groups: 1, sample: 1, group: 1 };
  return { groups: view.groups, sample: (view.inner * view.params) / unit, group: view.params / view.groups / unit };
}

export interface NormForwardBuffers {
  x: GPUBuffer;
  y: GPUBuffer;
  /** [mean | variance | invStd | scale | shift] per row (5·rows float32). */
  stats: GPUBuffer;
  gamma?: GPUBuffer;
  beta?: GPUBuffer;
  residual?: GPUBuffer;
}

export function normForwardLaunches(context: GpuContext, call: NormCall, work: NormForwardWork, buffers: NormForwardBuffers): { launches: Launch[]; cleared: GPUBufferBinding[] } {
  const { view } = call;
  const statistics = statisticsLaunches(context, statisticsOptions(call), work.statistics, { x: buffers.x }, buffers.stats);
  const rms: Launch[] =
    call.kind === 'rms'
      ? [{ shader: shaders.normRms, entryPoint: 'normRmsInvStd', constants: {}, params: { rows: view.rows, eps: gpuEps(call.eps) }, buffers: [buffers.stats], grid: perChannelThreads(rowsView(view), context.tuning, context.maxWorkgroupsPerDimension) }]
      : [];
  return { launches: [...statistics.launches, ...rms, ...normApplyLaunches(context, call, work.apply, buffers, work.rowApply)], cleared: statistics.cleared };
}

/**
 * The apply alone, y from the statistics already in `buffers.stats` (the forward's, or, for instance
 * norm in inference, the running statistics laid out per row): row by row where `rowApply` plans
 * it (norm-rows.ts), else the tensor-wide walk in slabs.
 */
export function normApplyLaunches(context: GpuContext, call: NormCall, apply: SlabbedElementwise, buffers: NormForwardBuffers, rowApply?: RowWalk): Launch[] {
  const { view } = call;
  const gamma = buffers.gamma ?? context.constants.filled(view.params, 1);
  const beta = buffers.beta ?? context.constants.filled(view.params, 0);
  const constants = { RESIDUAL: buffers.residual !== undefined, CENTER: call.kind !== 'rms', ...activationConstants(call.activation) };
  if (rowApply) {
    return [
      {
        shader: shaders.normRowsApply,
        entryPoint: `normRowsApply${rowApply.variant}`,
        constants: { ...constants, UNITS_IN_ROW: unitsInRow(rowApply) },
        params: { ...rowWalkParams(view, rowApply), ...forwardStatsLayout(view.rows) },
        buffers: [buffers.x, buffers.stats, gamma, beta, buffers.y, buffers.residual ?? buffers.x],
        grid: rowApply.grid,
      },
    ];
  }
  const kernel = { shader: shaders.normApply, entryPoint: `normApply${apply.variant}`, constants: { ...constants, CHANNELS_LAST: view.channelsLast === true } };
  const unit = apply.variant === 'Scalar' ? 1 : 4;
  const rowUnits = view.rowLength / unit;
  const { groups, sample, group } = channelsLastParams(view, unit);
  return elementwiseLaunches(apply, kernel, { rowUnits, ...forwardStatsLayout(view.rows), sampleUnits: sample, groups, groupUnits: group }, (slab) => [
    slab(buffers.x),
    buffers.stats,
    gamma,
    beta,
    slab(buffers.y),
    slab(buffers.residual ?? buffers.x),
  ]);
}

export interface NormBackwardBuffers {
  dy: GPUBuffer;
  x: GPUBuffer;
  /** The saved statistics (mean and invStd), laid out as `layout` says. */
  stats: GPUBuffer;
  layout: RowStatsLayout;
  gamma?: GPUBuffer;
  beta?: GPUBuffer;
  /** The forward's output: required with activation 'relu' (its mask). */
  y?: GPUBuffer;
  /** The forward's z: required for dz with activation 'gelu', 'gelu-tanh' or 'silu' (the derivative is taken at norm(x) + z). */
  residual?: GPUBuffer;
  dx: GPUBuffer;
  /** Σ g·x̂ per parameter, written when given. */
  dgamma?: GPUBuffer;
  /** Σ g per parameter, written when given (not for RMS norm). */
  dbeta?: GPUBuffer;
  /** The residual's gradient g, written when given. */
  dz?: GPUBuffer;
}

/**
 * Storage buffers the backward kernels bind (norm-gradient.wgsl's six inputs: x, dy, statistics, γ,
 * β, y or z; then two outputs each): more than the batch-norm kernels' STORAGE_BUFFERS_PER_KERNEL,
 * as many as core WebGPU guarantees. A device that allows fewer (some compatibility-mode devices)
 * is refused with 'unsupported-device' before any GPU work.
 */
export const NORM_BACKWARD_STORAGE_BUFFERS = 8;

export interface NormBackwardWork {
  /** Layer and RMS norm rows of vec4 units: the row-wise kernels (norm-rows.ts) instead of the three below. */
  rowWise: RowWalk | undefined;
  apply: SlabbedElementwise;
  /** A, B per row: a workgroup per row, or a thread per row on software adapters (tuning.runSegments). */
  rows: { entryPoint: 'normBackwardRows' | 'normBackwardRowsSerial'; grid: [number, number] };
  /**
   * dγ, dβ: a thread per parameter walking its column when inner == 1 (layer, RMS norm), a
   * workgroup per parameter otherwise (norm-backward-params.wgsl).
   */
  params: { entryPoint: 'normBackwardParams' | 'normBackwardParamsColumns'; grid: [number, number] };
}

/**
 * The backward binds each tensor whole (its kernels index rows and parameters across the tensor),
 * so a tensor above one binding is refused ('too-large') rather than split.
 */
export function planNormBackward(context: GpuContext, call: NormCall): NormBackwardWork {
  const { view } = call;
  const storage = context.device.limits.maxStorageBuffersPerShaderStage;
  if (storage < NORM_BACKWARD_STORAGE_BUFFERS) {
    throw new BatchNormError('unsupported-device', `the norm backward binds ${NORM_BACKWARD_STORAGE_BUFFERS} storage buffers per kernel; this device allows ${storage}`);
  }
  checkTensorFits(context.device.limits, rowsView(view));
  if (tensorBytes(view.size) > context.bindingBytes) {
    throw new BatchNormError('too-large', `the norm backward binds each tensor whole: ${tensorBytes(view.size)} bytes exceed the largest storage binding in use (${context.bindingBytes} bytes)`);
  }
  const max = context.maxWorkgroupsPerDimension;
  // Columns serve channels-last views too: a parameter's values are then a column of outer·inner positions.
  const params = view.inner === 1 || view.channelsLast
    ? { entryPoint: 'normBackwardParamsColumns' as const, grid: foldWorkgroups(Math.ceil(view.params / context.tuning.workgroupSize), max) }
    : { entryPoint: 'normBackwardParams' as const, grid: foldWorkgroups(view.params, max) };
  const rows = context.tuning.runSegments
    ? { entryPoint: 'normBackwardRowsSerial' as const, grid: foldWorkgroups(Math.ceil(view.rows / context.tuning.workgroupSize), max) }
    : { entryPoint: 'normBackwardRows' as const, grid: foldWorkgroups(view.rows, max) };
  // Through frozen statistics only the tensor-wide apply has dx = invStd·h (FROZEN).
  const rowWise = call.frozen ? undefined : planRowWalkWork(context, view, 'backward');
  return { rowWise, apply: planNormElementwise(context, normElementwiseShape(walkView(view))), rows, params };
}

export function normBackwardLaunches(context: GpuContext, call: NormCall, work: NormBackwardWork, buffers: NormBackwardBuffers): Launch[] {
  const { view } = call;
  const smooth = call.activation !== 'none' && call.activation !== 'relu';
  const saved = call.activation === 'relu' ? buffers.y : smooth ? buffers.residual : undefined;
  const constants = { CENTER: call.kind !== 'rms', RESIDUAL: smooth && buffers.residual !== undefined, CHANNELS_LAST: view.channelsLast === true, ...activationConstants(call.activation) };
  const { layout } = buffers;
  if (work.rowWise) return rowWiseBackwardLaunches(context, call, work.rowWise, buffers, constants, saved ?? buffers.x);
  const gradientInputs = [buffers.x, buffers.dy, buffers.stats, buffers.gamma ?? context.constants.filled(view.params, 1), buffers.beta ?? context.constants.filled(view.params, 0), saved ?? buffers.x];
  const rowSumsBytes = view.rows * 8;
  const rowSums = { buffer: context.scratch.get(rowSumsBytes), offset: 0, size: rowSumsBytes };
  const rows: Launch = {
    shader: shaders.normBackwardRows,
    entryPoint: work.rows.entryPoint,
    constants: { ...constants, DZ: buffers.dz !== undefined },
    params: { rowLength: view.rowLength, inner: view.inner, params: view.params, rows: view.rows, groups: view.groups, ...layout, rowLengthValue: view.rowLength, nan: NaN },
    buffers: [...gradientInputs, rowSums, buffers.dz ?? context.constants.placeholder('dz')],
    grid: work.rows.grid,
  };
  const { dgamma, dbeta } = buffers;
  const params: Launch[] =
    dgamma || dbeta
      ? [
          {
            shader: shaders.normBackwardParams,
            entryPoint: work.params.entryPoint,
            constants: { ...constants, DGAMMA: dgamma !== undefined, DBETA: dbeta !== undefined },
            params: { inner: view.inner, params: view.params, outer: view.outer, groups: view.groups, ...layout, nan: NaN },
            buffers: [...gradientInputs, dgamma ?? context.constants.placeholder('dgamma'), dbeta ?? context.constants.placeholder('dbeta')],
            grid: work.params.grid,
          },
        ]
      : [];
  const apply = elementwiseLaunches(work.apply, { shader: shaders.normBackwardApply, entryPoint: work.apply.variant === 'Scalar' ? 'normBackwardApply' : `normBackwardApply${work.apply.variant}`, constants: { ...constants, FROZEN: call.frozen === true } }, { rowLength: view.rowLength, ...layout, ...backwardApplyParams(view), nan: NaN }, () => [...gradientInputs, rowSums, buffers.dx]);
  return [rows, ...params, ...apply];
}

/** norm-backward-apply's channels-last row index, in values. */
function backwardApplyParams(view: NormView): Record<string, number> {
  const { groups, sample, group } = channelsLastParams(view, 1);
  return { sampleLength: sample, groups, groupParams: group };
}

/** The row-wise backward (norm-rows-backward.wgsl): sums, fold, dx. */
function rowWiseBackwardLaunches(context: GpuContext, call: NormCall, walk: RowWalk, buffers: NormBackwardBuffers, kernelConstants: Record<string, boolean>, saved: GPUBuffer): Launch[] {
  const { view } = call;
  // Rows of a row-wise walk are contiguous: the kernels have no channels-last index.
  const { CHANNELS_LAST: _channelsLast, ...rowConstants } = kernelConstants;
  const constants = { ...rowConstants, UNITS_IN_ROW: unitsInRow(walk) };
  const scratch = rowBackwardLayout(view, walk);
  const partials = { buffer: context.scratch.get(scratch.floats * 4), offset: 0, size: scratch.floats * 4 };
  const inputs = [buffers.x, buffers.dy, buffers.stats, buffers.gamma ?? context.constants.filled(view.params, 1), buffers.beta ?? context.constants.filled(view.params, 0), saved, partials];
  const shape = walk.variant === 'Vec4Columns' ? 'Columns' : 'Run';
  const walkParams = { rows: view.rows, rowThreads: walk.rowThreads, rowGroups: walk.rowGroups, rowUnits: walk.rowUnits, columnPartials: scratch.columnPartials, rowSums: scratch.rowSums };
  const params = { ...walkParams, ...buffers.layout, inner: walk.inner, groups: view.groups, groupParams: walk.groupParams, nan: NaN };
  const { dgamma, dbeta, dz } = buffers;
  const sums: Launch = { shader: shaders.normRowsBackward, entryPoint: `normRowsBackward${shape}Sums`, constants: { ...constants, DZ: dz !== undefined }, params, buffers: [...inputs, dz ?? context.constants.placeholder('dz')], grid: walk.grid };
  const foldThreads = view.rows + (shape === 'Columns' ? walk.rowUnits : view.params);
  const fold: Launch = {
    shader: shaders.normRowsBackwardFold,
    entryPoint: `normRowsBackward${shape}Fold`,
    constants: { DGAMMA: dgamma !== undefined, DBETA: dbeta !== undefined },
    params: { ...walkParams, rowLength: view.rowLength, outer: view.outer, channels: view.params, nan: NaN },
    buffers: [partials, dgamma ?? context.constants.placeholder('dgamma'), dbeta ?? context.constants.placeholder('dbeta')],
    grid: foldWorkgroups(Math.ceil(foldThreads / context.tuning.workgroupSize), context.maxWorkgroupsPerDimension),
  };
  const apply: Launch = { shader: shaders.normRowsBackward, entryPoint: `normRowsBackward${shape}Apply`, constants: { ...constants, DZ: false }, params, buffers: [...inputs, buffers.dx], grid: walk.grid };
  return [sums, fold, apply];
}
