import * as tf from '@tensorflow/tfjs';
import type { GradConfig, KernelBackend, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { cpuNormBackward, cpuNormForward } from '../norms/cpu-norms';
import { derivativeNeedsInput, resolveNormBackwardOptions, resolveNormOptions } from '../norms/norm-options';
import { engineFor } from './engine-cache';
import { LAYER_NORM_GRAD_KERNEL, LAYER_NORM_KERNEL, LAYER_NORM_RESIDUAL_KERNEL, layerNormRows, normalizedShapeOf, type LayerNormAttrs } from './layer-norm-config';
import { bufferOf, newOutput, recordIntoTfjs, webGpuInternals } from './webgpu-backend';

/*
 * The layer-norm op's kernels. Forward: inputs x, γ, β ([D] each) and, in the residual form, z;
 * outputs y and the statistics [mean | variance | invStd | scale | shift], one value per row each
 * (the engine's layout). Backward: inputs dy, x, y, γ, β, the statistics (and z); outputs dx, dγ,
 * dβ (and dz).
 */

/** The library's options of one call: the trailing `normalized` dims of x are a row. */
function callOptions(x: TensorInfo, a: LayerNormAttrs) {
  return { kind: 'layer', shape: x.shape, normalizedShape: normalizedShapeOf(x.shape, a.normalized), eps: a.epsilon, activation: a.activation, convention: 'keras' } as const;
}

/** On TF.js's own GPUDevice and buffers, recorded into its pending encoder; outputs from its pool. */
const webgpuForward: KernelFunc = ({ inputs, backend, attrs }) => {
  const b = webGpuInternals(backend);
  const a = attrs as unknown as LayerNormAttrs;
  const { x, gamma, beta, residual } = inputs as Record<string, TensorInfo>;
  const { rows } = layerNormRows(x.shape, a.normalized);
  const buffers = {
    x: bufferOf(b, 'x', x),
    gamma: bufferOf(b, 'gamma', gamma),
    beta: bufferOf(b, 'beta', beta),
    residual: a.residual ? bufferOf(b, 'residual', residual) : undefined,
  };
  const y = newOutput(b, x.shape);
  const stats = newOutput(b, [5 * rows]);
  const outputs = [y, stats];
  const used = [x, gamma, beta, ...(a.residual ? [residual] : []), y.info, stats.info];
  try {
    recordIntoTfjs(b, used, (encoder) => {
      engineFor(b.device).norms.encodeForward(encoder, { ...callOptions(x, a), ...buffers, y: y.buffer, stats: stats.buffer });
    });
  } catch (error) {
    for (const o of outputs) b.disposeData(o.info.dataId);
    throw error;
  }
  return outputs.map((o) => o.info);
};

const webgpuBackward: KernelFunc = ({ inputs, backend, attrs }) => {
  const b = webGpuInternals(backend);
  const a = attrs as unknown as LayerNormAttrs;
  const { dy, x, y, gamma, beta, stats, residual } = inputs as Record<string, TensorInfo>;
  const { D } = layerNormRows(x.shape, a.normalized);
  // y is read for relu's mask only, z for the smooth activations' derivative at norm(x) + z only.
  const relu = a.activation === 'relu';
  const needsZ = a.residual && derivativeNeedsInput(a.activation);
  const read = [dy, x, gamma, beta, stats, ...(relu ? [y] : []), ...(needsZ ? [residual] : [])];
  const buffers = {
    dy: bufferOf(b, 'dy', dy),
    x: bufferOf(b, 'x', x),
    gamma: bufferOf(b, 'gamma', gamma),
    beta: bufferOf(b, 'beta', beta),
    stats: bufferOf(b, 'stats', stats),
    y: relu ? bufferOf(b, 'y', y) : undefined,
    residual: needsZ ? bufferOf(b, 'residual', residual) : undefined,
  };
  const dx = newOutput(b, x.shape);
  const dgamma = newOutput(b, [D]);
  const dbeta = newOutput(b, [D]);
  const outputs = [dx, dgamma, dbeta];
  const dz = a.residual ? newOutput(b, x.shape) : undefined;
  if (dz) outputs.push(dz);
  try {
    recordIntoTfjs(b, [...read, ...outputs.map((o) => o.info)], (encoder) => {
      engineFor(b.device).norms.encodeBackward(encoder, {
        ...callOptions(x, a),
        ...buffers,
        dx: dx.buffer,
        dgamma: dgamma.buffer,
        dbeta: dbeta.buffer,
        dz: dz?.buffer,
      });
    });
  } catch (error) {
    for (const o of outputs) b.disposeData(o.info.dataId);
    throw error;
  }
  return outputs.map((o) => o.info);
};

interface CpuBackend extends KernelBackend {
  makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): TensorInfo;
}

function values(backend: KernelBackend, info: TensorInfo): Float32Array {
  const data = backend.readSync(info.dataId);
  return data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>);
}

