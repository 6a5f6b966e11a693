import type { NormForwardResult } from '../../src/norms/norm-types';
import { onnxNormBound, type OnnxNormCase } from './onnx-proto';

/*
 * ONNX's node tests of LayerNormalization, RMSNormalization, GroupNormalization and
 * InstanceNormalization (test/fixtures/onnx) in our terms: the options a case maps to (ONNX's
 * attributes as they are: axis, epsilon; its inputs as γ and β), and the check of our outputs
 * against ONNX's: Y, and Mean and InvStdDev where the model outputs them, within onnxNormBound.
 * Browser-safe: the GPU harness page runs the calls, the tests check here.
 */

const product = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);

/** The bn.norms call of a case, as { op, x, options }. */
export function onnxNormCall(c: OnnxNormCase): { method: 'layerNorm' | 'rmsNorm' | 'groupNorm' | 'instanceNorm'; options: Record<string, unknown> } {
  const common = { shape: c.shape, convention: 'onnx' as const, eps: c.epsilon, gamma: c.scale.data };
  switch (c.op) {
    case 'LayerNormalization':
      return { method: 'layerNorm', options: { ...common, axis: c.axis, beta: c.bias!.data } };
    case 'RMSNormalization':
      return { method: 'rmsNorm', options: { ...common, axis: c.axis } };
    case 'GroupNormalization':
      return { method: 'groupNorm', options: { ...common, groups: c.numGroups!, beta: c.bias!.data } };
    case 'InstanceNormalization':
      return { method: 'instanceNorm', options: { ...common, beta: c.bias!.data } };
  }
}

/** Rows of D contiguous values: layer / RMS from the axis on, group and instance per (sample, group). */
function rowLength(c: OnnxNormCase): number {
  if (c.op === 'LayerNormalization' || c.op === 'RMSNormalization') return product(c.shape.slice(c.axis < 0 ? c.axis + c.shape.length : c.axis));
  const groups = c.op === 'GroupNormalization' ? c.numGroups! : c.shape[1];
  return product(c.shape.slice(1)) / groups;
}

/**
 * The largest share of the bound any output used (≤ 1 passes); throws naming the first output out
 * of it.
 */
export function onnxNormShare(c: OnnxNormCase, ours: Pick<NormForwardResult, 'y' | 'mean' | 'invStd'>): number {
  const D = rowLength(c);
  const rows = c.x.length / D;
  const rms = c.op === 'RMSNormalization';
  const perParam = c.op === 'GroupNormalization' || c.op === 'InstanceNormalization';
  const paramOf = (i: number) => (perParam ? Math.floor(i / product(c.shape.slice(2))) % c.shape[1] : i % D);
  let worst = 0;
  const share = (name: string, i: number, actual: number, expected: number, bound: number) => {
    const s = Math.abs(actual - expected) <= bound ? Math.abs(actual - expected) / bound : Infinity;
    if (s === Infinity) throw new Error(`${c.name}: ${name}[${i}] = ${actual}, ONNX ${expected}, bound ${bound}`);
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
  return worst;
}
