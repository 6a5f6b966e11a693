import { BatchNormError } from './errors';
import { resolveOptions, type PassKind, type ResolvedOptions } from './options';
import type { BackwardMode, BackwardOptions, SavedStatistics } from './types';

/** Backward options after validation: the forward's options plus the mode. */
export interface ResolvedBackwardOptions extends ResolvedOptions {
  mode: BackwardMode;
}

export function resolveBackwardMode(mode: unknown): BackwardMode {
  if (mode === undefined) return 'train';
  if (mode !== 'train' && mode !== 'eval') {
    throw new BatchNormError('invalid-option', `mode must be 'train' or 'eval', got ${JSON.stringify(mode)}`);
  }
  return mode;
}

/** The forward pass a backward belongs to: training needs M ≥ 2 like forwardTrain, eval does not. */
export function forwardPassOf(mode: BackwardMode): PassKind {
  return mode === 'train' ? 'train' : 'inference';
}

export function resolveBackwardOptions(opts: BackwardOptions): ResolvedBackwardOptions {
  const mode = resolveBackwardMode(opts !== null && typeof opts === 'object' ? opts.mode : undefined);
  if (mode === 'eval' && (opts.runningMean === undefined || opts.runningVar === undefined)) {
    throw new BatchNormError('missing-running-stats', "backward in mode 'eval' needs runningMean and runningVar");
  }
  return { ...resolveOptions(opts, forwardPassOf(mode)), mode };
}

function checkSavedArray(name: string, value: unknown, channels: number): Float32Array {
  if (!(value instanceof Float32Array)) {
    throw new BatchNormError('invalid-option', `saved.${name} must be a Float32Array of length ${channels}`);
  }
  if (value.length !== channels) {
    throw new BatchNormError('channel-mismatch', `saved.${name} has length ${value.length}, expected C = ${channels}`);
  }
  return value;
}

/**
 * The batch statistics a training backward normalizes with (those its forward returned); undefined
 * in eval mode, where the running statistics of the options are used and `saved` is ignored.
 */
export function checkSaved(saved: unknown, o: ResolvedBackwardOptions): SavedStatistics | undefined {
  if (o.mode === 'eval') return undefined;
  if (saved === null || typeof saved !== 'object') {
    throw new BatchNormError('invalid-option', "backward in mode 'train' needs saved = { mean, invStd } from forwardTrain");
  }
  const { mean, invStd } = saved as Partial<SavedStatistics>;
  const C = o.view.channels;
  return { mean: checkSavedArray('mean', mean, C), invStd: checkSavedArray('invStd', invStd, C) };
}
