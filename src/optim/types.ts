/**
 * Public types of the optimizers: torch.optim.SGD, Adam, AdamW and RMSprop, with the same names,
 * defaults and formulas (camelCase: weight_decay → weightDecay). The GPU and CPU optimizers take
 * the same options and exchange the same state.
 */

export type OptimizerKind = 'sgd' | 'adam' | 'adamw' | 'rmsprop';

interface CommonOptions {
  /** Learning rate γ ≥ 0; change it between steps with setLearningRate. */
  lr?: number;
  /** λ ≥ 0 (default 0; AdamW 0.01). */
  weightDecay?: number;
  /** Ascend the objective: the gradient is negated first, as PyTorch does. */
  maximize?: boolean;
}

/** torch.optim.SGD: defaults lr 1e-3, momentum 0, dampening 0, weightDecay 0, nesterov false. */
export interface SgdOptions extends CommonOptions {
  kind: 'sgd';
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
}

/**
 * torch.optim.Adam (L2 penalty added to the gradient) and torch.optim.AdamW (decoupled decay
 * p ← p·(1 − lr·λ)): defaults lr 1e-3, betas [0.9, 0.999], eps 1e-8, amsgrad false.
 */
export interface AdamOptions extends CommonOptions {
  kind: 'adam' | 'adamw';
  betas?: readonly [number, number];
  eps?: number;
  amsgrad?: boolean;
}

/** torch.optim.RMSprop: defaults lr 1e-2, alpha 0.99, eps 1e-8, momentum 0, centered false. */
export interface RmspropOptions extends CommonOptions {
  kind: 'rmsprop';
  alpha?: number;
  eps?: number;
  momentum?: number;
  centered?: boolean;
}

export type OptimizerOptions = SgdOptions | AdamOptions | RmspropOptions;

/** Options after validation with every default filled in. */
export type ResolvedSgdOptions = Required<SgdOptions>;
export type ResolvedAdamOptions = Required<AdamOptions>;
export type ResolvedRmspropOptions = Required<RmspropOptions>;
export type ResolvedOptimizerOptions = ResolvedSgdOptions | ResolvedAdamOptions | ResolvedRmspropOptions;

/** Per-parameter state tensors, named as in PyTorch's state dict (momentum_buffer → momentumBuffer). */
export type StateName = 'momentumBuffer' | 'expAvg' | 'expAvgSq' | 'maxExpAvgSq' | 'squareAvg' | 'gradAvg';

export interface ParamState {
  label: string;
  length: number;
  /** Steps this parameter has taken (PyTorch's state['step']; SGD keeps it too, for the first step). */
  step: number;
  /** The state tensors this configuration uses (see stateNames), each `length` values. */
  buffers: Partial<Record<StateName, Float32Array>>;
}

/**
 * A state dict: the hyper-parameters (with the current learning rate) and, per parameter in
 * registration order, its step count and state tensors. GPU and CPU optimizers read each other's.
 */
export interface OptimizerState {
  options: ResolvedOptimizerOptions;
  params: ParamState[];
}
