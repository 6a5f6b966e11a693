import { describe, expect, expectTypeOf, it } from 'vitest';
import { BatchNormError, createBatchNorm, type InstanceNormRunningResult } from '../../src/index';
import { createRng, normals, seedFromEnv } from '../support/random';

// Instance norm's running statistics (PyTorch's track_running_stats) on the CPU path, against
// PyTorch's definition written out here: the mean over N of each instance's mean and unbiased
// variance, blended with momentum; training: false normalizes by the running statistics.

const seed = seedFromEnv();

/** Per instance (n, c) of x (N, C, S): mean and biased variance, float64. */
function instanceMoments(x: Float32Array, N: number, C: number, S: number) {
  const mean = new Float64Array(N * C);
  const variance = new Float64Array(N * C);
  for (let r = 0; r < N * C; r++) {
    let sum = 0;
    for (let s = 0; s < S; s++) sum += x[r * S + s];
    mean[r] = sum / S;
    let squares = 0;
    for (let s = 0; s < S; s++) squares += (x[r * S + s] - mean[r]) ** 2;
    variance[r] = squares / S;
  }
  return { mean, variance };
}

describe(`instance norm running statistics (TEST_SEED=${seed})`, () => {
  it('a hand-computed PyTorch step: momentum 0.1, unbiased variance, mean over the batch', async () => {
    const bn = await createBatchNorm({ backend: 'cpu' });
    // Instances [1, 2, 3] and [4, 6, 8]: means 2 and 6, unbiased variances 1 and 4.
    const out = await bn.norms.instanceNorm([1, 2, 3, 4, 6, 8], { shape: [2, 1, 3], runningMean: [0], runningVar: [1] });
    expectTypeOf(out).toEqualTypeOf<InstanceNormRunningResult>();
    expect(out.runningMean[0]).toBe(Math.fround(0.1 * 4));
    expect(out.runningVar[0]).toBe(Math.fround(0.9 + 0.1 * 2.5));
    // y is the training output, as without running statistics.
    expect(out.y).toEqual((await bn.norms.instanceNorm([1, 2, 3, 4, 6, 8], { shape: [2, 1, 3] })).y);
    bn.dispose();
  });

  it.each(['pytorch', 'keras', 'onnx'] as const)('random instances, convention %s, against the definition', async (convention) => {
    const bn = await createBatchNorm({ backend: 'cpu' });
    const rng = createRng(seed);
    const [N, C, H, W] = [3, 5, 4, 3];
    const S = H * W;
    const x = normals(rng, N * C * S, 1e3, 2);
    const runningMean = normals(rng, C, 1e3, 1);
    const runningVar = Float32Array.from(normals(rng, C), (v) => 1 + Math.abs(v));
    const copies = [x.slice(), runningMean.slice(), runningVar.slice()];
    const momentum = convention === 'pytorch' ? 0.25 : 0.8;
    const out = await bn.norms.instanceNorm(x, { shape: [N, C, H, W], runningMean, runningVar, momentum, convention });
    const { mean, variance } = instanceMoments(x, N, C, S);
    const [keep, take, factor] = convention === 'pytorch' ? [1 - momentum, momentum, S / (S - 1)] : [momentum, 1 - momentum, 1];
    for (let c = 0; c < C; c++) {
      let m = 0;
      let v = 0;
      for (let n = 0; n < N; n++) {
        m += mean[n * C + c] / N;
        v += (variance[n * C + c] * factor) / N;
      }
      // Float64 throughout, one rounding: within an ulp of the float64 value.
      expect(Math.abs(out.runningMean[c] - (keep * runningMean[c] + take * m))).toBeLessThanOrEqual(2 ** -23 * Math.abs(out.runningMean[c]));
      expect(Math.abs(out.runningVar[c] - (keep * runningVar[c] + take * v))).toBeLessThanOrEqual(2 ** -23 * Math.abs(out.runningVar[c]));
    }
    expect([x, runningMean, runningVar]).toEqual(copies);
    bn.dispose();
  });

  it('training: false normalizes each instance by its channel’s running statistics; the backward treats them as constants', async () => {
    const bn = await createBatchNorm({ backend: 'cpu' });
    const rng = createRng(seed + 1);
    const [N, C, S] = [2, 3, 7];
    const x = normals(rng, N * C * S, 0.5, 2);
    const gamma = normals(rng, C, 1, 0.3);
    const beta = normals(rng, C);
    const runningMean = normals(rng, C);
    const runningVar = Float32Array.from(normals(rng, C), (v) => 0.5 + Math.abs(v));
    const eps = 1e-3;
    const opts = { shape: [N, C, S], gamma, beta, runningMean, runningVar, training: false, eps };
    const out = await bn.norms.instanceNorm(x, opts);
    expect(out.runningMean).toEqual(runningMean);
    expect(out.runningVar).toEqual(runningVar);
    expect(out.runningMean).not.toBe(runningMean);
    for (let i = 0; i < x.length; i++) {
      const c = Math.floor(i / S) % C;
      const expected = ((x[i] - runningMean[c]) / Math.sqrt(runningVar[c] + eps)) * gamma[c] + beta[c];
      expect(Math.abs(out.y[i] - expected)).toBeLessThanOrEqual(2 ** -24 * Math.abs(expected) + 1e-12 + 2 ** -50 * (Math.abs(x[i] * gamma[c]) + Math.abs(beta[c])));
      expect(out.mean[Math.floor(i / S)]).toBe(runningMean[c]);
    }
    const dy = normals(rng, x.length);
    const grads = await bn.norms.instanceNormBackward(dy, x, opts, out);
    for (let i = 0; i < x.length; i++) {
      const c = Math.floor(i / S) % C;
      const expected = (dy[i] * gamma[c]) / Math.sqrt(runningVar[c] + eps);
      expect(Math.abs(grads.dx[i] - expected)).toBeLessThanOrEqual(2 ** -23 * Math.abs(expected));
    }
    // dγ, dβ as in training: Σ dy·x̂, Σ dy per channel.
    const dbeta = new Float64Array(C);
    for (let i = 0; i < x.length; i++) dbeta[Math.floor(i / S) % C] += dy[i];
    dbeta.forEach((v, c) => expect(Math.abs(grads.dbeta[c] - v)).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(v))));
    bn.dispose();
  });

  it('the training backward ignores the running statistics (they do not depend on x)', async () => {
    const bn = await createBatchNorm({ backend: 'cpu' });
    const rng = createRng(seed + 2);
    const x = normals(rng, 2 * 4 * 6);
    const dy = normals(rng, x.length);
    const plain = { shape: [2, 4, 6], activation: 'silu' as const };
    const withRunning = { ...plain, runningMean: new Float32Array(4), runningVar: new Float32Array(4).fill(1) };
    const saved = await bn.norms.instanceNorm(x, withRunning);
    expect(await bn.norms.instanceNormBackward(dy, x, withRunning, saved)).toEqual(await bn.norms.instanceNormBackward(dy, x, plain, saved));
    bn.dispose();
  });

  it('bad running statistics: a typed error, the caller’s arrays untouched', async () => {
    const bn = await createBatchNorm({ backend: 'cpu' });
    const x = new Float32Array(2 * 3 * 4).map((_, i) => Math.sin(i));
    const runningMean = new Float32Array(3).fill(0.5);
    const runningVar = new Float32Array(3).fill(2);
    const shape = [2, 3, 4];
    const code = async (opts: object) => {
      try {
        await bn.norms.instanceNorm(x, { shape, ...opts });
        return 'none';
      } catch (error) {
        expect(error).toBeInstanceOf(BatchNormError);
        return (error as BatchNormError).code;
      }
    };
    expect(await code({ runningMean })).toBe('missing-running-stats');
    expect(await code({ training: false })).toBe('missing-running-stats');
    expect(await code({ runningMean, runningVar: [1, 2] })).toBe('channel-mismatch');
    expect(await code({ runningMean, runningVar, momentum: 1.5 })).toBe('invalid-momentum');
    expect(await code({ momentum: 0.1 })).toBe('none'); // checked, and unused without running statistics
    expect(await code({ momentum: -1 })).toBe('invalid-momentum');
    expect(await code({ runningMean, runningVar, training: 'no' })).toBe('invalid-option');
    expect(await code({ runningMean, runningVar, residual: [1] })).toBe('length-mismatch');
    // One spatial element: PyTorch's unbiased variance divides by S − 1 = 0.
    expect(await bn.norms.instanceNorm([1, 2], { shape: [1, 2], runningMean: [0, 0], runningVar: [1, 1] }).catch((e: BatchNormError) => e.code)).toBe('invalid-shape');
    // Keras's biased variance needs no second element; inference none either.
    await expect(bn.norms.instanceNorm([1, 2], { shape: [1, 2], runningMean: [0, 0], runningVar: [1, 1], convention: 'keras' })).resolves.toBeDefined();
    await expect(bn.norms.instanceNorm([1, 2], { shape: [1, 2], runningMean: [0, 0], runningVar: [1, 1], training: false })).resolves.toBeDefined();
    expect(runningMean).toEqual(new Float32Array(3).fill(0.5));
    expect(runningVar).toEqual(new Float32Array(3).fill(2));
    bn.dispose();
  });

  it('checkFinite reads the running statistics', async () => {
    const bn = await createBatchNorm({ backend: 'cpu', checkFinite: true });
    await expect(bn.norms.instanceNorm([1, 2, 3, 4], { shape: [1, 2, 2], runningMean: [0, NaN], runningVar: [1, 1] })).rejects.toMatchObject({ code: 'non-finite' });
    bn.dispose();
  });
});
