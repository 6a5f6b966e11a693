import { describe, expect, it } from 'vitest';
import { BatchNormError, type BatchNormErrorCode } from '../../src/errors';
import { channelView } from '../../src/layout';
import { checkInput, resolveOptions, type PassKind } from '../../src/options';
import type { BatchNormOptions } from '../../src/types';

function codeOf(action: () => unknown): BatchNormErrorCode | 'no error' | 'not a BatchNormError' {
  try {
    action();
    return 'no error';
  } catch (error) {
    return error instanceof BatchNormError ? error.code : 'not a BatchNormError';
  }
}

const C3 = () => new Float32Array(3);
const base: BatchNormOptions = { shape: [4, 3, 2, 2], layout: 'NCHW' };
const resolve = (extra: Partial<BatchNormOptions>, pass: PassKind = 'train') => () =>
  resolveOptions({ ...base, ...extra }, pass);

describe('option validation', () => {
  it('accepts valid options and fills in each convention’s defaults', () => {
    expect(resolveOptions(base, 'train')).toMatchObject({
      eps: 1e-5,
      momentum: 0.1,
      convention: 'pytorch',
      activation: 'none',
    });
    expect(resolveOptions({ ...base, convention: 'keras' }, 'train')).toMatchObject({ eps: 1e-3, momentum: 0.99 });
    expect(resolveOptions({ ...base, momentum: 0 }, 'train').momentum).toBe(0);
    expect(resolveOptions({ ...base, momentum: 1 }, 'train').momentum).toBe(1);
  });

  it('rejects data whose length is not the product of the shape', () => {
    const view = channelView([4, 3, 2, 2], 'NCHW');
    expect(codeOf(() => checkInput('x', new Float32Array(47), view))).toBe('length-mismatch');
    expect(codeOf(() => checkInput('x', new Float32Array(49), view))).toBe('length-mismatch');
    expect(codeOf(() => checkInput('x', new Float64Array(48), view))).toBe('invalid-option');
    expect(codeOf(() => checkInput('x', new Float32Array(48), view))).toBe('no error');
  });

  it('rejects a layout that does not match the rank, or is unknown', () => {
    expect(codeOf(resolve({ layout: 'NHWC', shape: [4, 3, 2] }))).toBe('invalid-layout');
    expect(codeOf(resolve({ layout: 'NC', shape: [4, 3, 2, 2] }))).toBe('invalid-layout');
    expect(codeOf(resolve({ layout: 'NCDHW', shape: [4, 3, 2, 2] }))).toBe('invalid-layout');
    expect(codeOf(resolve({ layout: 'nchw' as never }))).toBe('invalid-layout');
  });

  it('rejects zero, negative, non-integer and non-finite dimensions, and rank < 2', () => {
    for (const bad of [0, -2, 2.5, NaN, Infinity]) {
      expect(codeOf(resolve({ shape: [4, 3, bad, 2] }))).toBe('invalid-shape');
    }
    expect(codeOf(resolve({ shape: [6], layout: undefined }))).toBe('invalid-shape');
  });

  it('rejects gamma, beta and running statistics whose length is not C', () => {
    for (const name of ['gamma', 'beta', 'runningMean', 'runningVar'] as const) {
      const paired = name === 'runningMean' ? { runningVar: C3() } : name === 'runningVar' ? { runningMean: C3() } : {};
      expect(codeOf(resolve({ ...paired, [name]: new Float32Array(2) }))).toBe('channel-mismatch');
      expect(codeOf(resolve({ ...paired, [name]: new Float32Array(4) }))).toBe('channel-mismatch');
    }
  });

  it('rejects one value per channel in training, as PyTorch does, but allows it in inference', () => {
    const single = { shape: [1, 3], layout: 'NC' as const, runningMean: C3(), runningVar: C3() };
    expect(codeOf(resolve(single))).toBe('too-few-values');
    expect(() => resolveOptions(single, 'train')).toThrow(/Expected more than 1 value per channel when training/);
    expect(codeOf(resolve({ shape: [1, 3, 1, 1] }))).toBe('too-few-values');
    expect(codeOf(resolve(single, 'inference'))).toBe('no error');
  });

  it('rejects eps ≤ 0, NaN or Infinity', () => {
    for (const eps of [0, -1e-5, NaN, Infinity, -Infinity]) expect(codeOf(resolve({ eps }))).toBe('invalid-eps');
  });

  it('rejects momentum outside [0, 1] or NaN', () => {
    for (const momentum of [-0.1, 1.01, NaN, Infinity]) expect(codeOf(resolve({ momentum }))).toBe('invalid-momentum');
  });

  it('requires running statistics in inference, and both or neither of them', () => {
    expect(codeOf(resolve({}, 'inference'))).toBe('missing-running-stats');
    expect(codeOf(resolve({ runningMean: C3() }))).toBe('missing-running-stats');
    expect(codeOf(resolve({ runningVar: C3() }))).toBe('missing-running-stats');
    expect(codeOf(resolve({ runningMean: C3() }, 'inference'))).toBe('missing-running-stats');
  });

  it('rejects unknown conventions, activations and non-Float32Array parameters', () => {
    expect(codeOf(resolve({ convention: 'tf' as never }))).toBe('invalid-option');
    expect(codeOf(resolve({ activation: 'gelu' as never }))).toBe('invalid-option');
    expect(codeOf(resolve({ gamma: [1, 1, 1] as never }))).toBe('invalid-option');
    expect(codeOf(() => resolveOptions(null as never, 'train'))).toBe('invalid-option');
  });
});
