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

/**
 * How the tensors (x, y, dy, dx, z, dz) are stored: 'float32' (default) or 'float16', half the
 * bytes. With 'float16' every sum, statistic, scale and shift is still float32, and so are γ, β and
 * the (running) statistics; see docs/api.md.
 */
export type TensorDtype = 'float32' | 'float16';

/**
 * A float16 host array: a Float16Array where the runtime has one, else a Uint16Array holding the
 * bits (typed by shape, so no Float16Array declaration is needed to compile against it).
 */
export interface Float16Data {
  readonly length: number;
  readonly buffer: ArrayBufferLike;
  readonly byteOffset: number;
  readonly byteLength: number;
  readonly [index: number]: number;
}

/** A tensor of the host API: float32 values (FloatInput) or, with dtype 'float16', float16 ones. */
export type TensorInput = FloatInput | Float16Data;

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
  residual?: TensorInput;
  /**
   * Storage of the tensors (default 'float32'). With 'float16', x (and z, dy, saved.y) are float16
   * host arrays and y (dx, dz) come back as arrays of the same kind; γ, β and the statistics stay
   * float32. On a GPU without `shader-f16` the host-array calls run on the CPU path.
   */
  dtype?: TensorDtype;
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
  residual?: TensorInput | boolean;
}

/** Backward options of a forward with a residual: backward then returns dz too. */
export interface ResidualBackwardOptions extends BackwardOptions {
  residual: TensorInput | true;
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
  y?: TensorInput;
}

/** What a backward in mode 'eval' needs from its forward with activation 'relu': forwardInference's y. */
export interface SavedOutput {
  y: TensorInput;
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

/** The options of a call on float16 tensors. */
export type Float16Options<T extends { dtype?: TensorDtype }> = T & { dtype: 'float16' };

/** forwardTrain's result with dtype 'float16': y is float16, of the kind x was; the statistics float32. */
export interface Float16ForwardTrainResult extends Omit<ForwardTrainResult, 'y'> {
  y: Float16Data;
}

/** backward's result with dtype 'float16': dx (and dz) float16, of the kind x was; dgamma, dbeta float32. */
export interface Float16BackwardResult extends Omit<BackwardResult, 'dx' | 'dz'> {
  dx: Float16Data;
  dz?: Float16Data;
}
