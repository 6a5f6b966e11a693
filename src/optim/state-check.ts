import { BatchNormError } from '../errors';
import { checkLearningRate } from './options';
import { stateNames } from './state-names';
import type { OptimizerState, ResolvedOptimizerOptions } from './types';

function fail(message: string): never {
  throw new BatchNormError('invalid-option', `importState: ${message}`);
}

/**
 * Checks a state dict against an optimizer before anything is written, so a bad one leaves the
 * optimizer untouched. The state must come from the same configuration: every hyper-parameter but
 * the learning rate must match (they decide which state tensors exist and what they mean); the
 * learning rate is taken from the state, as torch's load_state_dict does. Parameters are matched by
 * position and length, as in PyTorch; labels are informational. Returns the state's learning rate.
 */
export function checkImportedState(state: OptimizerState, own: ResolvedOptimizerOptions, lengths: readonly number[]): number {
  if (state === null || typeof state !== 'object' || !Array.isArray(state.params) || typeof state.options !== 'object') {
    fail('expected { options, params } as returned by exportState');
  }
  const saved = state.options as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(own)) {
    if (key === 'lr') continue;
    if (JSON.stringify(saved[key]) !== JSON.stringify(value)) {
      fail(`the state was saved with ${key} = ${JSON.stringify(saved[key])}, this optimizer has ${JSON.stringify(value)}`);
    }
  }
  const lr = checkLearningRate(own.kind, saved.lr);
  if (state.params.length !== lengths.length) fail(`the state holds ${state.params.length} parameters, this optimizer ${lengths.length}`);
  const names = stateNames(own);
  state.params.forEach((p, index) => {
    const where = `params[${index}]`;
    if (p === null || typeof p !== 'object') fail(`${where} is not a parameter state`);
    if (p.length !== lengths[index]) fail(`${where} has length ${p.length}, the registered parameter ${lengths[index]}`);
    if (!Number.isInteger(p.step) || p.step < 0 || p.step > 0xffffffff) fail(`${where}.step must be an integer in [0, 2^32), got ${p.step}`);
    const given = Object.keys(p.buffers ?? {});
    const extra = given.filter((name) => !(names as string[]).includes(name));
    if (extra.length > 0) fail(`${where} has state ${extra.join(', ')}, which this configuration does not keep`);
    for (const name of names) {
      const values = p.buffers?.[name];
      if (!(values instanceof Float32Array) || values.length !== lengths[index]) {
        fail(`${where}.buffers.${name} must be a Float32Array of length ${lengths[index]}`);
      }
    }
  });
  return lr;
}
