import { BatchNormError } from '../errors';
import { channelAxis, channelView } from '../layout';
import { asFloat32, checkEps } from '../options';
import type { Convention } from '../types';
import { resolveInstanceRunning } from './instance-running';
import type {
  AnyNormOptions,
  CheckedNormSaved,
  GroupNormOptions,
  InstanceNormOptions,
  LayerNormOptions,
  NormActivation,
  NormKind,
  NormView,
  ResolvedNormBackwardOptions,
  ResolvedNormOptions,
} from './norm-types';

/*
 * Validation of the norm family's options, before any GPU work: every rule gives a BatchNormError
 * with a code, and nothing the caller passed is changed (Float32Arrays are used as they are, arrays
 * of numbers converted once).
 */

/** eps defaults per op and convention (PyTorch's RMSNorm eps=None is float32's machine epsilon). */
export const normEpsDefaults: Record<NormKind, Record<Convention, number>> = {
  layer: { pytorch: 1e-5, keras: 1e-3, onnx: 1e-5 },
  rms: { pytorch: 2 ** -23, keras: 1e-6, onnx: 1e-5 },
  group: { pytorch: 1e-5, keras: 1e-3, onnx: 1e-5 },
  instance: { pytorch: 1e-5, keras: 1e-3, onnx: 1e-5 },
};

const conventions: readonly Convention[] = ['pytorch', 'keras', 'onnx'];
export const normActivations: readonly NormActivation[] = ['none', 'relu', 'gelu', 'gelu-tanh', 'silu'];

/** The activations whose derivative is taken at the activation's input, which a backward recomputes. */
export function derivativeNeedsInput(activation: NormActivation): boolean {
  return activation === 'gelu' || activation === 'gelu-tanh' || activation === 'silu';
}

const product = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);

/** Shape check shared with batch norm (positive safe integers, a safe element count): channelView's rules. */
function checkShape(shape: unknown): readonly number[] {
  channelView(shape as number[]);
  return shape as readonly number[];
}

/** How many trailing dims layer / RMS norm normalize over, from normalizedShape or axis (default 1). */
function normalizedDims(opts: LayerNormOptions, shape: readonly number[]): number {
  const rank = shape.length;
  const { normalizedShape, axis } = opts;
  if (normalizedShape !== undefined && axis !== undefined) {
    throw new BatchNormError('invalid-option', 'give normalizedShape (PyTorch) or axis (Keras, ONNX), not both');
  }
  if (normalizedShape !== undefined) {
    if (!Array.isArray(normalizedShape) || normalizedShape.length < 1 || normalizedShape.length > rank) {
      throw new BatchNormError('invalid-shape', `normalizedShape must be a non-empty array of x's trailing dims, got ${JSON.stringify(normalizedShape)} for shape [${shape.join(', ')}]`);
    }
    const tail = shape.slice(rank - normalizedShape.length);
    if (!normalizedShape.every((d, k) => d === tail[k])) {
      throw new BatchNormError('invalid-shape', `normalizedShape [${normalizedShape.join(', ')}] is not the trailing dims of shape [${shape.join(', ')}]`);
    }
    return normalizedShape.length;
  }
  if (axis === undefined) return 1;
  if (typeof axis === 'number') {
    // ONNX: the first normalized axis, negative from the end; everything from it on is normalized.
    if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
      throw new BatchNormError('invalid-option', `axis must be an integer in [${-rank}, ${rank - 1}] for shape [${shape.join(', ')}], got ${String(axis)}`);
    }
    return rank - (axis < 0 ? axis + rank : axis);
  }
  if (!Array.isArray(axis) || axis.length < 1) {
    throw new BatchNormError('invalid-option', `axis must be an integer (ONNX) or a non-empty array of axes (Keras), got ${JSON.stringify(axis)}`);
  }
  // Keras: the list of normalized axes, which must be the trailing ones (in any order).
  const axes = axis.map((a) => {
    if (!Number.isInteger(a) || a < -rank || a >= rank) {
      throw new BatchNormError('invalid-option', `axis ${String(a)} is out of range for shape [${shape.join(', ')}]`);
    }
    return a < 0 ? a + rank : a;
  });
  const sorted = [...new Set(axes)].sort((a, b) => a - b);
  if (sorted.length !== axes.length || sorted.some((a, k) => a !== rank - sorted.length + k)) {
    throw new BatchNormError('invalid-option', `axis [${axis.join(', ')}] must list the trailing axes of shape [${shape.join(', ')}] once each (only trailing axes can be normalized)`);
  }
  return sorted.length;
}

/** The row view of layer / RMS norm over the trailing `k` dims. */
function trailingView(shape: readonly number[], k: number): NormView {
  const params = product(shape.slice(shape.length - k));
  const outer = product(shape.slice(0, shape.length - k));
  return { size: outer * params, outer, params, inner: 1, groups: 1, rows: outer, rowLength: params };
}

