import { BatchNormError } from '../../errors';
import type { AnyNormOptions, GroupNormOptions, InstanceNormOptions, LayerNormOptions, NormActivation, NormKind, RmsNormOptions } from '../../norms/norm-types';
import { resolveNormScalars } from '../../norms/norm-options';
import type { GpuContext } from '../context';
import { encodeLaunches } from '../dispatch';
import { passKinds, prepareCached, type PreparedCall } from '../program-cache';
import { checkBuffer, checkDistinct, checkEncoder, statsByteLength } from '../resident-options';
import { forwardStatsLayout, normBackwardLaunches, type NormBackwardBuffers, normForwardLaunches, planNormBackward, planNormForward, type NormCall } from './norm-launches';

/**
 * The GPU-resident norm calls: kernels recorded into the caller's encoder on caller-owned buffers,
 * nothing submitted or read back. As batch norm's (encode-forward.ts), each call comes in two
 * halves: prepare… checks every argument and plans (no device call, so a bad call throws before
 * any GPU work); the PreparedCall makes the device calls, inside the engine's error scopes.
 */

/**
 * The call's options: `kind` and the options of the host-array call of that kind (shape, and
 * normalizedShape / axis or groups, eps, convention, activation), e.g. { kind: 'layer', shape:
 * [8, 768], activation: 'gelu' }; or, resolved, { kind, view (norm-types.ts, NormView), eps,
 * activation }.
 */
export type NormResidentCall = NormCall | NormResidentOptions;

/** A resident call's options in the host-array call's terms (γ, β and z are buffers of the call). */
export type NormResidentOptions =
  | ({ kind: 'layer' } & Omit<LayerNormOptions, 'gamma' | 'beta' | 'residual'>)
  | ({ kind: 'rms' } & Omit<RmsNormOptions, 'gamma' | 'residual'>)
  | ({ kind: 'group' } & Omit<GroupNormOptions, 'gamma' | 'beta' | 'residual'>)
  | ({ kind: 'instance' } & Omit<InstanceNormOptions, 'gamma' | 'beta' | 'residual' | 'runningMean' | 'runningVar' | 'momentum' | 'training'>);

/** The buffers of a resident forward. */
export interface NormResidentForwardBuffers {
  x: GPUBuffer;
  y: GPUBuffer;
  /** Length view.params each (default γ = 1, β = 0); RMS norm takes no β. */
  gamma?: GPUBuffer;
  beta?: GPUBuffer;
  /** z of a fused residual add, y = act(norm(x) + z), x's size. */
  residual?: GPUBuffer;
  /**
   * Receives [mean | variance | invStd | scale | shift] per row (5·rows float32; RMS norm: mean and
   * variance of x, invStd = 1 / sqrt(mean(x²) + eps); scale and shift are of no use); created
   * when omitted, then owned by the caller.
   */
  stats?: GPUBuffer;
}

/**
 * The buffers of a resident backward: the launches' own (norm-launches.ts) but the statistics'
 * layout, which is the forward's stats buffer's here.
 */
export type NormResidentBackwardBuffers = Omit<NormBackwardBuffers, 'layout'>;

export type NormForwardArgs = NormResidentCall & NormResidentForwardBuffers;
export type NormBackwardArgs = NormResidentCall & NormResidentBackwardBuffers;

const kinds: readonly NormKind[] = ['layer', 'rms', 'group', 'instance'];
const activations: readonly NormActivation[] = ['none', 'relu', 'gelu', 'gelu-tanh', 'silu'];

function positiveInteger(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) throw new BatchNormError('invalid-shape', `view.${name} must be a positive integer, got ${String(value)}`);
  return value;
}

