import { describe, expect, it } from 'vitest';
import { createBatchNorm, CpuBatchNormLayer, type BatchNormOptions } from '../../src/index';
import { caseSeed, createRng, normals, seedFromEnv } from '../support/random';
import { referenceForwardInference, referenceForwardTrain } from '../support/reference';
import { checkClose } from '../support/compare';

/*
 * What frameworks' own test data needs beyond the PyTorch and Keras forms, on the CPU path: a 1-D
 * input [N] (one channel, as ONNX allows), arrays of numbers in place of Float32Arrays, the ONNX
 * convention and eps = 0 (non-zero variance here; zero variance: non-finite.test.ts).
 */
const seed = seedFromEnv();
console.log(`input forms: TEST_SEED=${seed}`);

// The CPU path computes in float64 and rounds each output once: against the float64 reference, a
// few float32 roundings of the largest term.
const tol = { rtol: 1e-6, atol: 1e-6 };
const expectClose = (actual: ArrayLike<number>, expected: ArrayLike<number>, what: string) => {
  const error = checkClose(actual, expected, tol, what);
  if (error) throw error;
};

describe('1-D input [N]: N values of one channel', () => {
  it.each([2, 7, 1001])('[%i]: forwardTrain, forwardInference, backward and channelStatistics equal those of [N, 1] and match the reference', async (N) => {
    const bn = await createBatchNorm({ backend: 'cpu' });
    const rng = createRng(caseSeed(seed, `1-D ${N}`));
    const x = normals(rng, N, 3, 2);
    const dy = normals(rng, N);
    const params = { gamma: Float32Array.of(1.5), beta: Float32Array.of(-0.25), runningMean: Float32Array.of(2.5), runningVar: Float32Array.of(3), activation: 'relu' as const };
    const flat: BatchNormOptions = { shape: [N], ...params };
    const column: BatchNormOptions = { shape: [N, 1], layout: 'NC', ...params };
    const train = await bn.forwardTrain(x, flat);
    expect(train).toEqual(await bn.forwardTrain(x, column));
    const ref = referenceForwardTrain(x, { ...params, shape: [N], eps: 1e-5, momentum: 0.1, convention: 'pytorch' });
    expectClose(train.y, ref.y, 'y');
    expectClose(train.mean, ref.mean, 'mean');
    expectClose(train.runningVar!, ref.runningVar!, 'runningVar');
    const y = await bn.forwardInference(x, flat);
    expect(y).toEqual(await bn.forwardInference(x, column));
    expectClose(y, referenceForwardInference(x, { ...params, shape: [N], eps: 1e-5, momentum: 0.1, convention: 'pytorch' }), 'inference y');
    expect(await bn.backward(dy, x, flat, train)).toEqual(await bn.backward(dy, x, column, train));
    expect(await bn.backward(dy, x, { ...flat, mode: 'eval' }, { y })).toEqual(await bn.backward(dy, x, { ...column, mode: 'eval' }, { y }));
    expect(await bn.channelStatistics(x, flat)).toEqual(await bn.channelStatistics(x, column));
  });

  it('a layer takes [N] as one channel', () => {
    const layer = new CpuBatchNormLayer({ numFeatures: 1 });
    const twin = new CpuBatchNormLayer({ numFeatures: 1, layout: 'NC' });
    const x = normals(createRng(caseSeed(seed, 'layer 1-D')), 9, 1, 2);
    expect(layer.forward(x, [9])).toEqual(twin.forward(x, [9, 1]));
    expect(layer.backward(x)).toEqual(twin.backward(x));
    expect(layer.stateDict()).toEqual(twin.stateDict());
  });
});

