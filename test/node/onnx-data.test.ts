import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createBatchNorm } from '../../src/index';
import { onnxBatchNormCases, onnxBatchNormNames, onnxErrorShare, readTensor } from '../support/onnx-proto';

/*
 * ONNX's own BatchNormalization test data (test/fixtures/onnx: models exported from PyTorch with
 * their inputs and PyTorch's outputs), run through the CPU path in ONNX's convention. The GPU side
 * runs the same cases in test/gpu/onnx-data.test.ts.
 */
const read = (name: string, file: string) => new Uint8Array(readFileSync(new URL(`../fixtures/onnx/${name}/${file}`, import.meta.url)));
const cases = onnxBatchNormCases(onnxBatchNormNames, read);

describe('ONNX backend test data: BatchNormalization (inference), CPU path', () => {
  it('reads every case: shapes, channels-first layouts, parameters per channel', () => {
    expect(cases.map((c) => `${c.name} ${c.layout} [${c.shape}]`)).toEqual([
      'test_BatchNorm1d_3d_input_eval NCL [4,5,3]',
      'test_BatchNorm2d_eval NCHW [2,3,6,6]',
      'test_BatchNorm2d_momentum_eval NCHW [2,3,6,6]',
      'test_BatchNorm3d_eval NCDHW [2,3,4,4,4]',
      'test_BatchNorm3d_momentum_eval NCDHW [2,3,4,4,4]',
    ]);
    // The epsilon attributes (float32): PyTorch's default 1e-5, and 1e-3 in the momentum cases.
    expect(cases.map((c) => c.eps)).toEqual([1e-5, 1e-5, 1e-3, 1e-5, 1e-3].map(Math.fround));
    for (const c of cases) {
      for (const p of [c.gamma, c.beta, c.runningMean, c.runningVar]) expect(p.length).toBe(c.shape[1]);
      // The data is not trivial: y differs from x (γ is random), and the expected outputs are finite.
      expect(c.expected.every(Number.isFinite)).toBe(true);
      expect(c.expected.some((v, i) => Math.abs(v - c.x[i]) > 1e-3)).toBe(true);
    }
  });

  it('the reader takes packed and unpacked dims and rejects data of the wrong length', () => {
    // TensorProto: dims 2 and 3 as two varints (field 1), then as one packed run; data_type 1; raw_data of 6 floats.
    const raw = new Uint8Array(new Float32Array([1, 2, 3, 4, 5, 6]).buffer);
    const tail = [0x10, 0x01, 0x4a, raw.length, ...raw];
    expect(readTensor(Uint8Array.from([0x08, 2, 0x08, 3, ...tail])).dims).toEqual([2, 3]);
    expect(readTensor(Uint8Array.from([0x0a, 2, 2, 3, ...tail])).data).toEqual(new Float32Array([1, 2, 3, 4, 5, 6]));
    expect(() => readTensor(Uint8Array.from([0x08, 7, ...tail]))).toThrow(/6 values for dims \[7\]/);
  });

  for (const c of cases) {
    it(`${c.name}: forwardInference, convention 'onnx', within the bound of PyTorch's outputs`, async () => {
      const bn = await createBatchNorm({ backend: 'cpu' });
      const y = await bn.forwardInference(c.x, { shape: c.shape, layout: c.layout, convention: 'onnx', eps: c.eps, gamma: c.gamma, beta: c.beta, runningMean: c.runningMean, runningVar: c.runningVar });
      const share = onnxErrorShare(c, y);
      console.log(`${c.name}: largest error ${(100 * share).toFixed(1)} % of the bound`);
      expect(share).toBeLessThanOrEqual(1);
      bn.dispose();
    });
  }
});
