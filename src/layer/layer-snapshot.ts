import type { FloatInput } from '../types';
import type { BatchNormStateDict } from './state-dict';

/** The gradients a layer has accumulated (PyTorch's weight.grad and bias.grad). */
export interface LayerGradients {
  weight?: Float32Array;
  bias?: Float32Array;
}

/** What loadGradients takes: Float32Arrays or arrays of numbers. */
export interface LayerGradientsInput {
  weight?: FloatInput;
  bias?: FloatInput;
}

/**
 * Everything a layer carries from one training step to the next: its state dict (γ, β, running
 * statistics, num_batches_tracked), its gradients and its train/eval mode. What it does not carry is
 * the statistics of the last forward, which only a backward of the same step reads.
 */
export interface LayerSnapshot {
  state: BatchNormStateDict;
  grads: LayerGradients;
  training: boolean;
}

const copy = (values: Float32Array | undefined) => values?.slice();

export function copySnapshot(s: LayerSnapshot): LayerSnapshot {
  return {
    state: {
      weight: copy(s.state.weight),
      bias: copy(s.state.bias),
      running_mean: copy(s.state.running_mean),
      running_var: copy(s.state.running_var),
      num_batches_tracked: s.state.num_batches_tracked,
    },
    grads: { weight: copy(s.grads.weight), bias: copy(s.grads.bias) },
    training: s.training,
  };
}
