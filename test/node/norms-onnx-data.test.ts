import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createBatchNorm, type NormForwardResult } from '../../src/index';
import { onnxNormCase, type OnnxNormCase } from '../support/onnx-proto';
import { onnxNormCall, onnxNormShare } from '../support/onnx-norm-check';

/*
 * ONNX's own node tests of LayerNormalization, RMSNormalization, GroupNormalization and
 * InstanceNormalization (test/fixtures/onnx, see its README), run through the CPU path in ONNX's
 * convention: Y, and Mean and InvStdDev where the model outputs them, within onnxNormBound.
 */
const fixtures = new URL('../fixtures/onnx/', import.meta.url);
const read = (name: string, file: string) => new Uint8Array(readFileSync(new URL(`${name}/${file}`, fixtures)));
const names = readdirSync(fixtures).filter((n) => /^test_(layer_normalization|rms_normalization|group_normalization|instancenorm)_/.test(n));
const cases = names.map((name) => onnxNormCase(name, read));

/** The case on the CPU path. */
async function run(c: OnnxNormCase): Promise<NormForwardResult> {
  const bn = await createBatchNorm({ backend: 'cpu' });
  const { method, options } = onnxNormCall(c);
  return (bn.norms[method] as (x: Float32Array, o: unknown) => Promise<NormForwardResult>)(c.x, options);
}

describe('ONNX backend test data: layer, RMS, group and instance normalization, CPU path', () => {
  it('reads all 42 cases with their attributes; group norm is opset 21 (scale and bias per channel)', () => {
    expect(names).toHaveLength(42);
    const count = (op: string) => cases.filter((c) => c.op === op).length;
    expect([count('LayerNormalization'), count('RMSNormalization'), count('GroupNormalization'), count('InstanceNormalization')]).toEqual([19, 19, 2, 2]);
    const layer = cases.filter((c) => c.op === 'LayerNormalization');
    expect(layer.map((c) => c.axis).sort()).toEqual([-1, -1, -1, -1, -2, -2, -2, -3, -3, -4, 0, 0, 0, 1, 1, 1, 2, 2, 3]);
    expect(new Set(cases.map((c) => c.epsilon))).toEqual(new Set([1e-5, Math.fround(0.1), Math.fround(0.01)]));
    expect(cases.every((c) => c.stashType === 1)).toBe(true);
    for (const c of cases) {
      if (c.op === 'LayerNormalization') expect(c.expected.mean && c.expected.invStdDev).toBeTruthy();
      if (c.op === 'GroupNormalization') {
        // Opset 18 had a scale and bias per group; opset 21 made them per channel, as PyTorch's.
        expect(c.opset).toBeGreaterThanOrEqual(21);
        expect(c.scale.dims).toEqual([c.shape[1]]);
        expect(c.numGroups).toBe(2);
      }
    }
  });

  for (const c of cases) {
    it(`${c.name}: ${c.op} (opset ${c.opset}) within the bound`, async () => {
      const worst = onnxNormShare(c, await run(c));
      console.log(`${c.name}: largest error ${(100 * worst).toFixed(1)} % of the bound`);
      expect(worst).toBeLessThanOrEqual(1);
    });
  }
});
