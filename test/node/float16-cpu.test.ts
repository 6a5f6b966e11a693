import { afterAll, describe, expect, it } from 'vitest';
import { BatchNormError, createBatchNorm, decodeFloat16, encodeFloat16Bits, layouts, type Layout } from '../../src/index';
import { inferenceChecks, trainChecks } from '../support/forward-checks';
import { cpuMatrixShapes } from '../support/odd-shapes';
import { caseSeed, channelNormals, createRng, normals, seedFromEnv } from '../support/random';
import type { ReferenceParams } from '../support/reference';
import { referenceBackward } from '../support/reference-backward';
import { backwardTolerances, CPU_BACKWARD_TERMS } from '../support/backward-tolerances';
import { CPU_STATISTICS_TERMS, F16_CPU, float16Output } from '../support/tolerances';
import { checkClose } from '../support/compare';
import { splitShape } from '../support/channel-index';

// Replay a failure with TEST_SEED=<printed seed>.
const seed = seedFromEnv();
console.log(`float16-cpu: TEST_SEED=${seed}`);

/*
 * dtype 'float16' on the CPU path (backend 'cpu', and every engine whose GPU lacks shader-f16):
 * float16 inputs decoded, the same float64/float32 math as for float32, tensor outputs rounded to
 * float16 to nearest even. So each result is (1) bit for bit the float32 call's on the decoded
 * inputs, rounded by the library's converter, and (2) within the CPU bound of the float64 reference
 * plus half a float16 ulp (F16_CPU).
 */
const bnPromise = createBatchNorm({ backend: 'cpu' });
afterAll(async () => (await bnPromise).dispose());

function inputs(name: string, shape: number[], layout: Layout, mean = 0, std = 1) {
  const rng = createRng(caseSeed(seed, name));
  const { channels } = splitShape(shape, layout);
  const means = Array.from({ length: channels }, () => mean + (mean === 0 ? rng.normal() : rng.uniform() - 0.5));
  const stds = Array.from({ length: channels }, () => std * (0.5 + rng.uniform()));
  const x = encodeFloat16Bits(channelNormals(rng, shape, layout, means, stds));
  const dy = encodeFloat16Bits(normals(rng, x.length, 0, 1));
  const residual = encodeFloat16Bits(normals(rng, x.length, 0, 1));
  const gamma = normals(rng, channels, 1, 0.5);
  const beta = normals(rng, channels, 0, 0.5);
  const runningMean = Float32Array.from(means);
  const runningVar = Float32Array.from(stds, (s) => s * s);
  return { x, dy, residual, gamma, beta, runningMean, runningVar };
}

const params = (shape: number[], layout: Layout, o: Omit<ReferenceParams, 'shape' | 'layout' | 'eps' | 'momentum' | 'convention'>): ReferenceParams => ({ shape, layout, eps: 1e-5, momentum: 0.1, convention: 'pytorch', ...o });
const bitsEqual = (a: ArrayLike<number>, b: ArrayLike<number>) => a.length === b.length && Array.from(a).every((v, i) => v === b[i]);

