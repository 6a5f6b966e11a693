import { describe, expect, it } from 'vitest';
import { createBatchNorm } from '../../src/index';
import { BatchNormError, type BatchNormErrorCode } from '../../src/errors';
import { checkNormSaved, normEpsDefaults, resolveNormBackwardOptions, resolveNormOptions } from '../../src/norms/norm-options';
import type { NormKind } from '../../src/norms/norm-types';

// Validation of the norm family's options: defaults per op and convention, and a typed error for
// each bad input, raised before any work and with nothing the caller passed changed.

async function codeOf(action: () => unknown): Promise<BatchNormErrorCode | 'no error' | 'not a BatchNormError'> {
  try {
    await action();
    return 'no error';
  } catch (error) {
    return error instanceof BatchNormError ? error.code : 'not a BatchNormError';
  }
}

describe('norm options: defaults', () => {
  it('eps per op and convention', () => {
    const eps = (kind: NormKind, convention: 'pytorch' | 'keras' | 'onnx') =>
      resolveNormOptions(kind, { shape: [2, 4, 3], groups: 2, convention } as never).eps;
    expect([eps('layer', 'pytorch'), eps('layer', 'keras'), eps('layer', 'onnx')]).toEqual([1e-5, 1e-3, 1e-5]);
    expect([eps('rms', 'pytorch'), eps('rms', 'keras'), eps('rms', 'onnx')]).toEqual([2 ** -23, 1e-6, 1e-5]);
    expect([eps('group', 'pytorch'), eps('group', 'keras'), eps('group', 'onnx')]).toEqual([1e-5, 1e-3, 1e-5]);
    expect([eps('instance', 'pytorch'), eps('instance', 'keras'), eps('instance', 'onnx')]).toEqual([1e-5, 1e-3, 1e-5]);
    expect(normEpsDefaults.rms.pytorch).toBe(1.1920928955078125e-7);
  });

  it('views: layer over the last dim by default; axis and normalizedShape; group and instance channels first', () => {
    const view = (kind: NormKind, opts: object) => resolveNormOptions(kind, { shape: [2, 3, 4], ...opts } as never).view;
    expect(view('layer', {})).toEqual({ size: 24, outer: 6, params: 4, inner: 1, groups: 1, rows: 6, rowLength: 4 });
    expect(view('layer', { normalizedShape: [3, 4] })).toMatchObject({ outer: 2, params: 12, rows: 2 });
    expect(view('rms', { axis: 0 })).toMatchObject({ outer: 1, params: 24, rows: 1 });
    expect(view('layer', { axis: -2 })).toMatchObject({ outer: 2, params: 12 });
    expect(view('layer', { axis: [2, 1] })).toMatchObject({ outer: 2, params: 12 });
    expect(view('group', { groups: 3 })).toEqual({ size: 24, outer: 2, params: 3, inner: 4, groups: 3, rows: 6, rowLength: 4 });
    expect(view('group', { groups: 1, layout: 'NCL' })).toMatchObject({ rows: 2, rowLength: 12 });
    expect(view('instance', {})).toMatchObject({ groups: 3, rows: 6, rowLength: 4 });
    // Channels last: the same counts, the channels on the last axis (layout, or Keras's axis).
    expect(view('group', { groups: 2, layout: 'NLC' })).toEqual({ size: 24, outer: 2, params: 4, inner: 3, groups: 2, rows: 4, rowLength: 6, channelsLast: true });
    expect(view('group', { groups: 2, axis: -1 })).toEqual(view('group', { groups: 2, layout: 'NLC' }));
    expect(view('instance', { axis: 2 })).toMatchObject({ params: 4, inner: 3, rows: 8, rowLength: 3, channelsLast: true });
    expect(view('group', { groups: 3, axis: 1 })).toEqual(view('group', { groups: 3 }));
    // With one spatial position (or one channel) both layouts are the same memory: no flag.
    expect(resolveNormOptions('group', { shape: [2, 6], groups: 3, axis: -1 }).view).not.toHaveProperty('channelsLast');
    expect(resolveNormOptions('instance', { shape: [2, 5, 1], layout: 'NLC' }).view).not.toHaveProperty('channelsLast');
    const resolved = resolveNormOptions('layer', { shape: [2, 3] });
    expect(resolved).toMatchObject({ kind: 'layer', convention: 'pytorch', activation: 'none', gamma: undefined, beta: undefined, residual: undefined });
  });

  it('array inputs become Float32Arrays; Float32Arrays are used as they are', () => {
    const gamma = new Float32Array([1, 2, 3]);
    const resolved = resolveNormOptions('layer', { shape: [2, 3], gamma, beta: [0.5, 0, 1] });
    expect(resolved.gamma).toBe(gamma);
    expect(resolved.beta).toEqual(new Float32Array([0.5, 0, 1]));
  });
});

