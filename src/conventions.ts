import type { Convention } from './types';

/**
 * Defaults of each framework: torch.nn.BatchNorm*d, keras.layers.BatchNormalization and the ONNX
 * BatchNormalization operator (opset 15).
 */
export const conventionDefaults: Record<Convention, { eps: number; momentum: number }> = {
  pytorch: { eps: 1e-5, momentum: 0.1 },
  keras: { eps: 1e-3, momentum: 0.99 },
  onnx: { eps: 1e-5, momentum: 0.9 },
};

/**
 * The running-statistics update of every convention written as one affine form,
 *   running = keep · running + take · batchStat,
 * with the batch variance multiplied by `varianceFactor` first (M / (M − 1) for PyTorch's unbiased
 * estimate, 1 for Keras and ONNX, whose momentum weighs the old value as Keras's does). The GPU and
 * CPU paths both consume these numbers, so the conventions are defined in exactly one place.
 */
export interface RunningUpdate {
  keep: number;
  take: number;
  varianceFactor: number;
}

export function runningUpdate(convention: Convention, momentum: number, count: number): RunningUpdate {
  if (convention === 'keras' || convention === 'onnx') {
    return { keep: momentum, take: 1 - momentum, varianceFactor: 1 };
  }
  return { keep: 1 - momentum, take: momentum, varianceFactor: count / (count - 1) };
}
