import { readdirSync, readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { describeGpu, useHarness } from '../support/browser';
import { onnxNormCase } from '../support/onnx-proto';
import { onnxNormShare } from '../support/onnx-norm-check';

/*
 * ONNX's own node tests of LayerNormalization, RMSNormalization, GroupNormalization and
 * InstanceNormalization (test/fixtures/onnx: ONNX's reference outputs) on the GPU kernels, through
 * the host-array API in ONNX's convention, within the bound of test/support/onnx-proto.ts
 * (onnxNormBound). The CPU path runs the same cases in test/node/norms-onnx-data.test.ts.
 */
const fixtures = new URL('../fixtures/onnx/', import.meta.url);
const read = (name: string, file: string) => new Uint8Array(readFileSync(new URL(`${name}/${file}`, fixtures)));
const names = readdirSync(fixtures).filter((n) => /^test_(layer_normalization|rms_normalization|group_normalization|instancenorm)_/.test(n));

describeGpu('ONNX backend test data: layer, RMS, group and instance normalization on the GPU', () => {
  const harness = useHarness();
  it('has all 42 cases', () => expect(names).toHaveLength(42));
  for (const name of names) {
    const c = onnxNormCase(name, read);
    it(`${name}: ${c.op} on the GPU kernels within the bound of ONNX's outputs`, async () => {
      const { out, backend, kernels } = await harness().call('onnxNormCase', c);
      expect([backend, kernels]).toEqual(['webgpu', true]);
      const worst = onnxNormShare(c, out);
      console.log(`${name}: largest error ${(100 * worst).toFixed(1)} % of the bound`);
      expect(worst).toBeLessThanOrEqual(1);
    });
  }
});
