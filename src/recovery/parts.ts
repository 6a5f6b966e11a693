import { BatchNormError } from '../errors';
import type { GpuBatchNorm } from '../gpu/gpu-batchnorm';
import { BatchNormLayer } from '../layer/batchnorm-layer';
import { GpuOptimizer } from '../optim/gpu-optimizer';
import type { TrainingMirrorParts } from './training-mirror';
import type { GpuParts } from './twins';

/** Checks what a TrainingMirror is asked to mirror: layers and optimizers of this engine, once each. */
export function checkParts(parts: TrainingMirrorParts, kernels: GpuBatchNorm): GpuParts {
  if (parts === null || typeof parts !== 'object' || !Array.isArray(parts.layers) || parts.layers.length === 0) {
    throw new BatchNormError('invalid-option', 'a TrainingMirror needs { layers: [BatchNormLayer, …], optimizers?: [GpuOptimizer, …] }');
  }
  const optimizers = parts.optimizers ?? [];
  if (!Array.isArray(optimizers)) throw new BatchNormError('invalid-option', 'optimizers must be an array of GpuOptimizers');
  for (const layer of parts.layers) {
    if (!(layer instanceof BatchNormLayer)) throw new BatchNormError('invalid-option', 'layers must be BatchNormLayers');
    if (layer.gpu !== kernels) throw new BatchNormError('invalid-option', `${layer.options.label} belongs to another engine`);
  }
  for (const optimizer of optimizers) {
    if (!(optimizer instanceof GpuOptimizer)) throw new BatchNormError('invalid-option', 'optimizers must be GpuOptimizers');
    if (optimizer.device !== kernels.device) throw new BatchNormError('invalid-option', 'an optimizer lives on another device');
  }
  if (new Set(parts.layers).size !== parts.layers.length || new Set(optimizers).size !== optimizers.length) {
    throw new BatchNormError('invalid-option', 'a layer or optimizer is listed twice');
  }
  return { layers: [...parts.layers], optimizers: [...optimizers] };
}

export function destroyParts(parts: GpuParts): void {
  for (const optimizer of parts.optimizers) optimizer.destroy();
  for (const layer of parts.layers) layer.destroy();
}
