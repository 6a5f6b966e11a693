import { BatchNormError } from '../errors';
import type { GpuBatchNorm } from '../gpu/gpu-batchnorm';
import { BatchNormLayer } from '../layer/batchnorm-layer';
import { CpuBatchNormLayer } from '../layer/cpu-layer';
import type { ResolvedLayerOptions } from '../layer/layer-options';
import { CpuOptimizer } from '../optim/cpu-optimizer';
import { GpuOptimizer } from '../optim/gpu-optimizer';
import type { GpuOptimizerTuning } from '../optim/tuning';
import type { TrainingSnapshot } from './snapshot';

/** Which layer parameter an optimizer parameter is: its γ (weight) or β (bias), with its gradient. */
export interface ParamBinding {
  layer: number;
  which: 'weight' | 'bias';
  label: string;
  length: number;
}

export interface GpuParts {
  layers: BatchNormLayer[];
  optimizers: GpuOptimizer[];
}

export interface CpuParts {
  layers: CpuBatchNormLayer[];
  optimizers: CpuOptimizer[];
}

function gradOf<T>(layer: { weightGrad?: T; biasGrad?: T }, which: 'weight' | 'bias'): T | undefined {
  return which === 'weight' ? layer.weightGrad : layer.biasGrad;
}

/**
 * Finds, by buffer identity, the layer parameter behind every parameter of `optimizer`. A mirror can
 * move only what it can rebuild on the other side, so any other parameter is refused.
 */
export function bindParams(layers: readonly BatchNormLayer[], optimizer: GpuOptimizer): ParamBinding[] {
  return optimizer.registered().map((p) => {
    for (let layer = 0; layer < layers.length; layer++) {
      for (const which of ['weight', 'bias'] as const) {
        if (p.param === layers[layer][which] && p.grad === gradOf(layers[layer], which)) return { layer, which, label: p.label, length: p.length };
      }
    }
    throw new BatchNormError('invalid-option', `optimizer parameter ${p.label} is not the weight or bias (with its gradient) of a mirrored layer; a TrainingMirror can move only those`);
  });
}

/** CPU layers and optimizers holding exactly the snapshot's state, parameters shared as on the GPU. */
export function cpuTwins(options: readonly ResolvedLayerOptions[], snapshot: TrainingSnapshot, bindings: readonly ParamBinding[][]): CpuParts {
  const layers = snapshot.layers.map((s, i) => CpuBatchNormLayer.fromSnapshot(options[i], s));
  const optimizers = snapshot.optimizers.map((state, k) => {
    const optimizer = new CpuOptimizer(state.options);
    for (const b of bindings[k]) optimizer.addParam(layers[b.layer][b.which]!, gradOf(layers[b.layer], b.which)!, b.label);
    optimizer.importState(state);
    return optimizer;
  });
  return { layers, optimizers };
}

/**
 * New GPU layers and optimizers on `kernels`' device holding exactly the CPU twins' state (written
 * with queue.writeBuffer, ordered before any later submit).
 */
export function gpuTwins(kernels: GpuBatchNorm, cpu: CpuParts, bindings: readonly ParamBinding[][], tunings: readonly (GpuOptimizerTuning | undefined)[]): GpuParts {
  const layers = cpu.layers.map((twin) => {
    const layer = new BatchNormLayer(kernels, twin.options);
    layer.loadStateDict(twin.stateDict());
    layer.loadGradients(twin.gradients());
    layer.train(twin.training);
    return layer;
  });
  const optimizers = cpu.optimizers.map((twin, k) => {
    const optimizer = new GpuOptimizer(kernels.device, twin.options, tunings[k]);
    for (const b of bindings[k]) optimizer.addParam(layers[b.layer][b.which]!, gradOf(layers[b.layer], b.which)!, b.length, b.label);
    optimizer.importState(twin.exportState());
    return optimizer;
  });
  return { layers, optimizers };
}
