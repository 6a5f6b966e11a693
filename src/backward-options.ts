import { BatchNormError } from './errors';
import { checkInput, checkPerChannel, resolveOptions, type PassKind, type ResolvedOptions } from './options';
import type { BackwardMode, BackwardOptions, BatchNormOptions } from './types';

/** Backward options after validation: the forward's options plus the mode. */
export interface ResolvedBackwardOptions extends ResolvedOptions {
  mode: BackwardMode;
  /** The forward had a residual: dz is computed. */
  residualGradient: boolean;
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
  // backward's `residual` is a flag (or the forward's z, only its length checked): checked below.
  const forwardOptions = (opts !== null && typeof opts === 'object' ? { ...opts, residual: undefined } : opts) as BatchNormOptions;
  const resolved = resolveOptions(forwardOptions, forwardPassOf(mode));
  const residual = opts.residual;
  return { ...resolved, mode, residualGradient: checkResidualFlag(residual, resolved) };
}

/** backward's `residual`: absent or false, true, or the forward's z (its length checked, not its values). */
function checkResidualFlag(residual: unknown, o: ResolvedOptions): boolean {
  if (residual === undefined || residual === false) return false;
  if (residual === true) return true;
  checkInput('residual', residual, o.view, o.dtype);
  return true;
}

function checkSavedArray(name: string, value: unknown, channels: number): Float32Array {
  const values = value === undefined ? undefined : checkPerChannel(`saved.${name}`, value, channels);
  if (!values) throw new BatchNormError('invalid-option', `saved.${name} must be a Float32Array or an array of numbers of length ${channels}`);
  return values;
}

/**
 * What a backward uses of its forward, checked: the batch statistics in mode 'train' (undefined in
 * eval mode, where the running statistics of the options are used), and y with activation 'relu'.
 */
export interface CheckedSaved {
  mean?: Float32Array;
  invStd?: Float32Array;
  y?: Float32Array;
}

/**
 * Checks `saved` against what the backward needs: { mean, invStd } from forwardTrain in mode
 * 'train', the forward's output y with activation 'relu' (either mode); the rest is ignored. Arrays
 * of numbers come back as Float32Arrays.
 */
export function checkSaved(saved: unknown, o: ResolvedBackwardOptions): CheckedSaved {
  const relu = o.activation === 'relu';
  if (o.mode === 'eval' && !relu) return {};
  if (saved === null || typeof saved !== 'object') {
    const needs = o.mode === 'train' ? "saved = { mean, invStd } from forwardTrain (its whole result when activation is 'relu')" : 'saved = { y } from forwardInference';
    throw new BatchNormError('invalid-option', `backward in mode '${o.mode}'${relu ? " with activation 'relu'" : ''} needs ${needs}`);
  }
  const { mean, invStd, y } = saved as Record<keyof CheckedSaved, unknown>;
  const C = o.view.channels;
  const checked: CheckedSaved = {};
  if (o.mode === 'train') {
    checked.mean = checkSavedArray('mean', mean, C);
    checked.invStd = checkSavedArray('invStd', invStd, C);
  }
  if (relu) {
    if (y === undefined) {
      throw new BatchNormError('invalid-option', "backward with activation 'relu' needs saved.y, the forward's output: its gradient passes dy exactly where y > 0");
    }
    checked.y = checkInput('saved.y', y, o.view, o.dtype);
  }
  return checked;
}
