/**
 * Types of the normalization family beside batch norm: layer, RMS, group and instance norm. All four
 * normalize *rows*: sets of values that share their statistics, each row contiguous in memory for
 * the layouts supported so far (the normalized trailing axes of layer and RMS norm; a sample's
 * channels of one group, times the spatial extent, for group and instance norm in channels-first
 * layouts). The per-element scale γ and shift β follow the parameters' axis instead (the normalized
 * shape, or the channels), so a kernel needs two indices per element: its row and its parameter.
 */
import type { Convention, FloatInput, Layout } from '../types';

export type NormKind = 'layer' | 'rms' | 'group' | 'instance';

/**
 * The activation fused after the normalization (and the residual add): relu, GELU in its exact erf
 * form ('gelu', PyTorch's approximate='none') and its tanh approximation ('gelu-tanh',
 * approximate='tanh'), and SiLU (x·sigmoid(x), a.k.a. swish).
 */
export type NormActivation = 'none' | 'relu' | 'gelu' | 'gelu-tanh' | 'silu';

interface NormOptionsBase {
  /** Shape of x. */
  shape: readonly number[];
  /** Scale γ, one per parameter (default ones). */
  gamma?: FloatInput;
  /**
   * Default per convention and op: layer, group and instance norm 1e-5 (pytorch, onnx) or 1e-3
   * (keras); RMS norm 2^-23 (pytorch: float32's machine epsilon, PyTorch's eps=None), 1e-6 (keras),
   * 1e-5 (onnx).
   */
  eps?: number;
  /** Default 'pytorch'; 'onnx' follows ONNX's operators (only eps defaults differ). */
  convention?: Convention;
  activation?: NormActivation;
  /** z of a fused residual add, y = act(norm(x) + z): x's shape, added before the activation. */
  residual?: FloatInput;
}

/**
 * Layer norm (PyTorch nn.LayerNorm / F.layer_norm, Keras LayerNormalization, ONNX
 * LayerNormalization): each row of the trailing normalized axes is normalized by its own mean and
 * variance; γ and β have the normalized shape.
 */
export interface LayerNormOptions extends NormOptionsBase {
  /** PyTorch's normalized_shape: the trailing dims of `shape` to normalize over. Default: the last dim. */
  normalizedShape?: readonly number[];
  /**
   * Keras's and ONNX's way to say the same: the first normalized axis (ONNX, negative counts from
   * the end) or the list of normalized axes (Keras), which must be the trailing ones. Give
   * normalizedShape or axis, not both.
   */
  axis?: number | readonly number[];
  /** Shift β, of the normalized shape (default zeros). */
  beta?: FloatInput;
}

/**
 * RMS norm (PyTorch nn.RMSNorm / F.rms_norm, Keras RMSNormalization, ONNX RMSNormalization):
 * y = x / sqrt(mean(x²) + eps) · γ over the same rows as layer norm; no mean is subtracted, no β.
 */
export type RmsNormOptions = Omit<LayerNormOptions, 'beta'>;

/**
 * Group norm (PyTorch nn.GroupNorm / F.group_norm, Keras GroupNormalization, ONNX
 * GroupNormalization-21): the C channels of each sample fall into `groups` groups of C / groups
 * channels; each (sample, group) is normalized over its channels and spatial positions; γ and β per
 * channel.
 */
export interface GroupNormOptions extends NormOptionsBase {
  /** Number of groups G (PyTorch num_groups); C must be a multiple of it. */
  groups: number;
  /**
   * Where the channel axis is: channels first ('NC', 'NCL', 'NCHW', 'NCDHW', the default) or last
   * ('NLC', 'NHWC', 'NDHWC'). Give layout or axis, not both.
   */
  layout?: Layout;
  /**
   * Keras's name for the same (GroupNormalization's axis): the channel axis, 1 or the last (-1);
   * negative counts from the end. Default 1 in every convention (Keras's own default is -1: pass it).
   */
  axis?: number;
  /** Shift β per channel (default zeros). */
  beta?: FloatInput;
}

/**
 * Instance norm (PyTorch nn.InstanceNorm1d/2d/3d / F.instance_norm, ONNX InstanceNormalization):
 * group norm with one channel per group; γ and β per channel (PyTorch's affine=True; omit them for
 * affine=False). With runningMean and runningVar (PyTorch's track_running_stats=True), a training
 * call also returns their updated copies, and `training: false` normalizes by them instead.
 */
export interface InstanceNormOptions extends Omit<GroupNormOptions, 'groups'> {
  /** Per channel, with runningVar: the running statistics to update (training) or normalize by (training: false). */
  runningMean?: FloatInput;
  runningVar?: FloatInput;
  /**
   * Weight of the new statistics, as batch norm's: default 0.1 (pytorch: running = (1 − momentum)·running
   * + momentum·stat, unbiased variance), 0.99 (keras) or 0.9 (onnx: running = momentum·running +
   * (1 − momentum)·stat, biased variance).
   */
  momentum?: number;
  /** Default true: each instance by its own statistics. false (PyTorch's eval mode): by the running statistics, which are then required. */
  training?: boolean;
}

/** Instance norm options with running statistics: the result then holds their updated copies. */
export type InstanceNormRunningOptions = InstanceNormOptions & { runningMean: FloatInput; runningVar: FloatInput };

