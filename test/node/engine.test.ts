import { describe, expect, it } from 'vitest';
import { BatchNormError, createBatchNorm } from '../../src/index';

describe('createBatchNorm without WebGPU (Node)', () => {
  it("'auto' falls back to the CPU path", async () => {
    const bn = await createBatchNorm();
    expect(bn.backend).toBe('cpu');
    expect(bn.gpu).toBeUndefined();
    expect(bn.adapter).toBeUndefined();
    const out = await bn.forwardTrain(new Float32Array([1, 2, 3, 5]), { shape: [4, 1] });
    expect(Array.from(out.mean)).toEqual([2.75]);
    expect(out.variance[0]).toBeCloseTo(2.1875, 6);
  });

  it("'webgpu' fails clearly", async () => {
    const error = await createBatchNorm({ backend: 'webgpu' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BatchNormError);
    expect((error as BatchNormError).code).toBe('webgpu-unavailable');
  });

  it('a navigator.gpu-like object without adapters is reported too', async () => {
    const gpu = { requestAdapter: async () => null };
    const error = await createBatchNorm({ backend: 'webgpu', gpu }).catch((e: unknown) => e);
    expect((error as BatchNormError).code).toBe('webgpu-unavailable');
    expect((await createBatchNorm({ gpu })).backend).toBe('cpu');
  });

  it('rejects an unknown backend, a bad verify tolerance, and calls after dispose', async () => {
    await expect(createBatchNorm({ backend: 'tpu' as 'cpu' })).rejects.toMatchObject({ code: 'invalid-option' });
    await expect(createBatchNorm({ verify: { rtol: -1 } })).rejects.toMatchObject({ code: 'invalid-option' });
    const bn = await createBatchNorm({ backend: 'cpu' });
    bn.dispose();
    await expect(bn.forwardTrain(new Float32Array(4), { shape: [2, 2] })).rejects.toMatchObject({ code: 'disposed' });
  });
});
