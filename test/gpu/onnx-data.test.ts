import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { describeGpu, useHarness } from '../support/browser';
import { onnxBatchNormCases, onnxBatchNormNames, onnxErrorShare } from '../support/onnx-proto';

/*
 * ONNX's own BatchNormalization test data (test/fixtures/onnx: models exported from PyTorch with
 * PyTorch's outputs) on the GPU, in ONNX's convention: the GPU-resident API into a poisoned y, and
 * the host-array API; both within the bound of test/support/onnx-proto.ts (onnxErrorShare). The
 * CPU path runs the same cases in test/node/onnx-data.test.ts.
 */
const read = (name: string, file: string) => new Uint8Array(readFileSync(new URL(`../fixtures/onnx/${name}/${file}`, import.meta.url)));

describeGpu('ONNX backend test data: BatchNormalization (inference) on the GPU', () => {
  const harness = useHarness();
  for (const c of onnxBatchNormCases(onnxBatchNormNames, read)) {
    it(`${c.name}: GPU-resident and host-array inference within the bound of PyTorch's outputs`, async () => {
      const { resident, host, backend } = await harness().call('onnxDataCase', c);
      expect(backend).toBe('webgpu');
      const shares = [onnxErrorShare(c, resident), onnxErrorShare(c, host)];
      console.log(`${c.name}: largest error ${shares.map((s) => `${(100 * s).toFixed(1)} %`).join(' (resident), ')} (host) of the bound`);
      for (const share of shares) expect(share).toBeLessThanOrEqual(1);
    });
  }
});
