import * as tf from '@tensorflow/tfjs';
import { TRAIN_GRAD_KERNEL, TRAIN_KERNEL, type TrainAttrs } from './kernel-config';
import { cpuKernels } from './kernels-cpu';
import { webgpuKernels } from './kernels-webgpu';
import { layerNormGradients, layerNormKernels } from './layer-norm-kernels';

/**
 * The gradient of the forward kernel: one backward kernel gives dx, dγ and dβ together. Gradients
 * flow from y only: the statistics and moving-statistics outputs are treated as constants. y is
 * saved too: with activation 'relu' the backward passes dy exactly where y > 0.
 */
const gradient: tf.GradConfig = {
  kernelName: TRAIN_KERNEL,
  inputsToSave: ['x', 'gamma', 'beta'],
  outputsToSave: [true, true],
  gradFunc: (dys, saved, attrs) => {
    const dy = Array.isArray(dys) ? dys[0] : dys;
    const [x, gamma, beta, y, stats] = saved;
    const [dx, dgamma, dbeta] = tf.engine().runKernel(TRAIN_GRAD_KERNEL, { dy, x, y, gamma, beta, stats }, attrs) as tf.Tensor[];
    const constant = () => tf.zerosLike(gamma);
    return { x: () => dx, gamma: () => dgamma, beta: () => dbeta, movingMean: constant, movingVariance: constant };
  },
};

let registered = false;

/** Registers the kernels (webgpu, cpu) and the gradients with TF.js (batch norm's, layer norm's); idempotent, called by every op. */
export function registerTfjsKernels(): void {
  if (registered) return;
  for (const config of [...webgpuKernels, ...cpuKernels, ...layerNormKernels]) {
    if (!tf.getKernel(config.kernelName, config.backendName)) tf.registerKernel(config);
  }
  for (const config of [gradient, ...layerNormGradients]) tf.registerGradient(config);
  registered = true;
}

/** Whether the current TF.js backend runs our kernels (webgpu, cpu) rather than stock ops. */
export function kernelsOnCurrentBackend(): boolean {
  registerTfjsKernels();
  return tf.getKernel(TRAIN_KERNEL, tf.getBackend()) !== undefined;
}

export type { TrainAttrs };
