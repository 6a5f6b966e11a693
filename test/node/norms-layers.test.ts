import { describe, expect, it } from 'vitest';
import { BatchNormError, createBatchNorm, GroupNormLayer, InstanceNormLayer, LayerNormLayer, RmsNormLayer } from '../../src/index';
import { createRng, normals, seedFromEnv } from '../support/random';

// LayerNormLayer, RmsNormLayer, GroupNormLayer and InstanceNormLayer: the engine's ops with the layer's γ and β, gradients
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
  it('RmsNormLayer: nn.RMSNorm over the trailing dims; weight only, Keras calls it scale', async () => {
    const bn = await createBatchNorm({ backend: 'cpu' });
    const rng = createRng(seed + 2);
    const layer = new RmsNormLayer(bn.norms, { normalizedShape: [2, 5], activation: 'silu' });
    expect(layer.bias).toBeUndefined();
    expect(Object.keys(layer.stateDict())).toEqual(['weight']);
    layer.loadKerasWeights({ scale: normals(rng, 10, 1, 0.3) });
    expect(layer.stateDict().weight).toEqual(layer.kerasWeights().scale);
    const x = normals(rng, 3 * 2 * 5);
    const z = normals(rng, x.length);
    const dy = normals(rng, x.length);
    const opts = { shape: [3, 2, 5], normalizedShape: [2, 5], gamma: layer.weight, activation: 'silu' as const, residual: z };
    const expected = await bn.norms.rmsNorm(x, opts);
    expect(await layer.forward(x, [3, 2, 5], { residual: z })).toEqual(expected.y);
    const dz = new Float32Array(x.length);
    const dx = await layer.backward(dy, { dz });
    const grads = await bn.norms.rmsNormBackward(dy, x, opts, expected);
    expect(dx).toEqual(grads.dx);
    expect(dz).toEqual(grads.dz);
    expect(layer.weightGrad).toEqual(grads.dgamma);
    // eps defaults per convention (pytorch: float32's machine epsilon), as the op's.
    const keras = new RmsNormLayer(bn.norms, { normalizedShape: 4, convention: 'keras', elementwiseAffine: false });
    expect(keras.kerasWeights()).toEqual({});
    expect(await keras.forward([1, 2, 3, 4], [4])).toEqual((await bn.norms.rmsNorm([1, 2, 3, 4], { shape: [4], convention: 'keras' })).y);
    expect(() => layer.loadKerasWeights({ gamma: new Float32Array(10) })).toThrow(/scale/);
    bn.dispose();
  });

  it('InstanceNormLayer: PyTorch defaults (affine and trackRunningStats false) are the plain op', async () => {
    const bn = await createBatchNorm({ backend: 'cpu' });
    const rng = createRng(seed + 3);
    const layer = new InstanceNormLayer(bn.norms, { numFeatures: 3 });
    expect(layer.stateDict()).toEqual({});
    const x = normals(rng, 2 * 3 * 7);
    const dy = normals(rng, x.length);
    const expected = await bn.norms.instanceNorm(x, { shape: [2, 3, 7] });
    expect(await layer.forward(x, [2, 3, 7])).toEqual(expected.y);
    expect(await layer.backward(dy)).toEqual((await bn.norms.instanceNormBackward(dy, x, { shape: [2, 3, 7] }, expected)).dx);
    layer.eval(); // without running statistics eval changes nothing, as in PyTorch
    expect(await layer.forward(x, [2, 3, 7])).toEqual(expected.y);
    await expect(layer.forward(x, [2, 7, 3])).rejects.toMatchObject({ code: 'channel-mismatch' });
    bn.dispose();
  });

  it('InstanceNormLayer with trackRunningStats: training updates the running statistics, eval normalizes by them', async () => {
    const bn = await createBatchNorm({ backend: 'cpu' });
    const rng = createRng(seed + 4);
    const layer = new InstanceNormLayer(bn.norms, { numFeatures: 4, affine: true, trackRunningStats: true, momentum: 0.2, activation: 'gelu' });
    expect(Object.keys(layer.stateDict())).toEqual(['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']);
    expect(Object.keys(layer.kerasWeights())).toEqual(['gamma', 'beta', 'moving_mean', 'moving_variance']);
    expect(layer.runningMean).toEqual(new Float32Array(4));
    expect(layer.runningVar).toEqual(new Float32Array(4).fill(1));
    layer.loadStateDict({ weight: normals(rng, 4, 1, 0.2), bias: normals(rng, 4), running_mean: normals(rng, 4), running_var: [1, 2, 3, 4], num_batches_tracked: 7 });
    expect(layer.numBatchesTracked).toBe(7);
    const shape = [2, 4, 3, 3];
    const x = normals(rng, 72, 2, 3);
    const dy = normals(rng, 72);
    const before = { runningMean: layer.runningMean!.slice(), runningVar: layer.runningVar!.slice() };
    const opts = { shape, gamma: layer.weight, beta: layer.bias, activation: 'gelu' as const, momentum: 0.2 };
    const expected = await bn.norms.instanceNorm(x, { ...opts, ...before });
    expect(await layer.forward(x, shape)).toEqual(expected.y);
    expect(layer.runningMean).toEqual(expected.runningMean);
    expect(layer.runningVar).toEqual(expected.runningVar);
    expect(layer.numBatchesTracked).toBe(7); // PyTorch's InstanceNorm never advances it
    expect(await layer.backward(dy)).toEqual((await bn.norms.instanceNormBackward(dy, x, opts, expected)).dx);

    // A failed forward (z of the wrong length) leaves the running statistics as they were.
    const kept = layer.runningMean!.slice();
    await expect(layer.forward(x, shape, { residual: new Float32Array(5) })).rejects.toMatchObject({ code: 'length-mismatch' });
    expect(layer.runningMean).toEqual(kept);

    layer.eval();
    const frozen = { ...opts, runningMean: layer.runningMean!.slice(), runningVar: layer.runningVar!.slice(), training: false };
    const inference = await bn.norms.instanceNorm(x, frozen);
    expect(await layer.forward(x, shape)).toEqual(inference.y);
    expect(layer.runningMean).toEqual(frozen.runningMean);
    const dx = await layer.backward(dy);
    expect(dx).toEqual((await bn.norms.instanceNormBackward(dy, x, frozen, inference)).dx);
    layer.train();
    expect(layer.training).toBe(true);
    bn.dispose();
  });

  it('InstanceNormLayer: strict loading, num_batches_tracked optional and checked', () => {
    const layer = new InstanceNormLayer(undefined as never, { numFeatures: 2, trackRunningStats: true });
    expect(() => layer.loadStateDict({ running_mean: [1, 2] })).toThrow(/missing running_var/);
    expect(() => layer.loadStateDict({ running_mean: [1, 2], running_var: [1, 1], num_batches_tracked: -1 })).toThrow(/num_batches_tracked/);
    expect(layer.runningMean).toEqual(new Float32Array(2));
    layer.loadStateDict({ running_mean: [1, 2], running_var: [3, 4] });
    expect(layer.stateDict()).toEqual({ running_mean: new Float32Array([1, 2]), running_var: new Float32Array([3, 4]), num_batches_tracked: 0 });
    layer.loadKerasWeights({ moving_mean: [5, 6], moving_variance: [7, 8] });
    expect(layer.runningVar).toEqual(new Float32Array([7, 8]));
    expect(() => layer.loadKerasWeights({ moving_mean: [5, 6], moving_variance: [7, 8], num_batches_tracked: 1 } as never)).toThrow(/unexpected num_batches_tracked/);
    expect(() => new InstanceNormLayer(undefined as never, { numFeatures: 2, momentum: 2 })).toThrow(expect.objectContaining({ code: 'invalid-momentum' }));
    expect(() => new InstanceNormLayer(undefined as never, { numFeatures: 0 })).toThrow(expect.objectContaining({ code: 'invalid-option' }));
  });
  it('GroupNormLayer and InstanceNormLayer channels last (Keras GroupNormalization axis -1, layout NHWC)', async () => {
    const bn = await createBatchNorm({ backend: 'cpu' });
    const rng = createRng(seed + 5);
    const keras = new GroupNormLayer(bn.norms, { numGroups: 2, numChannels: 6, axis: -1, convention: 'keras' });
    keras.loadKerasWeights({ gamma: normals(rng, 6, 1, 0.2), beta: normals(rng, 6) });
    const shape = [2, 3, 4, 6];
    const x = normals(rng, 144);
    const dy = normals(rng, 144);
    const opts = { shape, groups: 2, axis: -1, convention: 'keras' as const, gamma: keras.weight, beta: keras.bias };
    const expected = await bn.norms.groupNorm(x, opts);
    expect(await keras.forward(x, shape)).toEqual(expected.y);
    expect(await keras.backward(dy)).toEqual((await bn.norms.groupNormBackward(dy, x, opts, expected)).dx);
    await expect(keras.forward(x, [2, 6, 4, 3])).rejects.toMatchObject({ code: 'channel-mismatch' });
    const instance = new InstanceNormLayer(bn.norms, { numFeatures: 6, layout: 'NHWC', trackRunningStats: true });
    const out = await bn.norms.instanceNorm(x, { shape, layout: 'NHWC', runningMean: new Float32Array(6), runningVar: new Float32Array(6).fill(1) });
    expect(await instance.forward(x, shape)).toEqual(out.y);
    expect(instance.runningMean).toEqual(out.runningMean);
    bn.dispose();
  });
});