/** The channel axis of group / instance norm, from `layout` or Keras's `axis` (default 1). */
function channelAxisOf(kind: 'group' | 'instance', opts: GroupNormOptions, shape: readonly number[]): number {
  const { layout, axis } = opts;
  if (layout !== undefined && axis !== undefined) throw new BatchNormError('invalid-option', 'give layout or axis, not both');
  if (layout !== undefined) {
    channelView(shape, layout); // throws invalid-layout for an unknown layout or a rank that does not fit it
    return channelAxis(layout);
  }
  if (axis === undefined) return 1;
  const rank = shape.length;
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
    throw new BatchNormError('invalid-option', `axis must be an integer in [${-rank}, ${rank - 1}] for shape [${shape.join(', ')}], got ${String(axis)}`);
  }
  const positive = axis < 0 ? axis + rank : axis;
  if (positive !== 1 && positive !== rank - 1) {
    throw new BatchNormError('invalid-layout', `${kind} norm: the channel axis must be 1 (channels first) or the last (channels last), got ${String(axis)} for shape [${shape.join(', ')}]`);
  }
  return positive;
}

/**
 * The row view of group / instance norm: x (N, C, *) channels first or (N, *, C) channels last,
 * G groups (instance: G = C).
 */
function groupedView(kind: 'group' | 'instance', opts: GroupNormOptions, shape: readonly number[]): NormView {
  if (shape.length < 2) {
    throw new BatchNormError('invalid-shape', `${kind} norm needs x of shape (N, C, …) or (N, …, C), got [${shape.join(', ')}]`);
  }
  const axis = channelAxisOf(kind, opts, shape);
  const outer = shape[0];
  const params = shape[axis];
  const inner = product(shape.slice(1)) / params;
  let groups = params;
  if (kind === 'group') {
    groups = opts.groups;
    if (!Number.isSafeInteger(groups) || groups < 1 || params % groups !== 0) {
      throw new BatchNormError('invalid-option', `groups must be a positive integer dividing C = ${params}, got ${String(groups)}`);
    }
  }
  const rowLength = (params / groups) * inner;
  const view: NormView = { size: outer * params * inner, outer, params, inner, groups, rows: outer * groups, rowLength };
  // With one spatial position or one channel, both layouts are the same memory.
  if (axis !== 1 && inner > 1 && params > 1) view.channelsLast = true;
  return view;
}

/**
 * Row and parameter of element i of a view (norm-types.ts, NormView): the index arithmetic every
 * host-side walk of a view shares.
 */
export function viewIndex(view: NormView): { rowOf: (i: number) => number; paramOf: (i: number) => number } {
  const { params, inner, groups, rowLength } = view;
  if (!view.channelsLast) return { rowOf: (i) => Math.floor(i / rowLength), paramOf: (i) => Math.floor(i / inner) % params };
  const sample = inner * params;
  const perGroup = params / groups;
  return { rowOf: (i) => Math.floor(i / sample) * groups + Math.floor((i % params) / perGroup), paramOf: (i) => i % params };
}

/** What the parameters are called in messages. */
function paramsName(kind: NormKind): string {
  return kind === 'layer' || kind === 'rms' ? 'D, the normalized size' : 'C';
}

/** γ or β: absent, or `params` values. */
function checkParams(name: string, value: unknown, kind: NormKind, params: number): Float32Array | undefined {
  if (value === undefined) return undefined;
  const values = asFloat32(value);
  if (!values) throw new BatchNormError('invalid-option', `${name} must be a Float32Array or an array of numbers of length ${params}`);
  if (values.length !== params) {
    throw new BatchNormError('channel-mismatch', `${name} has length ${values.length}, expected ${paramsName(kind)} = ${params}`);
  }
  return values;
}

/** A tensor of x's size (x, dy, z, saved.y). */
export function checkNormTensor(name: string, value: unknown, view: NormView): Float32Array {
  const values = asFloat32(value);
  if (!values) throw new BatchNormError('invalid-option', `${name} must be a Float32Array or an array of numbers`);
  if (values.length !== view.size) {
    throw new BatchNormError('length-mismatch', `${name} has ${values.length} values, but the shape holds ${view.size}`);
  }
  return values;
}

type ForwardParts = Omit<ResolvedNormOptions, 'residual'>;

/** Everything but the residual, which forward and backward read differently. */
function resolveParts(kind: NormKind, opts: AnyNormOptions): ForwardParts {
  if (opts === null || typeof opts !== 'object') {
    throw new BatchNormError('invalid-option', `${kind} norm needs an options object with at least { shape${kind === 'group' ? ', groups' : ''} }`);
  }
  const shape = checkShape(opts.shape);
  const view = kind === 'layer' || kind === 'rms' ? trailingView(shape, normalizedDims(opts as LayerNormOptions, shape)) : groupedView(kind, opts as GroupNormOptions, shape);
  const convention = opts.convention ?? 'pytorch';
  if (!conventions.includes(convention)) {
    throw new BatchNormError('invalid-option', `convention must be 'pytorch', 'keras' or 'onnx', got ${JSON.stringify(convention)}`);
  }
  const activation = opts.activation ?? 'none';
  if (!normActivations.includes(activation)) {
    throw new BatchNormError('invalid-option', `activation must be one of ${normActivations.map((a) => `'${a}'`).join(', ')}, got ${JSON.stringify(activation)}`);
  }
  const eps = checkEps(opts.eps ?? normEpsDefaults[kind][convention]);
  const betaValue = (opts as { beta?: unknown }).beta;
  if (kind === 'rms' && betaValue !== undefined) {
    throw new BatchNormError('invalid-option', 'RMS norm has no beta (it only scales by gamma); use layerNorm for a shift');
  }
  const gamma = checkParams('gamma', opts.gamma, kind, view.params);
  const beta = checkParams('beta', betaValue, kind, view.params);
  const running = kind === 'instance' ? resolveInstanceRunning(opts as InstanceNormOptions, view, convention) : undefined;
  return { kind, shape, view, gamma, beta, eps, convention, activation, running };
}

