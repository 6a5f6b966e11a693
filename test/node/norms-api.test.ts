import { describe, expect, expectTypeOf, it } from 'vitest';
import { BatchNormError, createBatchNorm, type NormGradients, type RmsNormForwardResult } from '../../src/index';
import { cpuNormBackward, cpuNormForward } from '../../src/norms/cpu-norms';
import { createNormFamily, type NormEngineHooks } from '../../src/norms/norm-api';
import { checkNormSaved, resolveNormBackwardOptions, resolveNormOptions } from '../../src/norms/norm-options';
import type { NormKernels } from '../../src/norms/norm-types';
import { defaultVerifyTolerance } from '../../src/verify';
import { createRng, normals, seedFromEnv } from '../support/random';

// bn.norms, the host-array API: the CPU path through the engine, the result types, checkFinite, and
// (with stand-in kernels) the GPU dispatch, verify mode and the CPU redo after device loss.

const seed = seedFromEnv();

describe(`bn.norms on the CPU path (TEST_SEED=${seed})`, () => {
  it('each op returns the CPU path’s result, typed per op', async () => {
    const bn = await createBatchNorm({ backend: 'cpu' });
    const rng = createRng(seed);
    const x = normals(rng, 2 * 6 * 5);
    const dy = normals(rng, x.length);
    const layer = await bn.norms.layerNorm(x, { shape: [2, 6, 5], activation: 'gelu' });
    expect(layer).toEqual(cpuNormForward(x, resolveNormOptions('layer', { shape: [2, 6, 5], activation: 'gelu' })));
    expect(layer.mean).toHaveLength(12);
    const rms = await bn.norms.rmsNorm(x, { shape: [2, 6, 5], normalizedShape: [6, 5] });
    expectTypeOf(rms).toEqualTypeOf<RmsNormForwardResult>();
    expect(rms).not.toHaveProperty('mean');
    expect(rms.invStd).toHaveLength(2);
    const group = await bn.norms.groupNorm(x, { shape: [2, 6, 5], groups: 3, activation: 'silu' });
    expect(group.mean).toHaveLength(6);
    const instance = await bn.norms.instanceNorm(x, { shape: [2, 6, 5] });
    expect(instance.invStd).toHaveLength(12);

    const opts = { shape: [2, 6, 5], groups: 3, activation: 'silu' as const };
    const grads = await bn.norms.groupNormBackward(dy, x, opts, group);
    expectTypeOf(grads).toEqualTypeOf<NormGradients>();
    const resolved = resolveNormBackwardOptions('group', opts);
    expect(grads).toEqual(cpuNormBackward(dy, x, resolved, checkNormSaved(group, resolved)));
    expect(grads.dgamma).toHaveLength(6);
    expect(grads.dbeta).toHaveLength(6);
    const z = normals(rng, x.length);
    const withZ = await bn.norms.layerNorm(x, { shape: [2, 6, 5], activation: 'relu', residual: z });
    const residualGrads = await bn.norms.layerNormBackward(dy, x, { shape: [2, 6, 5], activation: 'relu', residual: true }, withZ);
    expectTypeOf(residualGrads.dz).toEqualTypeOf<Float32Array>();
    expect(residualGrads.dz).toEqual(dy.map((d, i) => (withZ.y[i] > 0 ? d : 0)));
    const rmsGrads = await bn.norms.rmsNormBackward(dy, x, { shape: [2, 6, 5], normalizedShape: [6, 5] }, rms);
    expect(rmsGrads).not.toHaveProperty('dbeta');
    expect(rmsGrads.dgamma).toHaveLength(30);
    bn.dispose();
  });

  it('a row of one value gives y = β (variance 0), as PyTorch', async () => {
    const bn = await createBatchNorm({ backend: 'cpu' });
    const { y, mean, invStd } = await bn.norms.layerNorm([3, -7], { shape: [2, 1], beta: [0.25] });
    expect(y).toEqual(new Float32Array([0.25, 0.25]));
    expect(mean).toEqual(new Float32Array([3, -7]));
    expect(invStd).toEqual(Float32Array.from([1 / Math.sqrt(1e-5), 1 / Math.sqrt(1e-5)]));
    bn.dispose();
  });

  it('relu: the CPU path gives +0 for non-positive values and keeps NaN; a NaN row is NaN throughout', async () => {
    const bn = await createBatchNorm({ backend: 'cpu' });
    const { y, mean, invStd } = await bn.norms.layerNorm([1, 2, 3, NaN, 0, 1], { shape: [2, 3], activation: 'relu' });
    expect(Object.is(y[0], 0)).toBe(true);
    expect(y[2]).toBeGreaterThan(0);
    expect([y[3], y[4], y[5], mean[1], invStd[1]].every(Number.isNaN)).toBe(true);
    // Squares beyond float32's range, where a GPU's float32 sums overflow: NaN, as batch norm.
    const big = await bn.norms.rmsNorm([3e19, 3e19], { shape: [2] });
    expect(Number.isNaN(big.invStd[0])).toBe(true);
    bn.dispose();
  });

  it('checkFinite refuses NaN and ±Inf in inputs and results, naming the element', async () => {
    const bn = await createBatchNorm({ backend: 'cpu', checkFinite: true });
    await expect(bn.norms.layerNorm([1, Infinity, 3], { shape: [3] })).rejects.toThrow(/layerNorm: x\[1\] is Infinity in the input/);
    await expect(bn.norms.groupNorm([1, 2, 3, 4], { shape: [1, 4], groups: 2, gamma: [1, NaN, 1, 1] })).rejects.toThrow(/gamma\[1\] is NaN/);
    await expect(bn.norms.rmsNormBackward([1, 2], [1, 2], { shape: [2] }, { invStd: [NaN] })).rejects.toThrow(/saved.invStd\[0\] is NaN/);
    await expect(bn.norms.rmsNorm([1e30, 1e30], { shape: [2] })).rejects.toMatchObject({ code: 'non-finite' });
    bn.dispose();
  });
});

