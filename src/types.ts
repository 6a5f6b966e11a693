/** Public option and result types of the host-array API. */

export type Layout = 'NC' | 'NCL' | 'NLC' | 'NCHW' | 'NHWC' | 'NCDHW' | 'NDHWC';
export type Convention = 'pytorch' | 'keras';
export type Activation = 'none' | 'relu';
export type BackendName = 'webgpu' | 'cpu';
export type BackendChoice = 'auto' | BackendName;

export interface Tolerance {
  rtol: number;
  atol: number;
}

export interface BatchNormOptions {
  /** Shape of `x`; the channel axis is taken from `layout` (default: axis 1). */
  shape: readonly number[];
  layout?: Layout;
  /** Per-channel scale γ (default ones) and shift β (default zeros), length C. */
  gamma?: Float32Array;
  beta?: Float32Array;
  /** Default 1e-5 (pytorch) or 1e-3 (keras). */
  eps?: number;
  /** Default 0.1 (pytorch) or 0.99 (keras); see README for the two formulas. */
  momentum?: number;
  convention?: Convention;
  runningMean?: Float32Array;
  runningVar?: Float32Array;
  activation?: Activation;
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

export interface BackwardOptions extends BatchNormOptions {
  /** Default 'train'. In 'eval' mode runningMean and runningVar are required. */
  mode?: BackwardMode;
}

/** What a backward needs from its forward in mode 'train': e.g. the ForwardTrainResult itself. */
export interface SavedStatistics {
  /** The batch statistics the forward normalized with. */
  mean: Float32Array;
  invStd: Float32Array;
  /**
   * The forward's output; required with activation 'relu', whose gradient passes dy exactly where
   * y > 0 (false for ±0, negative values and NaN).
   */
  y?: Float32Array;
}

/** What a backward in mode 'eval' needs from its forward with activation 'relu': forwardInference's y. */
export interface SavedOutput {
  y: Float32Array;
}

/** The `saved` argument of backward: statistics (mode 'train') and/or y (activation 'relu'). */
export type SavedForward = SavedStatistics | SavedOutput;

export interface BackwardResult {
  dx: Float32Array;
  /** Σ dy · x̂ per channel (x̂ = (x − mean) · invStd); with relu, dy is masked first. */
  dgamma: Float32Array;
  /** Σ dy per channel. */
  dbeta: Float32Array;
}
