import type { FloatInput } from '../types';

/** PyTorch's state-dict names of a BatchNorm layer, plain arrays. */
export interface BatchNormStateDict {
  weight?: Float32Array;
  bias?: Float32Array;
  running_mean?: Float32Array;
  running_var?: Float32Array;
  num_batches_tracked?: number;
}

/** The same state in Keras order and names (BatchNormalization.get_weights()). */
export interface KerasBatchNormWeights {
  gamma?: Float32Array;
  beta?: Float32Array;
  moving_mean?: Float32Array;
  moving_variance?: Float32Array;
}

/**
 * What loadStateDict takes: a state dict whose arrays may also be arrays of numbers (converted to
 * float32 once, before anything is written).
 */
export interface BatchNormStateDictInput {
  weight?: FloatInput;
  bias?: FloatInput;
  running_mean?: FloatInput;
  running_var?: FloatInput;
  num_batches_tracked?: number;
}

/** What loadKerasWeights takes: Keras's names, Float32Arrays or arrays of numbers. */
export interface KerasBatchNormWeightsInput {
  gamma?: FloatInput;
  beta?: FloatInput;
  moving_mean?: FloatInput;
  moving_variance?: FloatInput;
}

export function kerasView(state: BatchNormStateDict): KerasBatchNormWeights {
  return { gamma: state.weight, beta: state.bias, moving_mean: state.running_mean, moving_variance: state.running_var };
}

export function fromKeras(weights: KerasBatchNormWeightsInput): BatchNormStateDictInput {
  return { weight: weights.gamma, bias: weights.beta, running_mean: weights.moving_mean, running_var: weights.moving_variance };
}