const runningNames = ['runningMean', 'runningVar', 'momentum', 'training'] as const;

/**
 * The options of a GPU-resident call (γ, β, z are buffers there): kind, view, eps and activation,
 * validated as the host-array call's, the per-element arrays left out.
 */
export function resolveNormScalars(kind: NormKind, opts: AnyNormOptions): Pick<ResolvedNormOptions, 'kind' | 'view' | 'eps' | 'activation'> {
  if (opts === null || typeof opts !== 'object') return resolveParts(kind, opts);
  const given = runningNames.filter((name) => (opts as Record<string, unknown>)[name] !== undefined);
  if (given.length > 0) throw new BatchNormError('invalid-option', `the GPU-resident calls take no running statistics (${given.join(', ')}); use bn.norms.instanceNorm`);
  const { kind: k, view, eps, activation } = resolveParts(kind, { ...opts, gamma: undefined, beta: undefined, residual: undefined } as AnyNormOptions);
  return { kind: k, view, eps, activation };
}

/** Validates a forward's options and fills every default in. */
export function resolveNormOptions(kind: NormKind, opts: AnyNormOptions): ResolvedNormOptions {
  const parts = resolveParts(kind, opts);
  const residual = opts.residual === undefined ? undefined : checkNormTensor('residual', opts.residual, parts.view);
  return { ...parts, residual };
}

/**
 * Validates a backward's options: the forward's, with `residual` the forward's z or true (false or
 * absent: no residual). gelu, gelu-tanh and silu take their derivative at norm(x) + z, so they need
 * z itself.
 */
export function resolveNormBackwardOptions(kind: NormKind, opts: AnyNormOptions | { residual?: unknown }): ResolvedNormBackwardOptions {
  const parts = resolveParts(kind, opts as AnyNormOptions);
  const given = (opts as { residual?: unknown }).residual;
  let residual: Float32Array | true | undefined;
  if (given === true) {
    if (derivativeNeedsInput(parts.activation)) {
      throw new BatchNormError('invalid-option', `backward with activation '${parts.activation}' and a residual needs the forward's z as residual (its derivative is taken at norm(x) + z), not true`);
    }
    residual = true;
  } else if (given !== undefined && given !== false) {
    residual = checkNormTensor('residual', given, parts.view);
  }
  return { ...parts, residual };
}

/** A saved per-row statistic. */
function checkRowArray(name: string, value: unknown, rows: number): Float32Array {
  const values = asFloat32(value);
  if (!values) throw new BatchNormError('invalid-option', `saved.${name} must be a Float32Array or an array of numbers of length ${rows} (one per row)`);
  if (values.length !== rows) throw new BatchNormError('length-mismatch', `saved.${name} has length ${values.length}, expected ${rows} (one per row)`);
  return values;
}

/**
 * Checks what a backward reads of its forward: invStd per row, the mean per row (not for RMS norm,
 * which has none: a mean given there is ignored), and y with activation 'relu'.
 */
export function checkNormSaved(saved: unknown, o: ResolvedNormBackwardOptions): CheckedNormSaved {
  const relu = o.activation === 'relu';
  if (saved === null || typeof saved !== 'object') {
    const needs = o.kind === 'rms' ? '{ invStd }' : '{ mean, invStd }';
    throw new BatchNormError('invalid-option', `${o.kind} norm backward needs saved = the forward's result${relu ? ' (with y: activation relu)' : ''}, or ${needs}${relu ? ' and y' : ''}`);
  }
  const { mean, invStd, y } = saved as Record<string, unknown>;
  const rows = o.view.rows;
  if (o.kind !== 'rms' && mean === undefined) throw new BatchNormError('invalid-option', `${o.kind} norm backward needs saved.mean, one per row (${rows})`);
  if (invStd === undefined) throw new BatchNormError('invalid-option', `${o.kind} norm backward needs saved.invStd, one per row (${rows})`);
  if (relu && y === undefined) {
    throw new BatchNormError('invalid-option', "backward with activation 'relu' needs saved.y, the forward's output: its gradient passes where y > 0");
  }
  return {
    mean: o.kind === 'rms' ? undefined : checkRowArray('mean', mean, rows),
    invStd: checkRowArray('invStd', invStd, rows),
    y: relu ? checkNormTensor('saved.y', y, o.view) : undefined,
  };
}
