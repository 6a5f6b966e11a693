/** Public option and result types of the host-array API. */

export type Layout = 'NC' | 'NCL' | 'NLC' | 'NCHW' | 'NHWC' | 'NCDHW' | 'NDHWC';
export type Convention = 'pytorch' | 'keras' | 'onnx';
export type Activation = 'none' | 'relu';
export type BackendName = 'webgpu' | 'cpu';
export type BackendChoice = 'auto' | BackendName;

/**
 * What the host API takes wherever it reads float32 values: a Float32Array, used as it is, or an
 * array of numbers, converted to float32 once (each value rounded to nearest) before anything runs.
 */
export type FloatInput = Float32Array | readonly number[];

export interface Tolerance {
  rtol: number;
  atol: number;
}

export interface BatchNormOptions {
  /** Shape of `x`; the channel axis is taken from `layout` (default: axis 1). */
  shape: readonly number[];
  layout?: Layout;
  /** Per-channel scale γ (default ones) and shift β (default zeros), length C. */
  gamma?: FloatInput;
  beta?: FloatInput;
  /**
   * Default 1e-5 (pytorch, onnx) or 1e-3 (keras). 0 is allowed, as in PyTorch, TF.js and ONNX: a
   * channel of zero variance then gets invStd = +Inf and NaN outputs.
   */
  eps?: number;
  /** Default 0.1 (pytorch), 0.99 (keras) or 0.9 (onnx); see docs/api.md for the formulas. */
  momentum?: number;
  convention?: Convention;
  runningMean?: FloatInput;
  runningVar?: FloatInput;
  activation?: Activation;
  /**
   * z of a fused residual add (forwardTrain, forwardInference): y = act(BN(x) + z), z of x's shape
   * and layout, added before the activation (a ResNet block's skip connection) in the same pass.
   */
  residual?: FloatInput;
}

/** Running statistics given to a call: forwardTrain then returns their updated copies. */
export interface RunningStatistics {
  runningMean: FloatInput;
  runningVar: FloatInput;
}

export interface ForwardTrainResult {
  y: Float32Array;
  mean: Float32Array;
  /** Biased batch variance Σ(x − mean)² / M. */
  variance: Float32Array;
  invStd: Float32Array;
  /** Updated copies of the running statistics, present when they were given. */
  runningMean?: Float32Array;
  runningVar?: Float32Array;
}

/**
 * What forwardTrain returns when the options hold running statistics (`RunningStatistics`): their
 * updated copies are then always there, and typed so.
 */
export interface ForwardTrainResultWithRunning extends ForwardTrainResult {
  runningMean: Float32Array;
  runningVar: Float32Array;
}

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
}

/**
 * Which statistics a backward pass differentiates through: 'train' (the batch statistics, which
 * depend on x) or 'eval' (frozen running statistics, as PyTorch's backward in eval mode).
 */
export type BackwardMode = 'train' | 'eval';

export interface BackwardOptions extends Omit<BatchNormOptions, 'residual'> {
  /** Default 'train'. In 'eval' mode runningMean and runningVar are required. */
  mode?: BackwardMode;
  /**
   * The forward had a residual: the result then holds dz, its gradient. The forward's z (so the
   * forward's options can be passed as they are; its length is checked, its values are not read)
   * or `true`.
   */
  residual?: FloatInput | boolean;
}

/** Backward options of a forward with a residual: backward then returns dz too. */
export interface ResidualBackwardOptions extends BackwardOptions {
  residual: FloatInput | true;
}

/** What a backward needs from its forward in mode 'train': e.g. the ForwardTrainResult itself. */
export interface SavedStatistics {
  /** The batch statistics the forward normalized with. */
  mean: FloatInput;
  invStd: FloatInput;
  /**
   * The forward's output; required with activation 'relu', whose gradient passes dy exactly where
   * y > 0 (false for ±0, negative values and NaN).
   */
  y?: FloatInput;
}

/** What a backward in mode 'eval' needs from its forward with activation 'relu': forwardInference's y. */
export interface SavedOutput {
  y: FloatInput;
}

/** The `saved` argument of backward: statistics (mode 'train') and/or y (activation 'relu'). */
export type SavedForward = SavedStatistics | SavedOutput;

export interface BackwardResult {
  dx: Float32Array;
  /** Σ dy · x̂ per channel (x̂ = (x − mean) · invStd); with relu, dy is masked first. */
  dgamma: Float32Array;
  /** Σ dy per channel. */
  dbeta: Float32Array;
  /**
   * The gradient of the residual z, present when the options had `residual`: dy where y passes the
   * activation's gradient (all of dy with activation 'none').
   */
  dz?: Float32Array;
}

/** What backward returns for a forward with a residual: dz is then always there. */
export interface BackwardResultWithResidual extends BackwardResult {
  dz: Float32Array;
}
