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

export function kerasView(state: BatchNormStateDict): KerasBatchNormWeights {
  return { gamma: state.weight, beta: state.bias, moving_mean: state.running_mean, moving_variance: state.running_var };
}

export function fromKeras(weights: KerasBatchNormWeights): BatchNormStateDict {
  return { weight: weights.gamma, bias: weights.beta, running_mean: weights.moving_mean, running_var: weights.moving_variance };
}
