import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createBatchNorm, type NormForwardResult } from '../../src/index';
import { onnxNormBound, onnxNormCase, type OnnxNormCase } from '../support/onnx-proto';

/*
 * ONNX's own node tests of LayerNormalization, RMSNormalization, GroupNormalization and
 * InstanceNormalization (test/fixtures/onnx, see its README), run through the CPU path in ONNX's
 * convention: Y, and Mean and InvStdDev where the model outputs them, within onnxNormBound.
 */
const fixtures = new URL('../fixtures/onnx/', import.meta.url);
const read = (name: string, file: string) => new Uint8Array(readFileSync(new URL(`${name}/${file}`, fixtures)));
const names = readdirSync(fixtures).filter((n) => /^test_(layer_normalization|rms_normalization|group_normalization|instancenorm)_/.test(n));
const cases = names.map((name) => onnxNormCase(name, read));
const product = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);

/** Our options for a case: ONNX's attributes as they are (axis, epsilon), the inputs as γ and β. */
function run(c: OnnxNormCase): Promise<NormForwardResult> {
  return createBatchNorm({ backend: 'cpu' }).then((bn) => {
    const common = { shape: c.shape, convention: 'onnx' as const, eps: c.epsilon, gamma: c.scale.data };
    switch (c.op) {
      case 'LayerNormalization':
        return bn.norms.layerNorm(c.x, { ...common, axis: c.axis, beta: c.bias!.data });
      case 'RMSNormalization':
        return bn.norms.rmsNorm(c.x, { ...common, axis: c.axis });
      case 'GroupNormalization':
        return bn.norms.groupNorm(c.x, { ...common, groups: c.numGroups!, beta: c.bias!.data });
      case 'InstanceNormalization':
        return bn.norms.instanceNorm(c.x, { ...common, beta: c.bias!.data });
    }
  });
}

/** Rows of D contiguous values: layer / RMS from the axis on, group and instance per (sample, group). */
function rowLength(c: OnnxNormCase): number {
  if (c.op === 'LayerNormalization' || c.op === 'RMSNormalization') return product(c.shape.slice(c.axis < 0 ? c.axis + c.shape.length : c.axis));
  const groups = c.op === 'GroupNormalization' ? c.numGroups! : c.shape[1];
  return product(c.shape.slice(1)) / groups;
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
      const ours = await run(c);
      const D = rowLength(c);
      const rows = c.x.length / D;
      const rms = c.op === 'RMSNormalization';
      const perParam = c.op === 'GroupNormalization' || c.op === 'InstanceNormalization';
      const paramOf = (i: number) => (perParam ? Math.floor(i / product(c.shape.slice(2))) % c.shape[1] : i % D);
      let worst = 0;
      const share = (name: string, i: number, actual: number, expected: number, bound: number) => {
        const s = Math.abs(actual - expected) <= bound ? Math.abs(actual - expected) / bound : Infinity;
        if (s === Infinity) throw new Error(`${name}[${i}] = ${actual}, ONNX ${expected}, bound ${bound}`);
        worst = Math.max(worst, s);
      };
      for (let r = 0; r < rows; r++) {
        const row = c.x.subarray(r * D, (r + 1) * D);
        const mean = rms ? 0 : row.reduce((a, v) => a + v, 0) / D;
        const variance = row.reduce((a, v) => a + (v - mean) ** 2, 0) / D;
        const maxAbs = row.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
        const maxDev = row.reduce((a, v) => Math.max(a, Math.abs(v - mean)), 0);
        const gain = 1 + maxDev ** 2 / (variance + c.epsilon);
        const invStd = 1 / Math.sqrt(variance + c.epsilon);
        for (let j = 0; j < D; j++) {
          const i = r * D + j;
          const p = paramOf(i);
          const magnitude = Math.abs(c.scale.data[p] * invStd) * (Math.abs(c.x[i]) + Math.abs(mean)) + Math.abs(c.bias ? c.bias.data[p] : 0);
          share('Y', i, ours.y[i], c.expected.y[i], onnxNormBound(D, magnitude, gain));
        }
        if (c.expected.mean) share('Mean', r, ours.mean![r], c.expected.mean[r], onnxNormBound(D, maxAbs, 1));
        if (c.expected.invStdDev) share('InvStdDev', r, ours.invStd[r], c.expected.invStdDev[r], onnxNormBound(D, invStd, gain));
      }
      console.log(`${c.name}: largest error ${(100 * worst).toFixed(1)} % of the bound`);
      expect(worst).toBeLessThanOrEqual(1);
    });
  }
});