/** The resolved options, checked for consistency (a view whose numbers disagree would index past its buffers). */
export function checkNormCall(args: unknown): NormCall {
  if (args === null || typeof args !== 'object') throw new BatchNormError('invalid-option', 'the norm encode calls need { kind, view, eps, activation, …buffers }');
  const { kind, view, eps, activation } = args as Partial<NormCall>;
  if (!kinds.includes(kind as NormKind)) throw new BatchNormError('invalid-option', `kind must be one of ${kinds.join(', ')}, got ${JSON.stringify(kind)}`);
  // The host-array call's options: resolved by its own rules (defaults per kind and convention).
  if ((args as { shape?: unknown }).shape !== undefined) {
    if (view !== undefined) throw new BatchNormError('invalid-option', 'give shape (with its options) or a resolved view, not both');
    return resolveNormScalars(kind as NormKind, optionsOf(args as Record<string, unknown>) as AnyNormOptions);
  }
  if (!activations.includes(activation as NormActivation)) throw new BatchNormError('invalid-option', `activation must be one of ${activations.join(', ')}, got ${JSON.stringify(activation)}`);
  if (typeof eps !== 'number' || !(eps >= 0) || !Number.isFinite(eps)) throw new BatchNormError('invalid-option', `eps must be a finite number ≥ 0, got ${String(eps)}`);
  if (view === null || typeof view !== 'object') throw new BatchNormError('invalid-shape', 'view must be the row view { size, outer, params, inner, groups, rows, rowLength }');
  const [outer, params, inner, groups] = (['outer', 'params', 'inner', 'groups'] as const).map((name) => positiveInteger(name, view[name]));
  if (params % groups !== 0) throw new BatchNormError('invalid-option', `groups (${groups}) must divide params (${params})`);
  if (view.channelsLast !== undefined && typeof view.channelsLast !== 'boolean') throw new BatchNormError('invalid-shape', `view.channelsLast must be a boolean, got ${JSON.stringify(view.channelsLast)}`);
  if (view.size !== outer * params * inner || view.rows !== outer * groups || view.rowLength !== (params / groups) * inner) {
    throw new BatchNormError('invalid-shape', `view ${JSON.stringify(view)} is inconsistent: size = outer·params·inner, rows = outer·groups, rowLength = params/groups·inner`);
  }
  return { kind: kind as NormKind, view: { ...view }, eps, activation: activation as NormActivation };
}

/** A resident call's options without its buffers (the resolver would take those for host arrays). */
function optionsOf(args: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(args).filter(([name]) => name !== 'kind' && !residentBuffers.has(name)));
}

const residentBuffers = new Set(['x', 'y', 'gamma', 'beta', 'residual', 'stats', 'dy', 'dx', 'dgamma', 'dbeta', 'dz']);

function checkParams(call: NormCall, args: { gamma?: GPUBuffer; beta?: GPUBuffer }): void {
  const bytes = call.view.params * 4;
  if (args.gamma !== undefined) checkBuffer('gamma', args.gamma, bytes, GPUBufferUsage.STORAGE);
  if (args.beta !== undefined) {
    if (call.kind === 'rms') throw new BatchNormError('invalid-option', 'RMS norm has no beta');
    checkBuffer('beta', args.beta, bytes, GPUBufferUsage.STORAGE);
  }
}

