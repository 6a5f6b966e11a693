import { CopyPlan, floatsAt } from '../gpu/readback';
import type { BatchNormLayer } from '../layer/batchnorm-layer';
import { copySnapshot, type LayerSnapshot } from '../layer/layer-snapshot';
import type { BatchNormStateDict } from '../layer/state-dict';
import type { GpuOptimizer } from '../optim/gpu-optimizer';
import { planOptimizerState } from '../optim/gpu-state';
import type { OptimizerState } from '../optim/types';

/**
 * The training state after a completed step: every mirrored layer's parameters, gradients, running
 * statistics and mode, and every mirrored optimizer's state dict, bit for bit as the GPU held them.
 */
export interface TrainingSnapshot {
  /** Steps captured before it (0: the state the mirror started from). */
  step: number;
  layers: LayerSnapshot[];
  optimizers: OptimizerState[];
}

/**
 * Adds a layer's buffers to `plan`; the returned function decodes them. The host-side parts
 * (num_batches_tracked, train/eval) are taken now, when the copy is recorded: the state the copy
 * will see is the state of everything encoded so far.
 */
function planLayer(plan: CopyPlan, layer: BatchNormLayer): (bytes: ArrayBuffer) => LayerSnapshot {
  const C = layer.numFeatures;
  const at = (buffer: GPUBuffer | undefined) => (buffer ? plan.add(buffer, 0, C * 4) : undefined);
  const offsets = {
    weight: at(layer.weight),
    bias: at(layer.bias),
    running_mean: at(layer.runningMean),
    running_var: at(layer.runningVar),
    weightGrad: at(layer.weightGrad),
    biasGrad: at(layer.biasGrad),
  };
  const batches = layer.numBatchesTracked;
  const training = layer.training;
  const tracked = layer.options.trackRunningStats;
  return (bytes) => {
    const read = (offset: number | undefined) => (offset === undefined ? undefined : floatsAt(bytes, offset, C));
    const state: BatchNormStateDict = {};
    for (const name of ['weight', 'bias', 'running_mean', 'running_var'] as const) {
      if (offsets[name] !== undefined) state[name] = read(offsets[name]);
    }
    if (tracked) state.num_batches_tracked = batches;
    return { state, grads: { weight: read(offsets.weightGrad), bias: read(offsets.biasGrad) }, training };
  };
}

/** One copy plan for all layers and optimizers, and the decoder of its staging buffer. */
export function planSnapshot(step: number, layers: readonly BatchNormLayer[], optimizers: readonly GpuOptimizer[]): { plan: CopyPlan; decode: (bytes: ArrayBuffer) => TrainingSnapshot } {
  const plan = new CopyPlan();
  const layerDecoders = layers.map((layer) => planLayer(plan, layer));
  const optimizerDecoders = optimizers.map((o) => planOptimizerState(plan, o.options, o.registered()));
  return {
    plan,
    decode: (bytes) => ({ step, layers: layerDecoders.map((d) => d(bytes)), optimizers: optimizerDecoders.map((d) => d(bytes)) }),
  };
}

/** A deep copy, so that what a caller keeps never changes under it. */
export function copyTrainingSnapshot(s: TrainingSnapshot): TrainingSnapshot {
  return { step: s.step, layers: s.layers.map(copySnapshot), optimizers: s.optimizers.map(copyOptimizerState) };
}

function copyOptimizerState(state: OptimizerState): OptimizerState {
  return {
    options: { ...state.options },
    params: state.params.map((p) => ({ ...p, buffers: Object.fromEntries(Object.entries(p.buffers).map(([name, values]) => [name, values?.slice()])) })),
  };
}