/** The library's CPU path (float64, each output rounded to float32 once) on the 'cpu' backend's arrays. */
const cpuForward: KernelFunc = ({ inputs, backend, attrs }) => {
  const b = backend as CpuBackend;
  const a = attrs as unknown as LayerNormAttrs;
  const { x, gamma, beta, residual } = inputs as Record<string, TensorInfo>;
  const resolved = resolveNormOptions('layer', {
    ...callOptions(x, a),
    gamma: values(b, gamma),
    beta: values(b, beta),
    residual: a.residual ? values(b, residual) : undefined,
  });
  const out = cpuNormForward(values(b, x), resolved);
  const rows = out.invStd.length;
  // The engine's layout: [mean | variance | invStd | scale | shift], scale and shift as its finalize
  // writes them without γ and β (invStd and −mean·invStd); the variance from invStd.
  const stats = new Float32Array(5 * rows);
  for (let r = 0; r < rows; r++) {
    const mean = out.mean![r];
    const invStd = out.invStd[r];
    stats[r] = mean;
    stats[rows + r] = 1 / (invStd * invStd) - a.epsilon;
    stats[2 * rows + r] = invStd;
    stats[3 * rows + r] = invStd;
    stats[4 * rows + r] = -mean * invStd;
  }
  return [b.makeTensorInfo(x.shape, 'float32', out.y), b.makeTensorInfo([5 * rows], 'float32', stats)];
};

const cpuBackward: KernelFunc = ({ inputs, backend, attrs }) => {
  const b = backend as CpuBackend;
  const a = attrs as unknown as LayerNormAttrs;
  const { dy, x, y, gamma, beta, stats, residual } = inputs as Record<string, TensorInfo>;
  const needsZ = a.residual && derivativeNeedsInput(a.activation);
  const resolved = resolveNormBackwardOptions('layer', {
    ...callOptions(x, a),
    gamma: values(b, gamma),
    beta: values(b, beta),
    residual: a.residual ? (needsZ ? values(b, residual) : true) : undefined,
  });
  const s = values(b, stats);
  const rows = s.length / 5;
  const saved = { mean: s.subarray(0, rows), invStd: s.subarray(2 * rows, 3 * rows), y: a.activation === 'relu' ? values(b, y) : undefined };
  const out = cpuNormBackward(values(b, dy), values(b, x), resolved, saved);
  const D = out.dgamma.length;
  const outputs = [b.makeTensorInfo(x.shape, 'float32', out.dx), b.makeTensorInfo([D], 'float32', out.dgamma), b.makeTensorInfo([D], 'float32', out.dbeta!)];
  if (a.residual) outputs.push(b.makeTensorInfo(x.shape, 'float32', out.dz!));
  return outputs;
};

export const layerNormKernels: KernelConfig[] = [
  ...(['webgpu', 'cpu'] as const).flatMap((backendName) => {
    const [forward, backward] = backendName === 'webgpu' ? [webgpuForward, webgpuBackward] : [cpuForward, cpuBackward];
    return [
      { kernelName: LAYER_NORM_KERNEL, backendName, kernelFunc: forward },
      { kernelName: LAYER_NORM_RESIDUAL_KERNEL, backendName, kernelFunc: forward },
      { kernelName: LAYER_NORM_GRAD_KERNEL, backendName, kernelFunc: backward },
    ];
  }),
];

/**
 * The forward kernels' gradient: one backward kernel gives dx, dγ, dβ (and dz) together. Gradients
 * flow from y only; the statistics output is treated as a constant (its dy is ignored), so a loss
 * that reads only the statistics gets zeros.
 */
function layerNormGradient(kernelName: string, residual: boolean): GradConfig {
  return {
    kernelName,
    inputsToSave: residual ? ['x', 'gamma', 'beta', 'residual'] : ['x', 'gamma', 'beta'],
    outputsToSave: [true, true],
    gradFunc: (dys, saved, attrs) => {
      // saved: the inputs named above, then the outputs y and stats.
      const [x, gamma, beta] = saved;
      const [y, stats] = saved.slice(-2);
      // TF.js passes zeros for an output off the loss's path (y, when only the statistics are used).
      const dy = Array.isArray(dys) ? dys[0] : dys;
      const inputs: tf.NamedTensorMap = { dy, x, y, gamma, beta, stats };
      if (residual) inputs.residual = saved[3];
      const [dx, dgamma, dbeta, dz] = tf.engine().runKernel(LAYER_NORM_GRAD_KERNEL, inputs, attrs) as tf.Tensor[];
      const grads: Record<string, () => tf.Tensor> = { x: () => dx, gamma: () => dgamma, beta: () => dbeta };
      if (residual) grads.residual = () => dz;
      return grads;
    },
  };
}

export const layerNormGradients: GradConfig[] = [layerNormGradient(LAYER_NORM_KERNEL, false), layerNormGradient(LAYER_NORM_RESIDUAL_KERNEL, true)];
