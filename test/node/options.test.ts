import { describe, expect, it } from 'vitest';
import { BatchNormError, type BatchNormErrorCode } from '../../src/errors';
import { channelView } from '../../src/layout';
import { checkInput, resolveOptions, type PassKind } from '../../src/options';
import type { BatchNormOptions } from '../../src/types';
import { optionsKey, tensorByteLength } from '../../src/gpu/resident-options';

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
    expect(resolveOptions({ ...base, convention: 'onnx' }, 'train')).toMatchObject({ eps: 1e-5, momentum: 0.9 });
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

  it('rejects zero, negative, non-integer and non-finite dimensions, and rank 0', () => {
    for (const bad of [0, -2, 2.5, NaN, Infinity]) {
      expect(codeOf(resolve({ shape: [4, 3, bad, 2] }))).toBe('invalid-shape');
    }
    expect(codeOf(resolve({ shape: [], layout: undefined }))).toBe('invalid-shape');
    expect(codeOf(resolve({ shape: [0], layout: undefined }))).toBe('invalid-shape');
  });

  it('takes a 1-D shape [N] as N values of one channel (ONNX), without a layout', () => {
    expect(channelView([7])).toEqual({ outer: 1, channels: 1, inner: 7, count: 7, size: 7 });
    expect(resolveOptions({ shape: [7], gamma: [2], beta: [0.5] }, 'train').view.channels).toBe(1);
    expect(codeOf(resolve({ shape: [7], layout: 'NC' }))).toBe('invalid-layout');
    expect(codeOf(resolve({ shape: [7], layout: undefined, gamma: [1, 1] }))).toBe('channel-mismatch');
    expect(codeOf(resolve({ shape: [1], layout: undefined }))).toBe('too-few-values');
    expect(codeOf(resolve({ shape: [1], layout: undefined, runningMean: [0], runningVar: [1] }, 'inference'))).toBe('no error');
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

  it('rejects eps < 0, NaN, Infinity or beyond float32; accepts 0 (PyTorch, TF.js and ONNX do)', () => {
    for (const eps of [-1e-5, -Number.MIN_VALUE, NaN, Infinity, -Infinity, 1e39, '1e-5']) expect(codeOf(resolve({ eps: eps as number }))).toBe('invalid-eps');
    expect(resolveOptions({ ...base, eps: 0 }, 'train').eps).toBe(0);
    expect(resolveOptions({ ...base, eps: -0 }, 'train').eps).toBe(0);
  });

  it("takes dtype 'float32' (default) or 'float16', float16 tensors as float16 arrays, and keys GPU programs by it", () => {
    const f32 = resolveOptions({ shape: [4, 3] }, 'train');
    const f16 = resolveOptions({ shape: [4, 3], dtype: 'float16' }, 'train');
    expect(f32.dtype).toBe('float32');
    expect(f16.dtype).toBe('float16');
    expect(codeOf(() => resolveOptions({ shape: [4, 3], dtype: 'int8' as 'float16' }, 'train'))).toBe('invalid-option');
    // A float16 call must never find a float32 call's compiled pass (program-cache.ts), nor the reverse.
    expect(optionsKey(f16)).not.toEqual(optionsKey(f32));
    expect(optionsKey(f16).slice(0, -1)).toEqual(optionsKey(f32).slice(0, -1));
    expect(checkInput('x', Uint16Array.of(0x3c00, 0xc000, 0, 0x7c00), channelView([2, 2]), 'float16')).toEqual(Float32Array.of(1, -2, 0, Infinity));
    expect(codeOf(() => checkInput('x', new Float32Array(4), channelView([2, 2]), 'float16'))).toBe('invalid-option');
    expect(codeOf(() => checkInput('x', new Uint16Array(4), channelView([2, 2])))).toBe('invalid-option');
    expect([tensorByteLength(5), tensorByteLength(5, 'float16'), tensorByteLength(6, 'float16')]).toEqual([20, 12, 12]);
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

  it('rejects unknown conventions, activations, and parameters that are neither Float32Arrays nor arrays of numbers', () => {
    expect(codeOf(resolve({ convention: 'tf' as never }))).toBe('invalid-option');
    expect(codeOf(resolve({ activation: 'gelu' as never }))).toBe('invalid-option');
    expect(codeOf(resolve({ gamma: ['1', '1', '1'] as never }))).toBe('invalid-option');
    expect(codeOf(resolve({ gamma: new Float64Array(3) as never }))).toBe('invalid-option');
    expect(codeOf(resolve({ gamma: [1, 1, null] as never }))).toBe('invalid-option');
    expect(codeOf(() => resolveOptions(null as never, 'train'))).toBe('invalid-option');
  });

  it('takes arrays of numbers wherever it takes Float32Arrays, converted once to float32', () => {
    const gamma = [1, 0.1, 3];
    const resolved = resolveOptions({ ...base, gamma, beta: [0, 0, 0], runningMean: [0, 0, 0], runningVar: [1, 1, 1] }, 'train');
    expect(resolved.gamma).toBeInstanceOf(Float32Array);
    expect(Array.from(resolved.gamma!)).toEqual([1, Math.fround(0.1), 3]);
    expect(resolved.runningVar).toBeInstanceOf(Float32Array);
    const x = Array.from({ length: 48 }, (_, i) => i / 3);
    const checked = checkInput('x', x, resolved.view);
    expect(checked).toEqual(Float32Array.from(x));
    expect(codeOf(() => checkInput('x', x.slice(1), resolved.view))).toBe('length-mismatch');
    // A Float32Array is used as it is, never copied.
    const f32 = new Float32Array(3);
    expect(resolveOptions({ ...base, gamma: f32 }, 'train').gamma).toBe(f32);
  });
});
