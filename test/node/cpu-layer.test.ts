import { describe, expect, it } from 'vitest';
import { createBatchNorm, CpuBatchNormLayer } from '../../src/index';
import { createRng, normals, seedFromEnv } from '../support/random';
import { referenceForwardInference, referenceForwardTrain } from '../support/reference';

const seed = seedFromEnv();
const shape = [6, 4, 5];
const C = 4;

describe('CpuBatchNormLayer, the CPU twin of BatchNormLayer', () => {
  it.each([
    ['pytorch', 0.1],
    ['pytorch', null],
    ['keras', 0.99],
    ['onnx', 0.9],
  ] as const)('running statistics over 5 steps, %s momentum %s, against float64', (convention, momentum) => {
    const rng = createRng(seed);
    const layer = new CpuBatchNormLayer({ numFeatures: C, convention, momentum });
    let rm: ArrayLike<number> = new Float64Array(C);
    let rv: ArrayLike<number> = new Float64Array(C).fill(1);
    for (let step = 1; step <= 5; step++) {
      const x = normals(rng, 120, 3 * rng.normal(), 1 + rng.uniform());
      layer.forward(x, shape);
      const ref = referenceForwardTrain(x, { shape, eps: layer.options.eps, momentum: momentum ?? 1 / step, convention, activation: 'none', runningMean: rm, runningVar: rv });
      rm = ref.runningMean!;
      rv = ref.runningVar!;
      layer.runningMean!.forEach((v, c) => expect(Math.abs(v - rm[c])).toBeLessThan(1e-5));
      layer.runningVar!.forEach((v, c) => expect(Math.abs(v - rv[c]) / rv[c]).toBeLessThan(2e-5));
    }
    expect(layer.numBatchesTracked).toBe(5);
  });

  it('eval mode uses the running statistics; backward accumulates into the gradients like the engine', async () => {
    const rng = createRng(seed + 1);
    const layer = new CpuBatchNormLayer({ numFeatures: C, activation: 'relu' });
    const state = { weight: normals(rng, C, 1, 0.3), bias: normals(rng, C, 0, 0.3), running_mean: normals(rng, C), running_var: Float32Array.from(normals(rng, C), (v) => 0.5 + v * v), num_batches_tracked: 3 };
    layer.loadStateDict(state);
    const x = normals(rng, 120, 0.5, 2);
    const y = layer.eval().forward(x, shape);
    const ref = referenceForwardInference(x, { shape, gamma: state.weight, beta: state.bias, eps: 1e-5, momentum: 0.1, convention: 'pytorch', activation: 'relu', runningMean: state.running_mean, runningVar: state.running_var });
    y.forEach((v, i) => expect(Math.abs(v - ref[i])).toBeLessThan(1e-5 * (1 + Math.abs(ref[i]))));

    layer.train();
    const dy = normals(rng, 120);
    const out = layer.forward(x, shape);
    layer.zeroGrad();
    layer.backward(dy);
    layer.backward(dy);
    // The engine's backward on the same data gives the gradients; two backward passes add up.
    const bn = await createBatchNorm({ backend: 'cpu' });
    const opts = { shape, activation: 'relu' as const, gamma: state.weight, beta: state.bias };
    const saved = await bn.forwardTrain(x, opts);
    const grads = await bn.backward(dy, x, opts, saved);
    expect(Array.from(out)).toEqual(Array.from(saved.y));
    layer.weightGrad!.forEach((g, c) => expect(g).toBe(Math.fround(grads.dgamma[c] + grads.dgamma[c])));
    layer.biasGrad!.forEach((g, c) => expect(g).toBe(Math.fround(grads.dbeta[c] + grads.dbeta[c])));
    expect(layer.numBatchesTracked).toBe(4);
  });

  it('a residual: forward { residual } and backward { dz } give the engine\'s y, dx and dz exactly; dz is refused without one', async () => {
    const rng = createRng(seed + 2);
    const layer = new CpuBatchNormLayer({ numFeatures: C, activation: 'relu' });
    const x = normals(rng, 120, 1, 2);
    const z = normals(rng, 120);
    const dy = normals(rng, 120);
    const bn = await createBatchNorm({ backend: 'cpu' });
    const opts = { shape, activation: 'relu' as const, residual: z };
    const saved = await bn.forwardTrain(x, opts);
    const grads = await bn.backward(dy, x, opts, saved);
    const y = layer.forward(x, shape, { residual: z });
    expect(Array.from(y)).toEqual(Array.from(saved.y));
    // A dz of the wrong length is refused before anything changes.
    expect(() => layer.backward(dy, { dz: new Float32Array(119) })).toThrow(expect.objectContaining({ code: 'length-mismatch' }));
    expect(Array.from(layer.weightGrad!)).toEqual([0, 0, 0, 0]);
    const dz = new Float32Array(120).fill(NaN);
    const dx = layer.backward(dy, { dz });
    expect(Array.from(dx)).toEqual(Array.from(grads.dx));
    expect(Array.from(dz)).toEqual(Array.from(grads.dz));
    expect(dz.some((v, i) => v === 0 && dy[i] !== 0) && dz.some((v, i) => v === dy[i] && v !== 0)).toBe(true);
    layer.forward(x, shape);
    expect(() => layer.backward(dy, { dz })).toThrow(expect.objectContaining({ code: 'invalid-option' }));
    bn.dispose();
  });

  it('snapshots round-trip exactly; bad calls are refused before anything changes', () => {
    const layer = new CpuBatchNormLayer({ numFeatures: C });
    layer.forward(Float32Array.from({ length: 120 }, (_, i) => Math.sin(i)), shape);
    layer.backward(Float32Array.from({ length: 120 }, (_, i) => Math.cos(i)));
    const snapshot = layer.snapshot();
    const twin = CpuBatchNormLayer.fromSnapshot(layer.options, snapshot);
    expect(twin.snapshot()).toEqual(snapshot);
    expect(() => new CpuBatchNormLayer({ numFeatures: C }).backward(new Float32Array(120))).toThrow(expect.objectContaining({ code: 'invalid-option' }));
    expect(() => layer.forward(new Float32Array(120), [6, 5, 4])).toThrow(expect.objectContaining({ code: 'channel-mismatch' }));
    expect(() => layer.loadGradients({ weight: new Float32Array(C + 1) })).toThrow(expect.objectContaining({ code: 'channel-mismatch' }));
    expect(() => layer.train('no' as never)).toThrow(expect.objectContaining({ code: 'invalid-option' }));
    expect(layer.snapshot()).toEqual(snapshot);
  });
});