export function prepareNormForward(context: GpuContext, encoder: GPUCommandEncoder, args: NormForwardArgs): PreparedCall<GPUBuffer> {
  checkEncoder(encoder);
  const call = checkNormCall(args);
  const bytes = call.view.size * 4;
  checkBuffer('x', args.x, bytes, GPUBufferUsage.STORAGE);
  checkBuffer('y', args.y, bytes, GPUBufferUsage.STORAGE);
  if (args.residual !== undefined) checkBuffer('residual', args.residual, bytes, GPUBufferUsage.STORAGE);
  checkParams(call, args);
  const statsBytes = statsByteLength(call.view.rows);
  if (args.stats !== undefined) checkBuffer('stats', args.stats, statsBytes, GPUBufferUsage.STORAGE);
  const { x, y, gamma, beta, residual, stats } = args;
  for (const [name, buffer] of Object.entries({ x, gamma, beta, residual })) checkDistinct({ y, stats, [name]: buffer });
  if (statsBytes > context.device.limits.maxBufferSize) throw new BatchNormError('too-large', `${call.view.rows} rows need a ${statsBytes}-byte statistics buffer; this device allows ${context.device.limits.maxBufferSize}`);
  const label = `${call.kind}NormForward`;
  if (stats) {
    // The caller's stats buffer: the pass and its bind groups are kept per buffer set (program-cache.ts).
    const plan = () => {
      const work = planNormForward(context, call);
      return () => normForwardLaunches(context, call, work, { x, y, gamma, beta, residual, stats });
    };
    return prepareCached(context, encoder, { label, key: [passKinds.normForward, ...normCallKey(call)], slots: [x, y, stats, gamma, beta, residual], plan }, stats);
  }
  // A new stats buffer per call, which the caller then owns: nothing to keep.
  const work = planNormForward(context, call);
  return {
    create: () => {
      const target = stats ?? context.device.createBuffer({ label: `BatchNorm.${call.kind}Norm.stats[${call.view.rows}]`, size: statsBytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
      const { launches, cleared } = normForwardLaunches(context, call, work, { x, y, gamma, beta, residual, stats: target });
      encodeLaunches(context, encoder, label, launches, cleared);
      return target;
    },
  };
}

export function prepareNormBackward(context: GpuContext, encoder: GPUCommandEncoder, args: NormBackwardArgs): PreparedCall<void> {
  checkEncoder(encoder);
  const call = checkNormCall(args);
  const { view, activation } = call;
  const bytes = view.size * 4;
  const paramBytes = view.params * 4;
  for (const name of ['dy', 'x', 'dx'] as const) checkBuffer(name, args[name], bytes, GPUBufferUsage.STORAGE);
  checkBuffer('stats', args.stats, statsByteLength(view.rows), GPUBufferUsage.STORAGE);
  checkParams(call, args);
  if (activation === 'relu' && args.y === undefined) throw new BatchNormError('invalid-option', "activation 'relu' needs the forward's output y (its mask)");
  if (args.y !== undefined) checkBuffer('y', args.y, bytes, GPUBufferUsage.STORAGE);
  const smooth = activation !== 'none' && activation !== 'relu';
  if (smooth && args.dz !== undefined && args.residual === undefined) {
    throw new BatchNormError('invalid-option', `activation '${activation}' after a residual add needs the forward's z (residual): its derivative is taken at norm(x) + z`);
  }
  if (args.residual !== undefined) checkBuffer('residual', args.residual, bytes, GPUBufferUsage.STORAGE);
  if (args.dz !== undefined) checkBuffer('dz', args.dz, bytes, GPUBufferUsage.STORAGE);
  if (args.dgamma !== undefined) checkBuffer('dgamma', args.dgamma, paramBytes, GPUBufferUsage.STORAGE);
  if (args.dbeta !== undefined) {
    if (call.kind === 'rms') throw new BatchNormError('invalid-option', 'RMS norm has no beta, so no dbeta');
    checkBuffer('dbeta', args.dbeta, paramBytes, GPUBufferUsage.STORAGE);
  }
  const { dy, x, stats, gamma, beta, y, residual, dx, dgamma, dbeta, dz } = args;
  for (const [name, buffer] of Object.entries({ dy, x, stats, gamma, beta, y, residual })) checkDistinct({ dx, dgamma, dbeta, dz, [name]: buffer });
  const plan = () => {
    const work = planNormBackward(context, call);
    return () => ({ launches: normBackwardLaunches(context, call, work, { dy, x, stats, layout: forwardStatsLayout(view.rows), gamma, beta, y, residual, dx, dgamma, dbeta, dz }) });
  };
  const slots = [dy, x, stats, gamma, beta, y, residual, dx, dgamma, dbeta, dz];
  return prepareCached(context, encoder, { label: `${call.kind}NormBackward`, key: [passKinds.normBackward, ...normCallKey(call)], slots, plan }, undefined);
}

/**
 * The numbers that, with which buffers a call is given (and which of them are one buffer), determine
 * its launches: the kernels' cache key (program-cache.ts).
 */
function normCallKey(call: NormCall): number[] {
  const { view } = call;
  return [kinds.indexOf(call.kind), view.size, view.outer, view.params, view.inner, view.groups, view.rows, view.rowLength, view.channelsLast ? 1 : 0, call.eps, activations.indexOf(call.activation), call.frozen ? 1 : 0];
}