describe('bn.norms with GPU kernels (stand-ins)', () => {
  const x = Float32Array.from([1, 2, 4, 8, 3, 3.5]);
  const dy = Float32Array.from([0.5, -1, 2, 0.25, 1, -2]);
  const opts = { shape: [2, 3] };
  const cpu = cpuNormForward(x, resolveNormOptions('layer', opts));

  function family(kernels: Partial<NormKernels> | undefined, verify = true, lost = false) {
    const calls: string[] = [];
    const hooks: NormEngineHooks = {
      checkLive: () => {},
      // As the engine's onGpu: undefined without kernels, or when the device was lost during the call.
      onGpu: async (work) => {
        if (!kernels) return undefined;
        try {
          return await work(kernels as NormKernels);
        } catch (error) {
          if (lost) return undefined;
          throw error;
        }
      },
      tolerance: verify ? defaultVerifyTolerance : undefined,
      checkFinite: false,
    };
    const wrapped: Partial<NormKernels> | undefined = kernels && {
      forwardOf: async (input, resolved) => {
        calls.push(`forward ${resolved.kind}`);
        return kernels.forwardOf!(input, resolved);
      },
      backwardOf: async (...args) => {
        calls.push(`backward ${args[2].kind}`);
        return kernels.backwardOf!(...args);
      },
    };
    hooks.onGpu = ((base) => (work) => base((k) => work({ ...k, ...wrapped } as NormKernels)))(hooks.onGpu);
    return { norms: createNormFamily(hooks), calls };
  }

  it('runs on the kernels when present and returns their result, verified against the CPU path', async () => {
    const gpuY = cpu.y.map((v) => v * (1 + 2 ** -22)); // within verify's tolerance
    const { norms, calls } = family({ forwardOf: async () => ({ ...cpu, y: gpuY }), backwardOf: async (d, input, o, s) => cpuNormBackward(d, input, o, s) });
    expect((await norms.layerNorm(x, opts)).y).toBe(gpuY);
    await norms.layerNormBackward(dy, x, opts, cpu);
    expect(calls).toEqual(['forward layer', 'backward layer']);
  });

  it('verify mode throws verification-failed naming the output when the kernels are wrong', async () => {
    const badY = cpu.y.slice();
    badY[4] += 0.01;
    const { norms } = family({ forwardOf: async () => ({ ...cpu, y: badY }) });
    await expect(norms.layerNorm(x, opts)).rejects.toThrow(/y\[4\]/);
    const grads = cpuNormBackward(dy, x, resolveNormBackwardOptions('layer', opts), checkNormSaved(cpu, resolveNormBackwardOptions('layer', opts)));
    const wrong = { ...grads, dgamma: grads.dgamma.map((v) => v + 0.1) };
    const second = family({ backwardOf: async () => wrong });
    await expect(second.norms.layerNormBackward(dy, x, opts, cpu)).rejects.toMatchObject({ code: 'verification-failed', message: expect.stringMatching(/dgamma/) });
    // Without verify the kernels' result is returned as it is.
    const off = family({ forwardOf: async () => ({ ...cpu, y: badY }) }, false);
    expect((await off.norms.layerNorm(x, opts)).y).toBe(badY);
  });

  it('no kernels, or a device lost during the call: the CPU path answers', async () => {
    expect(await family(undefined).norms.layerNorm(x, opts)).toEqual(cpu);
    const failing = family({ forwardOf: async () => Promise.reject(new Error('lost')) }, false, true);
    expect(await failing.norms.layerNorm(x, opts)).toEqual(cpu);
    const broken = family({ forwardOf: async () => Promise.reject(new BatchNormError('gpu-error', 'validation')) }, false, false);
    await expect(broken.norms.layerNorm(x, opts)).rejects.toMatchObject({ code: 'gpu-error' });
  });

  it('kernels that cannot run a backward on this device (undefined): the CPU path answers', async () => {
    const resolved = resolveNormBackwardOptions('layer', opts);
    const expected = cpuNormBackward(dy, x, resolved, checkNormSaved(cpu, resolved));
    const { norms, calls } = family({ backwardOf: async () => undefined });
    expect(await norms.layerNormBackward(dy, x, opts, cpu)).toEqual(expected);
    expect(calls).toEqual(['backward layer']);
  });
});
