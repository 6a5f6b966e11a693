import { BatchNormError } from '../errors';
import { asFloat32 } from '../options';
import type { ResolvedLayerOptions } from './layer-options';
import type { BatchNormStateDictInput } from './state-dict';

export interface CheckedLayerState {
  /** The arrays to write, by state-dict name. */
  arrays: [string, Float32Array][];
  batches: number | undefined;
}

/**
 * Checks a state dict (or, with kind 'gradient', the weight and bias gradients) against a layer's
 * options before anything is written, for the GPU layer and its CPU twin alike: an absent entry is
 * left as it is; a present one must exist in this configuration and hold C float32 values.
 */
export function checkLayerState(o: ResolvedLayerOptions, state: BatchNormStateDictInput, kind: 'state' | 'gradient' = 'state'): CheckedLayerState {
  if (state === null || typeof state !== 'object') throw new BatchNormError('invalid-option', `expected a ${kind} dict object`);
  const C = o.numFeatures;
  const present: Record<string, boolean> = {
    weight: o.affine,
    bias: o.affine,
    running_mean: o.trackRunningStats,
    running_var: o.trackRunningStats,
  };
  const arrays: [string, Float32Array][] = [];
  for (const name of kind === 'state' ? ['weight', 'bias', 'running_mean', 'running_var'] : ['weight', 'bias']) {
    const values = (state as Record<string, unknown>)[name];
    if (values === undefined) continue;
    if (!present[name]) throw new BatchNormError('invalid-option', `this layer has no ${name} ${kind} (affine or trackRunningStats is off)`);
    const floats = asFloat32(values);
    if (!floats || floats.length !== C) {
      throw new BatchNormError('channel-mismatch', `${kind} ${name} must be a Float32Array or an array of numbers of length ${C}`);
    }
    arrays.push([name, floats]);
  }
  const batches = kind === 'state' ? state.num_batches_tracked : undefined;
  if (batches !== undefined && (!Number.isSafeInteger(batches) || batches < 0)) {
    throw new BatchNormError('invalid-option', `num_batches_tracked must be a non-negative integer, got ${batches}`);
  }
  return { arrays, batches };
}