describe('arrays of numbers wherever a Float32Array is taken', () => {
  it('every host-array call gives the very results of the same values as Float32Arrays', async () => {
    const bn = await createBatchNorm({ backend: 'cpu' });
    const rng = createRng(caseSeed(seed, 'number arrays'));
    const shape = [3, 4, 5];
    // Values that float32 cannot hold exactly (0.1, 1/3), so the conversion's rounding shows.
    const x = Array.from({ length: 60 }, (_, i) => Math.sin(i) / 3 + 0.1 * i);
    const dy = Array.from(normals(rng, 60));
    const f32 = { gamma: Float32Array.of(0.1, 1, 2, 1 / 3), beta: Float32Array.of(0, 0.2, -0.3, 1 / 7), runningMean: Float32Array.of(0.1, 0.2, 0.3, 0.4), runningVar: Float32Array.of(1, 2, 0.5, 1 / 3) };
    const plain = { gamma: Array.from(f32.gamma, (v, c) => [0.1, 1, 2, 1 / 3][c]), beta: [0, 0.2, -0.3, 1 / 7], runningMean: [0.1, 0.2, 0.3, 0.4], runningVar: [1, 2, 0.5, 1 / 3] };
    const base = { shape, layout: 'NCL' as const, activation: 'relu' as const };
    const X = Float32Array.from(x);
    const DY = Float32Array.from(dy);
    const train = await bn.forwardTrain(x, { ...base, ...plain });
    expect(train).toEqual(await bn.forwardTrain(X, { ...base, ...f32 }));
    const y = await bn.forwardInference(x, { ...base, ...plain });
    expect(y).toEqual(await bn.forwardInference(X, { ...base, ...f32 }));
    const saved = { mean: Array.from(train.mean), invStd: Array.from(train.invStd), y: Array.from(train.y) };
    expect(await bn.backward(dy, x, { ...base, ...plain }, saved)).toEqual(await bn.backward(DY, X, { ...base, ...f32 }, train));
    expect(await bn.backward(dy, x, { ...base, ...plain, mode: 'eval' }, { y: Array.from(y) })).toEqual(await bn.backward(DY, X, { ...base, ...f32, mode: 'eval' }, { y }));
    expect(await bn.channelStatistics(x, base)).toEqual(await bn.channelStatistics(X, base));
    // Results are Float32Arrays whatever came in.
    expect(train.y).toBeInstanceOf(Float32Array);
    expect(train.runningMean).toBeInstanceOf(Float32Array);
    // A layer too.
    const layer = new CpuBatchNormLayer({ numFeatures: 4 });
    const twin = new CpuBatchNormLayer({ numFeatures: 4 });
    expect(layer.forward(x, shape)).toEqual(twin.forward(X, shape));
    expect(layer.backward(dy)).toEqual(twin.backward(DY));
    // And state dicts, Keras weights and gradients to load.
    layer.loadStateDict({ weight: [1, 0.1, 2, 3], running_var: [1, 2, 3, 1 / 3], num_batches_tracked: 4 });
    twin.loadStateDict({ weight: Float32Array.of(1, 0.1, 2, 3), running_var: Float32Array.of(1, 2, 3, 1 / 3), num_batches_tracked: 4 });
    layer.loadGradients({ bias: [0.5, 0.25, 0.1, 0] });
    twin.loadGradients({ bias: Float32Array.of(0.5, 0.25, 0.1, 0) });
    expect(layer.snapshot()).toEqual(twin.snapshot());
    expect(() => layer.loadStateDict({ bias: [1, 2, '3', 4] as never })).toThrow(expect.objectContaining({ code: 'channel-mismatch' }));
  });

  it('refuses arrays holding anything but numbers, and arrays of the wrong length, with typed errors', async () => {
    const bn = await createBatchNorm({ backend: 'cpu' });
    const code = (work: () => Promise<unknown>) => work().then(() => 'accepted', (e: { code?: string }) => e.code ?? String(e));
    expect(await code(() => bn.forwardTrain([1, '2', 3, 4] as never, { shape: [2, 2] }))).toBe('invalid-option');
    expect(await code(() => bn.forwardTrain([1, 2, 3], { shape: [2, 2] }))).toBe('length-mismatch');
    expect(await code(() => bn.forwardTrain([1, 2, 3, 4], { shape: [2, 2], gamma: [1, 2, 3] }))).toBe('channel-mismatch');
    expect(await code(() => bn.backward([1, 2, 3, 4], [1, 2, 3, 4], { shape: [2, 2] }, { mean: [0, 0], invStd: [1, undefined] as never }))).toBe('invalid-option');
    expect(await code(() => bn.backward([1, 2, 3, 4], [1, 2, 3, 4], { shape: [2, 2] }, { mean: [0, 0], invStd: [1] }))).toBe('channel-mismatch');
    expect(await code(() => bn.forwardTrain([1, 2, 3, 4], { shape: [2, 2], gamma: [1, 2], beta: [0, 0] }))).toBe('accepted');
  });
});