export type AnyNormOptions = LayerNormOptions | RmsNormOptions | GroupNormOptions | InstanceNormOptions;

export interface NormForwardResult {
  y: Float32Array;
  /**
   * The mean of each row (layer norm: one per position of the leading axes; group norm: [N, G];
   * instance norm: [N, C]); absent for RMS norm, which subtracts none.
   */
  mean?: Float32Array;
  /** 1 / sqrt(variance + eps) per row (RMS norm: 1 / sqrt(mean(x²) + eps)), PyTorch's rstd. */
  invStd: Float32Array;
  /**
   * Instance norm with running statistics: their updated copies (training), or the given ones
   * unchanged (training: false).
   */
  runningMean?: Float32Array;
  runningVar?: Float32Array;
}

/** What a norm backward needs from its forward: the NormForwardResult itself, or these. */
export interface NormSaved {
  /** Required except for RMS norm. */
  mean?: FloatInput;
  invStd: FloatInput;
  /** The forward's output, required with activation 'relu' (the mask is read from it, as batch norm's). */
  y?: FloatInput;
}

export type NormBackwardOptions<T extends AnyNormOptions> = Omit<T, 'residual'> & {
  /**
   * The forward had a residual: the result then holds dz. With activation 'none' or 'relu' `true`
   * will do; with 'gelu', 'gelu-tanh' and 'silu' the forward's z itself is needed, since the
   * activation's derivative is taken at norm(x) + z, recomputed from x and the saved statistics.
   */
  residual?: FloatInput | true;
};

export interface NormBackwardResult {
  dx: Float32Array;
  /** Σ g·x̂ per parameter (length params, whether γ was given or not), g the gradient at the activation's input. */
  dgamma: Float32Array;
  /** Σ g per parameter; absent for RMS norm. */
  dbeta?: Float32Array;
  /** Gradient of the residual z (= g), present when the options had `residual`. */
  dz?: Float32Array;
}

/**
 * Where each element's row and parameter are: x as [outer, params, inner], the params split into
 * `groups` groups of params / groups, and a row = (outer index, group): rows = outer · groups, each
 * rowLength = (params / groups) · inner values, contiguous. With channelsLast (group and instance
 * norm on NLC, NHWC, NDHWC), x is [outer, inner, params] in memory instead: a row is then `inner`
 * blocks of params / groups contiguous values, params apart, and element i has
 * p = i mod params, row = ⌊i / (inner·params)⌋·groups + ⌊p / (params/groups)⌋.
 *   layer / RMS: outer = leading positions, params = D (normalized size), inner = 1, groups = 1
 *   group:       outer = N, params = C, inner = spatial, groups = G
 *   instance:    outer = N, params = C, inner = spatial, groups = C
 * Element i: o = ⌊i / (params·inner)⌋, p = ⌊i / inner⌋ mod params, row = o·groups + ⌊p / (params/groups)⌋
 * = ⌊i / rowLength⌋.
 */
export interface NormView {
  size: number;
  outer: number;
  params: number;
  inner: number;
  groups: number;
  rows: number;
  rowLength: number;
  /** x stored [outer, inner, params] (absent: false); only set where it differs, inner > 1 and params > 1. */
  channelsLast?: boolean;
}

/** Options after validation, every default filled in (before any GPU work). */
export interface ResolvedNormOptions {
  kind: NormKind;
  shape: readonly number[];
  view: NormView;
  /** Length view.params, or undefined for ones. */
  gamma: Float32Array | undefined;
  /** Length view.params, or undefined for zeros (always undefined for RMS norm). */
  beta: Float32Array | undefined;
  eps: number;
  convention: Convention;
  activation: NormActivation;
  /** z, length view.size. */
  residual: Float32Array | undefined;
  /** Instance norm's running statistics, when given (instance-running.ts). */
  running: ResolvedRunningStats | undefined;
}

export interface ResolvedRunningStats {
  runningMean: Float32Array;
  runningVar: Float32Array;
  momentum: number;
  /** false: normalize by the running statistics (PyTorch's eval mode); true: by each instance's own, and update. */
  training: boolean;
}

/** Backward options after validation: `residual` true when dz is wanted but z was not given. */
export interface ResolvedNormBackwardOptions extends Omit<ResolvedNormOptions, 'residual'> {
  residual: Float32Array | true | undefined;
}

/** The saved statistics after validation (lengths view.rows; y of view.size when given). */
export interface CheckedNormSaved {
  mean: Float32Array | undefined;
  invStd: Float32Array;
  y: Float32Array | undefined;
}

/** What a GPU engine offers the host-array norm API (the GPU-resident API is its own). */
export interface NormKernels {
  /** undefined when this device cannot run the call's kernels: the host-array API then takes the CPU path. */
  forwardOf(x: Float32Array, resolved: ResolvedNormOptions): Promise<NormForwardResult | undefined>;
  /**
   * undefined when this device cannot run the call's kernels (a tensor above one storage binding, or
   * fewer storage buffers per stage than the backward binds): the host-array API then takes the CPU
   * path, with the same results.
   */
  backwardOf(dy: Float32Array, x: Float32Array, resolved: ResolvedNormBackwardOptions, saved: CheckedNormSaved): Promise<NormBackwardResult | undefined>;
}
