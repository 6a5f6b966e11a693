import { describe, expect, it } from 'vitest';
import { cpuNormBackward, cpuNormForward } from '../../src/norms/cpu-norms';
import { checkNormSaved, resolveNormBackwardOptions, resolveNormOptions } from '../../src/norms/norm-options';
import type { AnyNormOptions, NormActivation, NormKind } from '../../src/norms/norm-types';
import { referenceNormBackward, referenceNormForward, referenceRowOf, type ReferenceNormParams, type ReferenceNormView } from '../support/norm-reference';
import { createRng, normals, seedFromEnv } from '../support/random';
import { backwardBounds, forwardBounds, worstShare, type Bound } from '../support/norm-cpu-tolerance';

/*
 * The CPU path of layer, RMS, group and instance norm against the float64 reference, forward and
 * backward, for every activation with and without a residual, on odd shapes and large means, within
 * the error bound of test/support/norm-cpu-tolerance.ts. Fresh inputs every run (TEST_SEED replays).
 */

interface Case {
  kind: NormKind;
  shape: number[];
  /** The options that select the rows (normalizedShape / axis / groups / layout). */
  select: Partial<AnyNormOptions> & Record<string, unknown>;
  view: ReferenceNormView;
  label: string;
  mean?: number;
}

const layerCases = (kind: 'layer' | 'rms'): Case[] => [
  { kind, shape: [5, 1], select: {}, view: { outer: 5, params: 1, inner: 1, groups: 1 }, label: 'D = 1' },
  { kind, shape: [1, 7], select: {}, view: { outer: 1, params: 7, inner: 1, groups: 1 }, label: 'rows = 1' },
  { kind, shape: [13], select: {}, view: { outer: 1, params: 13, inner: 1, groups: 1 }, label: '1-D' },
  { kind, shape: [3, 11, 13], select: {}, view: { outer: 33, params: 13, inner: 1, groups: 1 }, label: 'primes, last dim' },
  { kind, shape: [2, 3, 5], select: { normalizedShape: [3, 5] }, view: { outer: 2, params: 15, inner: 1, groups: 1 }, label: 'over 2 dims (normalizedShape)' },
  { kind, shape: [2, 3, 2, 5], select: { axis: 1 }, view: { outer: 2, params: 30, inner: 1, groups: 1 }, label: 'over 3 dims (ONNX axis 1)' },
  { kind, shape: [4, 2, 3], select: { axis: [-1, -2], convention: 'keras' }, view: { outer: 4, params: 6, inner: 1, groups: 1 }, label: 'over 2 dims (Keras axes)' },
  { kind, shape: [6, 37], select: {}, view: { outer: 6, params: 37, inner: 1, groups: 1 }, label: 'large mean', mean: 1e4 },
];

const groupCases: Case[] = [
  { kind: 'group', shape: [2, 6, 5], select: { groups: 3 }, view: { outer: 2, params: 6, inner: 5, groups: 3 }, label: 'NCL' },
  { kind: 'group', shape: [2, 4, 3], select: { groups: 4, layout: 'NCL' }, view: { outer: 2, params: 4, inner: 3, groups: 4 }, label: 'C = G' },
  { kind: 'group', shape: [3, 4, 2, 3], select: { groups: 1, layout: 'NCHW' }, view: { outer: 3, params: 4, inner: 6, groups: 1 }, label: 'G = 1, NCHW' },
  { kind: 'group', shape: [1, 6, 2, 3, 2], select: { groups: 2, layout: 'NCDHW' }, view: { outer: 1, params: 6, inner: 12, groups: 2 }, label: 'N = 1, 3-D spatial' },
  { kind: 'group', shape: [3, 6], select: { groups: 3 }, view: { outer: 3, params: 6, inner: 1, groups: 3 }, label: 'no spatial (NC)' },
  { kind: 'group', shape: [2, 10, 7], select: { groups: 5 }, view: { outer: 2, params: 10, inner: 7, groups: 5 }, label: 'large mean', mean: 1e4 },
  // Channels last: a row is `inner` strided blocks of C / G channels.
  { kind: 'group', shape: [2, 5, 6], select: { groups: 3, layout: 'NLC' }, view: { outer: 2, params: 6, inner: 5, groups: 3, channelsLast: true }, label: 'NLC' },
  { kind: 'group', shape: [3, 2, 3, 4], select: { groups: 1, axis: -1, convention: 'keras' }, view: { outer: 3, params: 4, inner: 6, groups: 1, channelsLast: true }, label: 'G = 1, NHWC (Keras axis -1)' },
  { kind: 'group', shape: [1, 2, 3, 2, 6], select: { groups: 6, layout: 'NDHWC' }, view: { outer: 1, params: 6, inner: 12, groups: 6, channelsLast: true }, label: 'G = C, NDHWC' },
  { kind: 'group', shape: [2, 7, 10], select: { groups: 5, axis: 2 }, view: { outer: 2, params: 10, inner: 7, groups: 5, channelsLast: true }, label: 'NLC large mean', mean: 1e4 },
];