describe('norm options: errors', () => {
  const x6 = new Float32Array(6);
  const cases: [string, BatchNormErrorCode, () => unknown][] = [
    ['no options', 'invalid-option', () => resolveNormOptions('layer', undefined as never)],
    ['empty tensor', 'invalid-shape', () => resolveNormOptions('layer', { shape: [2, 0] })],
    ['shape not an array', 'invalid-shape', () => resolveNormOptions('layer', { shape: 6 as never })],
    ['fractional dim', 'invalid-shape', () => resolveNormOptions('layer', { shape: [2.5, 2] })],
    ['normalizedShape not trailing', 'invalid-shape', () => resolveNormOptions('layer', { shape: [2, 3], normalizedShape: [2] })],
    ['normalizedShape too long', 'invalid-shape', () => resolveNormOptions('layer', { shape: [3], normalizedShape: [1, 3] })],
    ['normalizedShape empty', 'invalid-shape', () => resolveNormOptions('layer', { shape: [3], normalizedShape: [] })],
    ['normalizedShape and axis', 'invalid-option', () => resolveNormOptions('layer', { shape: [2, 3], normalizedShape: [3], axis: -1 })],
    ['axis out of range', 'invalid-option', () => resolveNormOptions('layer', { shape: [2, 3], axis: 2 })],
    ['axis below range', 'invalid-option', () => resolveNormOptions('rms', { shape: [2, 3], axis: -3 })],
    ['axis fractional', 'invalid-option', () => resolveNormOptions('layer', { shape: [2, 3], axis: 0.5 })],
    ['Keras axes not trailing', 'invalid-option', () => resolveNormOptions('layer', { shape: [2, 3, 4], axis: [1] })],
    ['Keras axes repeated', 'invalid-option', () => resolveNormOptions('layer', { shape: [2, 3, 4], axis: [2, -1] })],
    ['Keras axes empty', 'invalid-option', () => resolveNormOptions('layer', { shape: [2, 3, 4], axis: [] })],
    ['unknown convention', 'invalid-option', () => resolveNormOptions('layer', { shape: [2, 3], convention: 'tf' as never })],
    ['unknown activation', 'invalid-option', () => resolveNormOptions('layer', { shape: [2, 3], activation: 'tanh' as never })],
    ['negative eps', 'invalid-eps', () => resolveNormOptions('layer', { shape: [2, 3], eps: -1 })],
    ['eps beyond float32', 'invalid-eps', () => resolveNormOptions('group', { shape: [2, 3], groups: 1, eps: 1e39 })],
    ['gamma of the wrong length', 'channel-mismatch', () => resolveNormOptions('layer', { shape: [2, 3], gamma: [1, 2] })],
    ['gamma not numbers', 'invalid-option', () => resolveNormOptions('layer', { shape: [2, 3], gamma: ['a'] as never })],
    ['beta of the wrong length', 'channel-mismatch', () => resolveNormOptions('group', { shape: [2, 4], groups: 2, beta: [1, 2] })],
    ['beta for RMS norm', 'invalid-option', () => resolveNormOptions('rms', { shape: [2, 3], beta: [0, 0, 0] } as never)],
    ['residual of the wrong length', 'length-mismatch', () => resolveNormOptions('layer', { shape: [2, 3], residual: new Float32Array(5) })],
    ['residual not numbers', 'invalid-option', () => resolveNormOptions('layer', { shape: [2, 3], residual: new Float64Array(6) as never })],
    ['groups missing', 'invalid-option', () => resolveNormOptions('group', { shape: [2, 4] } as never)],
    ['groups not dividing C', 'invalid-option', () => resolveNormOptions('group', { shape: [2, 4], groups: 3 })],
    ['groups zero', 'invalid-option', () => resolveNormOptions('group', { shape: [2, 4], groups: 0 })],
    ['group norm of a 1-D x', 'invalid-shape', () => resolveNormOptions('group', { shape: [4], groups: 1 })],
    ['instance norm of a 1-D x', 'invalid-shape', () => resolveNormOptions('instance', { shape: [4] })],
    ['channel axis in the middle', 'invalid-layout', () => resolveNormOptions('group', { shape: [2, 3, 4, 5], groups: 1, axis: 2 })],
    ['axis out of range', 'invalid-option', () => resolveNormOptions('group', { shape: [2, 3, 4], groups: 1, axis: 3 })],
    ['axis not an integer', 'invalid-option', () => resolveNormOptions('instance', { shape: [2, 3, 4], axis: 1.5 })],
    ['layout and axis', 'invalid-option', () => resolveNormOptions('instance', { shape: [2, 3, 4], layout: 'NCL', axis: 1 })],
    ['groups not dividing C, channels last', 'invalid-option', () => resolveNormOptions('group', { shape: [2, 3, 4], groups: 3, layout: 'NLC' })],
    ['unknown layout', 'invalid-layout', () => resolveNormOptions('instance', { shape: [2, 3, 4], layout: 'CHW' as never })],
    ['layout of another rank', 'invalid-layout', () => resolveNormOptions('instance', { shape: [2, 3, 4], layout: 'NCHW' })],
    ['backward residual true with gelu', 'invalid-option', () => resolveNormBackwardOptions('layer', { shape: [2, 3], activation: 'gelu', residual: true })],
    ['backward residual true with silu', 'invalid-option', () => resolveNormBackwardOptions('group', { shape: [2, 4], groups: 2, activation: 'silu', residual: true })],
    ['backward residual of the wrong length', 'length-mismatch', () => resolveNormBackwardOptions('layer', { shape: [2, 3], residual: new Float32Array(2) })],
    ['saved missing', 'invalid-option', () => checkNormSaved(undefined, resolveNormBackwardOptions('layer', { shape: [2, 3] }))],
    ['saved.mean missing', 'invalid-option', () => checkNormSaved({ invStd: [1, 1] }, resolveNormBackwardOptions('layer', { shape: [2, 3] }))],
    ['saved.invStd missing', 'invalid-option', () => checkNormSaved({}, resolveNormBackwardOptions('rms', { shape: [2, 3] }))],
    ['saved.invStd per row', 'length-mismatch', () => checkNormSaved({ mean: [0, 0], invStd: [1, 1, 1] }, resolveNormBackwardOptions('layer', { shape: [2, 3] }))],
    ['saved.mean per group', 'length-mismatch', () => checkNormSaved({ mean: [0, 0], invStd: [1, 1, 1, 1] }, resolveNormBackwardOptions('group', { shape: [2, 4], groups: 2 }))],
    ['saved.y missing with relu', 'invalid-option', () => checkNormSaved({ invStd: [1, 1] }, resolveNormBackwardOptions('rms', { shape: [2, 3], activation: 'relu' }))],
    ['saved.y of the wrong length', 'length-mismatch', () => checkNormSaved({ invStd: [1, 1], y: [1] }, resolveNormBackwardOptions('rms', { shape: [2, 3], activation: 'relu' }))],
  ];
  it.each(cases)('%s → %s', async (_, code, action) => {
    expect(await codeOf(action)).toBe(code);
  });

  it('RMS norm ignores a saved mean (its forward has none); backward residual false is no residual', () => {
    const o = resolveNormBackwardOptions('rms', { shape: [2, 3], residual: false as never });
    expect(o.residual).toBeUndefined();
    expect(checkNormSaved({ mean: [5], invStd: [1, 1] }, o).mean).toBeUndefined();
    expect(resolveNormBackwardOptions('layer', { shape: [2, 3], activation: 'relu', residual: true }).residual).toBe(true);
  });

  it('the API refuses bad input before any work, names the problem, and changes nothing', async () => {
    const bn = await createBatchNorm({ backend: 'cpu' });
    const x = Float32Array.from([1, 2, 3, 4, 5, 6]);
    const gamma = Float32Array.from([1, 2]);
    await expect(bn.norms.layerNorm(x, { shape: [2, 3], gamma })).rejects.toThrow(/gamma has length 2, expected D, the normalized size = 3/);
    await expect(bn.norms.groupNorm(x, { shape: [2, 3], groups: 2 })).rejects.toThrow(/groups must be a positive integer dividing C = 3/);
    await expect(bn.norms.instanceNorm(x, { shape: [1, 2, 3], layout: 'NCHW' })).rejects.toThrow(/NCHW needs a 4-D shape/);
    expect(await codeOf(() => bn.norms.rmsNorm(x6.subarray(1), { shape: [2, 3] }))).toBe('length-mismatch');
    expect(await codeOf(() => bn.norms.layerNormBackward(x, x, { shape: [2, 3] }, { invStd: [1, 1] }))).toBe('invalid-option');
    expect(await codeOf(() => bn.norms.groupNormBackward(x, x, { shape: [2, 3], groups: 3, activation: 'gelu-tanh', residual: true }, { mean: [0], invStd: [1] }))).toBe('invalid-option');
    expect(x).toEqual(Float32Array.from([1, 2, 3, 4, 5, 6]));
    expect(gamma).toEqual(Float32Array.from([1, 2]));
    bn.dispose();
    expect(await codeOf(() => bn.norms.layerNorm(x, { shape: [2, 3] }))).toBe('disposed');
  });
});
