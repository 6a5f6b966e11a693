import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { TRAIN_GRAD_KERNEL, TRAIN_KERNEL, viewShape, type TrainAttrs } from './kernel-config';
import { engineFor } from './engine-cache';
import { bufferOf, newOutput, recordIntoTfjs, webGpuInternals, type WebGpuBackendInternals } from './webgpu-backend';

/** Makes `buffer` distinct from `others` by copying it into a pooled temporary when they alias. */
function distinct(backend: WebGpuBackendInternals, buffer: GPUBuffer, others: GPUBuffer[], temps: TensorInfo[], copies: [GPUBuffer, GPUBuffer][]): GPUBuffer {
  if (!others.includes(buffer)) return buffer;
  const temp = newOutput(backend, [buffer.size / 4]);
  temps.push(temp.info);
  copies.push([buffer, temp.buffer]);
  return temp.buffer;
}

/**
 * Forward, training mode, on TF.js's own GPUDevice and tensor buffers: y, the statistics
 * [mean | variance | invStd | scale | shift] the gradient needs, and the updated moving statistics
 * (copies of the inputs updated in place by the finalize kernel, Keras convention). Outputs come from
 * TF.js's buffer pool; everything is recorded into TF.js's pending encoder.
 */
const forwardTrain: KernelFunc = ({ inputs, backend, attrs }) => {
  const b = webGpuInternals(backend);
  const a = attrs as unknown as TrainAttrs;
  const { x, gamma, beta, movingMean, movingVariance } = inputs as Record<string, TensorInfo>;
  const shape = viewShape(x.shape, a.axis);
  const C = x.shape[a.axis];
  const xBuffer = bufferOf(b, 'x', x);
  const gammaBuffer = bufferOf(b, 'gamma', gamma);
  const temps: TensorInfo[] = [];
  const copies: [GPUBuffer, GPUBuffer][] = [];
  const betaBuffer = distinct(b, bufferOf(b, 'beta', beta), [gammaBuffer], temps, copies);
  const y = newOutput(b, x.shape);
  const stats = newOutput(b, [5 * C]);
  const outputs = [y, stats];
  let running: { runningMean: GPUBuffer; runningVar: GPUBuffer } | undefined;
  if (a.updateMoving) {
    const mean = newOutput(b, [C]);
    const variance = newOutput(b, [C]);
    outputs.push(mean, variance);
    copies.push([bufferOf(b, 'movingMean', movingMean), mean.buffer], [bufferOf(b, 'movingVariance', movingVariance), variance.buffer]);
    running = { runningMean: mean.buffer, runningVar: variance.buffer };
  }
  const used = [x, gamma, beta, ...(a.updateMoving ? [movingMean, movingVariance] : []), ...temps, ...outputs.map((o) => o.info)];
  try {
    recordIntoTfjs(b, used, (encoder) => {
      for (const [from, to] of copies) encoder.copyBufferToBuffer(from, 0, to, 0, to.size);
      engineFor(b.device).encodeForwardTrain(encoder, {
        shape,
        convention: 'keras',
        eps: a.epsilon,
        momentum: a.momentum,
        activation: a.activation,
        x: xBuffer,
        y: y.buffer,
        stats: stats.buffer,
        gamma: gammaBuffer,
        beta: betaBuffer,
        ...running,
      });
    });
  } catch (error) {
    for (const o of outputs) b.disposeData(o.info.dataId);
    throw error;
  } finally {
    for (const t of temps) b.disposeData(t.dataId);
  }
  return outputs.map((o) => o.info);
};

/** Backward: dx, dγ and dβ from dy, x, γ, the forward's statistics and y (one reduce, one apply). */
const backwardTrain: KernelFunc = ({ inputs, backend, attrs }) => {
  const b = webGpuInternals(backend);
  const a = attrs as unknown as TrainAttrs;
  const { dy, x, y, gamma, stats } = inputs as Record<string, TensorInfo>;
  const C = x.shape[a.axis];
  const buffers = { dy: bufferOf(b, 'dy', dy), x: bufferOf(b, 'x', x), y: bufferOf(b, 'y', y), gamma: bufferOf(b, 'gamma', gamma), stats: bufferOf(b, 'stats', stats) };
  const dx = newOutput(b, x.shape);
  const dgamma = newOutput(b, [C]);
  const dbeta = newOutput(b, [C]);
  const outputs = [dx, dgamma, dbeta];
  try {
    recordIntoTfjs(b, [dy, x, y, gamma, stats, ...outputs.map((o) => o.info)], (encoder) => {
      engineFor(b.device).encodeBackward(encoder, {
        shape: viewShape(x.shape, a.axis),
        convention: 'keras',
        eps: a.epsilon,
        momentum: a.momentum,
        activation: a.activation,
        mode: 'train',
        ...buffers,
        dx: dx.buffer,
        dgamma: dgamma.buffer,
        dbeta: dbeta.buffer,
      });
    });
  } catch (error) {
    for (const o of outputs) b.disposeData(o.info.dataId);
    throw error;
  }
  return outputs.map((o) => o.info);
};

export const webgpuKernels: KernelConfig[] = [
  { kernelName: TRAIN_KERNEL, backendName: 'webgpu', kernelFunc: forwardTrain },
  { kernelName: TRAIN_GRAD_KERNEL, backendName: 'webgpu', kernelFunc: backwardTrain },
];