const instanceCases: Case[] = [
  { kind: 'instance', shape: [2, 3, 5], select: {}, view: { outer: 2, params: 3, inner: 5, groups: 3 }, label: 'NCL' },
  { kind: 'instance', shape: [1, 3, 2, 3], select: { layout: 'NCHW' }, view: { outer: 1, params: 3, inner: 6, groups: 3 }, label: 'N = 1, NCHW' },
  { kind: 'instance', shape: [2, 2, 2, 3, 2], select: {}, view: { outer: 2, params: 2, inner: 12, groups: 2 }, label: '3-D spatial' },
  { kind: 'instance', shape: [3, 5], select: {}, view: { outer: 3, params: 5, inner: 1, groups: 5 }, label: 'D = 1 (NC)' },
  { kind: 'instance', shape: [2, 3, 31], select: {}, view: { outer: 2, params: 3, inner: 31, groups: 3 }, label: 'large mean', mean: 1e4 },
  { kind: 'instance', shape: [2, 3, 2, 5], select: { layout: 'NHWC' }, view: { outer: 2, params: 5, inner: 6, groups: 5, channelsLast: true }, label: 'NHWC' },
  { kind: 'instance', shape: [3, 13, 3], select: { layout: 'NLC' }, view: { outer: 3, params: 3, inner: 13, groups: 3, channelsLast: true }, label: 'NLC large mean', mean: 1e4 },
];

const cases = [...layerCases('layer'), ...layerCases('rms'), ...groupCases, ...instanceCases];
const activations: NormActivation[] = ['none', 'relu', 'gelu', 'gelu-tanh', 'silu'];
const seed = seedFromEnv();

function expectWithin(name: string, actual: ArrayLike<number>, expected: ArrayLike<number>, bound: Bound): void {
  const { share, index } = worstShare(actual, expected, bound);
  if (!(share <= 1)) {
    throw new Error(`${name}[${index}] = ${actual[index]}, reference ${expected[index]}, bound ${bound(index)} (TEST_SEED=${seed})`);
  }
}

describe(`norms, CPU path against the float64 reference (TEST_SEED=${seed})`, () => {
  for (const c of cases) {
    for (const activation of activations) {
      for (const residual of [false, true]) {
        for (const affine of [true, false]) {
          if (!affine && (residual || activation !== 'none')) continue; // γ, β absent: one case per shape
          it(`${c.kind} ${c.label} [${c.shape}] ${activation}${residual ? ' + residual' : ''}${affine ? '' : ' without γ, β'}`, () => {
            const rng = createRng(seed ^ (c.shape.reduce((a, b) => a * 31 + b, 7) * 97 + activations.indexOf(activation) * 2 + Number(residual)));
            const size = c.shape.reduce((a, b) => a * b, 1);
            const mean = c.mean ?? 0.5;
            const x = normals(rng, size, mean, c.mean ? 1 : 1.5);
            const gamma = affine ? normals(rng, c.view.params, 1, 0.5) : undefined;
            const beta = affine && c.kind !== 'rms' ? normals(rng, c.view.params, 0, 0.5) : undefined;
            const z = residual ? normals(rng, size) : undefined;
            const dy = normals(rng, size);
            const opts = { shape: c.shape, ...c.select, gamma, beta, activation, residual: z } as AnyNormOptions;
            const copies = [x, gamma, beta, z, dy].map((a) => a?.slice());

            const resolved = resolveNormOptions(c.kind, opts);
            expect(resolved.view).toMatchObject(c.view);
            const p: ReferenceNormParams = { kind: c.kind, view: c.view, gamma, beta, eps: resolved.eps, activation, residual: z };
            const ours = cpuNormForward(x, resolved);
            const ref = referenceNormForward(x, p);
            const fb = forwardBounds(x, p, ref);
            expectWithin('y', ours.y, ref.y, fb.y);
            expectWithin('invStd', ours.invStd, ref.invStd, fb.invStd);
            if (c.kind === 'rms') expect(ours.mean).toBeUndefined();
            else expectWithin('mean', ours.mean!, ref.mean, fb.mean);

            // Backward from the forward's own saved statistics (both sides get the same float32 ones).
            const backOpts = { ...opts, residual: residual ? (activation === 'none' || activation === 'relu' ? true : z) : undefined } as AnyNormOptions;
            const br = resolveNormBackwardOptions(c.kind, backOpts);
            const saved = checkNormSaved(ours, br);
            const grads = cpuNormBackward(dy, x, br, saved);
            const refGrads = referenceNormBackward(dy, x, p, { mean: ours.mean, invStd: ours.invStd }, ours.y);
            const xhat = Float64Array.from(x, (v, i) => (v - refGrads.mean[referenceRowOf(i, c.view)]) * refGrads.invStd[referenceRowOf(i, c.view)]);
            const bb = backwardBounds(dy, p, refGrads, xhat, ours.invStd);
            expectWithin('dx', grads.dx, refGrads.dx, bb.dx);
            expectWithin('dgamma', grads.dgamma, refGrads.dgamma, bb.dgamma);
            if (c.kind === 'rms') expect(grads.dbeta).toBeUndefined();
            else expectWithin('dbeta', grads.dbeta!, refGrads.dbeta, bb.dbeta);
            if (residual) expectWithin('dz', grads.dz!, refGrads.dz, bb.dz);
            else expect(grads.dz).toBeUndefined();

            // Nothing the caller passed was changed.
            [x, gamma, beta, z, dy].forEach((a, k) => expect(a).toEqual(copies[k]));
          });
        }
      }
    }
  }
});