describe("convention 'onnx'", () => {
  it('defaults eps 1e-5 and momentum 0.9; running = m·running + (1 − m)·batch, biased variance', async () => {
    const bn = await createBatchNorm({ backend: 'cpu' });
    const rng = createRng(caseSeed(seed, 'onnx'));
    const shape = [5, 3, 4];
    const x = normals(rng, 60, 1, 2);
    const running = { runningMean: Float32Array.of(0, 1, -1), runningVar: Float32Array.of(1, 2, 0.5) };
    const out = await bn.forwardTrain(x, { shape, layout: 'NCL', convention: 'onnx', ...running });
    const ref = referenceForwardTrain(x, { shape, layout: 'NCL', eps: 1e-5, momentum: 0.9, convention: 'onnx', activation: 'none', ...running });
    expectClose(out.y, ref.y, 'y');
    expectClose(out.runningMean, ref.runningMean!, 'runningMean');
    expectClose(out.runningVar, ref.runningVar!, 'runningVar');
    // Spelled out for channel 0: the biased variance, weighted 0.1.
    const values = Array.from({ length: 20 }, (_, k) => x[Math.floor(k / 4) * 12 + (k % 4)]);
    const mean = values.reduce((a, b) => a + b, 0) / 20;
    const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / 20;
    expect(out.runningVar[0]).toBeCloseTo(0.9 * 1 + 0.1 * variance, 6);
    expect(out.runningMean[0]).toBeCloseTo(0.1 * mean, 6);
    // Inference: eps 1e-5.
    const y = await bn.forwardInference(x, { shape, layout: 'NCL', convention: 'onnx', ...running });
    expectClose(y, referenceForwardInference(x, { shape, layout: 'NCL', eps: 1e-5, momentum: 0.9, convention: 'onnx', activation: 'none', ...running }), 'inference y');
  });

  it('a layer in the ONNX convention updates its running statistics so', () => {
    const layer = new CpuBatchNormLayer({ numFeatures: 2, layout: 'NC', convention: 'onnx' });
    expect(layer.options).toMatchObject({ eps: 1e-5, momentum: 0.9 });
    layer.forward(Float32Array.of(1, 10, 3, 10, 5, 10, 7, 10), [4, 2]);
    // Channel 0: mean 4, biased variance 5; channel 1: mean 10, variance 0.
    expect(Array.from(layer.runningMean!)).toEqual([Math.fround(0.4), Math.fround(1)]);
    expect(Array.from(layer.runningVar!)).toEqual([Math.fround(0.9 + 0.5), Math.fround(0.9)]);
  });
});

describe('eps 0 on data of non-zero variance', () => {
  it.each(['train', 'inference'] as const)('%s: 1 / sqrt(variance), against the reference', async (pass) => {
    const bn = await createBatchNorm({ backend: 'cpu' });
    const rng = createRng(caseSeed(seed, `eps 0 ${pass}`));
    const shape = [6, 5, 3, 3];
    const x = normals(rng, 270, 0.5, 1e-3);
    const running = { runningMean: normals(rng, 5, 0.5, 1e-3), runningVar: Float32Array.from(normals(rng, 5, 0, 1e-6), (v) => v * v) };
    const p = { shape, layout: 'NCHW' as const, eps: 0, momentum: 0.1, convention: 'pytorch' as const, activation: 'none' as const, ...running };
    if (pass === 'train') {
      const out = await bn.forwardTrain(x, p);
      const ref = referenceForwardTrain(x, p);
      expectClose(out.invStd, ref.invStd, 'invStd');
      expectClose(out.y, ref.y, 'y');
    } else {
      expectClose(await bn.forwardInference(x, p), referenceForwardInference(x, p), 'y');
    }
  });
});
