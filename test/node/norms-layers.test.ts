import { describe, expect, it } from 'vitest';
import { BatchNormError, createBatchNorm, GroupNormLayer, LayerNormLayer } from '../../src/index';
import { createRng, normals, seedFromEnv } from '../support/random';

// LayerNormLayer and GroupNormLayer: the engine's ops with the layer's γ and β, gradients
// accumulated across backwards, state dicts in PyTorch's and Keras's names.

const seed = seedFromEnv();

describe(`norm layers (TEST_SEED=${seed})`, () => {
  it('LayerNormLayer: forward and backward are bn.norms with its weight and bias; gradients accumulate', async () => {
    const bn = await createBatchNorm({ backend: 'cpu' });
    const rng = createRng(seed);
    const layer = new LayerNormLayer(bn.norms, { normalizedShape: [3, 5], activation: 'gelu' });
    expect(layer.weight).toEqual(new Float32Array(15).fill(1));
    expect(layer.bias).toEqual(new Float32Array(15));
    layer.loadStateDict({ weight: normals(rng, 15, 1, 0.3), bias: Array.from(normals(rng, 15)) });
    const x = normals(rng, 2 * 3 * 5);
    const z = normals(rng, x.length);
    const dy = normals(rng, x.length);
    const opts = { shape: [2, 3, 5], normalizedShape: [3, 5], gamma: layer.weight, beta: layer.bias, activation: 'gelu' as const };
    const expected = await bn.norms.layerNorm(x, { ...opts, residual: z });
    expect(await layer.forward(x, [2, 3, 5], { residual: z })).toEqual(expected.y);
    const dz = new Float32Array(x.length);
    const dx = await layer.backward(dy, { dz });
    const grads = await bn.norms.layerNormBackward(dy, x, { ...opts, residual: z }, expected);
    expect(dx).toEqual(grads.dx);
    expect(dz).toEqual(grads.dz);
    expect(layer.weightGrad).toEqual(grads.dgamma);
    expect(layer.biasGrad).toEqual(grads.dbeta);
    await layer.backward(dy);
    expect(layer.weightGrad).toEqual(grads.dgamma.map((g) => Math.fround(g + g)));
    layer.zeroGrad();
    expect(layer.biasGrad).toEqual(new Float32Array(15));
    bn.dispose();
  });

  it('LayerNormLayer: elementwiseAffine false has no parameters; bias false has a weight only', async () => {
    const bn = await createBatchNorm({ backend: 'cpu' });
    const plain = new LayerNormLayer(bn.norms, { normalizedShape: 4, elementwiseAffine: false });
    expect(plain.stateDict()).toEqual({});
    const y = await plain.forward([1, 2, 3, 4], [1, 4]);
    expect(y).toEqual((await bn.norms.layerNorm([1, 2, 3, 4], { shape: [1, 4] })).y);
    const noBias = new LayerNormLayer(bn.norms, { normalizedShape: [4], bias: false });
    expect(Object.keys(noBias.stateDict())).toEqual(['weight']);
    expect(Object.keys(noBias.kerasWeights())).toEqual(['gamma']);
    bn.dispose();
  });

  it('GroupNormLayer: nn.GroupNorm(numGroups, numChannels) on NCHW, with SiLU', async () => {
    const bn = await createBatchNorm({ backend: 'cpu' });
    const rng = createRng(seed + 1);
    const layer = new GroupNormLayer(bn.norms, { numGroups: 2, numChannels: 6, activation: 'silu' });
    layer.loadKerasWeights({ gamma: normals(rng, 6, 1, 0.2), beta: normals(rng, 6) });
    expect(layer.stateDict().weight).toEqual(layer.kerasWeights().gamma);
    const shape = [2, 6, 3, 2];
    const x = normals(rng, 72, 1e4, 1);
    const dy = normals(rng, 72);
    const opts = { shape, groups: 2, gamma: layer.weight, beta: layer.bias, activation: 'silu' as const };
    const expected = await bn.norms.groupNorm(x, opts);
    expect(await layer.forward(x, shape)).toEqual(expected.y);
    expect(await layer.backward(dy)).toEqual((await bn.norms.groupNormBackward(dy, x, opts, expected)).dx);
    await expect(layer.forward(new Float32Array(24), [2, 4, 3])).rejects.toMatchObject({ code: 'channel-mismatch' });
    bn.dispose();
  });

  it('refuses bad options, a backward before any forward, dz without a residual, bad state dicts (nothing written)', async () => {
    const bn = await createBatchNorm({ backend: 'cpu' });
    const code = (action: () => unknown) => {
      try {
        action();
        return 'no error';
      } catch (error) {
        return error instanceof BatchNormError ? error.code : 'not a BatchNormError';
      }
    };
    expect(code(() => new LayerNormLayer(bn.norms, { normalizedShape: [] }))).toBe('invalid-option');
    expect(code(() => new LayerNormLayer(bn.norms, { normalizedShape: [0] }))).toBe('invalid-option');
    expect(code(() => new LayerNormLayer(bn.norms, { normalizedShape: 3, activation: 'tanh' as never }))).toBe('invalid-option');
    expect(code(() => new GroupNormLayer(bn.norms, { numGroups: 4, numChannels: 6 }))).toBe('invalid-option');
    expect(code(() => new GroupNormLayer(bn.norms, { numGroups: 2, numChannels: 6, affine: 1 as never }))).toBe('invalid-option');
    const layer = new LayerNormLayer(bn.norms, { normalizedShape: 3 });
    await expect(layer.backward([1, 2, 3])).rejects.toMatchObject({ code: 'invalid-option' });
    await layer.forward([1, 2, 3], [3]);
    await expect(layer.backward([1, 2, 3], { dz: new Float32Array(3) })).rejects.toThrow(/no residual/);
    await expect(layer.forward([1, 2, 3, 4], [4])).rejects.toMatchObject({ code: 'invalid-shape' });
    expect(code(() => layer.loadStateDict({ weight: [1, 2, 3] }))).toBe('invalid-option'); // bias missing
    expect(code(() => layer.loadStateDict({ weight: [1, 2, 3], bias: [1, 2], running_mean: [0] } as never))).toBe('invalid-option');
    expect(code(() => layer.loadStateDict({ weight: [1, 2, 3], bias: [1, 2] }))).toBe('channel-mismatch');
    expect(code(() => layer.loadKerasWeights({ gamma: [5, 5, 5], beta: [1, 2, 3, 4] }))).toBe('channel-mismatch');
    expect(layer.weight).toEqual(new Float32Array([1, 1, 1]));
    bn.dispose();
  });
});