describe('float16 on the CPU path: every layout × activation, against float32 on the decoded inputs and the float64 reference', () => {
  for (const layout of layouts) {
    for (const activation of ['none', 'relu'] as const) {
      const shape = cpuMatrixShapes[layout];
      it(`${layout} [${shape}] ${activation}: forwardTrain, forwardInference, backward (with a residual)`, async () => {
        const bn = await bnPromise;
        const name = `${layout} ${activation}`;
        const { x, dy, residual, gamma, beta, runningMean, runningVar } = inputs(name, shape, layout);
        const xs = decodeFloat16(x);
        const zs = decodeFloat16(residual);
        const base = { shape, layout, activation, gamma, beta };
        const train16 = await bn.forwardTrain(x, { ...base, runningMean, runningVar, residual, dtype: 'float16' });
        const train32 = await bn.forwardTrain(xs, { ...base, runningMean, runningVar, residual: zs });
        expect(train16.y).toBeInstanceOf(Uint16Array);
        expect(bitsEqual(train16.y, encodeFloat16Bits(train32.y))).toBe(true);
        expect(train16.mean).toEqual(train32.mean);
        expect(train16.invStd).toEqual(train32.invStd);
        expect(train16.runningVar).toEqual(train32.runningVar);
        const p = params(shape, layout, { gamma, beta, activation, runningMean, runningVar, residual: zs });
        const y = decodeFloat16(train16.y);
        for (const c of trainChecks(xs, p, { ...train16, y }, 'cpu', CPU_STATISTICS_TERMS, F16_CPU)) expect(c.failure).toBeNull();

        const inference16 = await bn.forwardInference(x, { ...base, runningMean, runningVar, residual, dtype: 'float16' });
        expect(bitsEqual(inference16, encodeFloat16Bits(await bn.forwardInference(xs, { ...base, runningMean, runningVar, residual: zs })))).toBe(true);
        for (const c of inferenceChecks(xs, p, decodeFloat16(inference16), 'cpu', F16_CPU)) expect(c.failure).toBeNull();

        const saved = { mean: train16.mean, invStd: train16.invStd, y: train16.y };
        const back16 = await bn.backward(dy, x, { ...base, residual: true, dtype: 'float16' }, saved);
        const back32 = await bn.backward(decodeFloat16(dy), xs, { ...base, residual: true }, { ...saved, y });
        expect(back16.dx).toBeInstanceOf(Uint16Array);
        expect(bitsEqual(back16.dx, encodeFloat16Bits(back32.dx))).toBe(true);
        expect(bitsEqual(back16.dz!, encodeFloat16Bits(back32.dz!))).toBe(true);
        expect(back16.dgamma).toEqual(back32.dgamma);
        const ref = referenceBackward(xs, decodeFloat16(dy), p, { mode: 'train', stats: saved, y });
        const tol = backwardTolerances(xs, decodeFloat16(dy), p, ref, 'train', { terms: CPU_BACKWARD_TERMS });
        expect(checkClose(decodeFloat16(back16.dx), ref.dx, float16Output(tol.dx, ref.dx, F16_CPU), 'dx')).toBeUndefined();
        // dz is dy or +0: float16 values already, so exactly the reference's masked dy.
        expect(checkClose(decodeFloat16(back16.dz!), ref.g, () => 0, 'dz')).toBeUndefined();
      });
    }
  }

  it('large means (1000 ± 4), an odd count, and channelStatistics', async () => {
    const bn = await bnPromise;
    const shape = [37, 3, 7];
    const { x, gamma, beta } = inputs('large', shape, 'NCL', 1000, 4);
    expect(x.length % 2).toBe(1);
    const xs = decodeFloat16(x);
    const result = await bn.forwardTrain(x, { shape, layout: 'NCL', gamma, beta, dtype: 'float16' });
    const p = params(shape, 'NCL', { gamma, beta, activation: 'none' });
    for (const c of trainChecks(xs, p, { ...result, y: decodeFloat16(result.y) }, 'cpu', CPU_STATISTICS_TERMS, F16_CPU)) expect(c.failure).toBeNull();
    const stats = await bn.channelStatistics(x, { shape, layout: 'NCL', dtype: 'float16' });
    expect(stats.mean).toEqual((await bn.channelStatistics(xs, { shape, layout: 'NCL' })).mean);
  });

  it('refuses what is not a float16 array, a wrong length and an unknown dtype, before any work', async () => {
    const bn = await bnPromise;
    const shape = [3, 2];
    const code = async (call: () => Promise<unknown>) => {
      try {
        await call();
      } catch (error) {
        return error instanceof BatchNormError ? error.code : String(error);
      }
      return 'no error';
    };
    expect(await code(() => bn.forwardTrain(new Float32Array(6) as unknown as Uint16Array, { shape, dtype: 'float16' }))).toBe('invalid-option');
    expect(await code(() => bn.forwardTrain(new Uint16Array(6) as unknown as Float32Array, { shape }))).toBe('invalid-option');
    expect(await code(() => bn.forwardTrain(new Uint16Array(5), { shape, dtype: 'float16' }))).toBe('length-mismatch');
    expect(await code(() => bn.forwardTrain(new Uint16Array(6), { shape, dtype: 'bfloat16' as 'float16' }))).toBe('invalid-option');
    expect(await code(() => bn.forwardTrain(new Uint16Array(6), { shape, dtype: 'float16', residual: new Float32Array(6) as unknown as Uint16Array }))).toBe('invalid-option');
    expect(await code(() => bn.backward(new Uint16Array(6), new Uint16Array(6), { shape, activation: 'relu', dtype: 'float16' }, { mean: [0, 0], invStd: [1, 1], y: new Float32Array(6) as unknown as Uint16Array }))).toBe('invalid-option');
  });

  it('returns float16 ±Inf where a result overflows float16 and keeps NaN', async () => {
    const bn = await bnPromise;
    const x = encodeFloat16Bits([0, 1, NaN, 3]);
    // γ = 1e5 scales y past float16's 65504.
    const y = await bn.forwardInference(x, { shape: [4, 1], gamma: [1e5], runningMean: [0], runningVar: [1], eps: 0, dtype: 'float16' });
    expect(Array.from(y).map((b) => b.toString(16))).toEqual(['0', '7c00', encodeFloat16Bits([NaN])[0].toString(16), '7c00']);
  });
});
