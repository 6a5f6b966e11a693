import { describe, expect, it } from 'vitest';
import {
  referenceErf,
  referenceNormBackward,
  referenceNormForward,
  referenceNormView,
  type ReferenceNormActivation,
  type ReferenceNormKind,
  type ReferenceNormParams,
} from '../support/norm-reference';
import { createRng, normals, seedFromEnv } from '../support/random';

// The float64 reference the norm tests measure against is itself checked here: erf against
// published values, the gradients against central differences of the forward.

describe('referenceErf', () => {
  // Values from Abramowitz & Stegun, table 7.1, and their continuation to 16 digits.
  const table: [number, number][] = [
    [0.1, 0.1124629160182849],
    [0.5, 0.5204998778130465],
    [1, 0.8427007929497149],
    [2, 0.9953222650189527],
    [2.9, 0.9999589021219005],
    [3, 0.9999779095030014],
    [4, 0.9999999845827421],
    [6, 1],
  ];
  it.each(table)('erf(%f)', (x, expected) => {
    expect(Math.abs(referenceErf(x) - expected)).toBeLessThan(1e-13);
    expect(Math.abs(referenceErf(-x) + expected)).toBeLessThan(1e-13);
  });
});

const kinds: { kind: ReferenceNormKind; shape: number[]; normalized?: number; groups?: number }[] = [
  { kind: 'layer', shape: [3, 5], normalized: 1 },
  { kind: 'layer', shape: [2, 3, 4], normalized: 2 },
  { kind: 'rms', shape: [3, 7], normalized: 1 },
  { kind: 'group', shape: [2, 6, 3], groups: 3 },
  { kind: 'instance', shape: [2, 3, 2, 3] },
];
const activations: ReferenceNormActivation[] = ['none', 'relu', 'gelu', 'gelu-tanh', 'silu'];

describe('referenceNormBackward against central differences', () => {
  const seed = seedFromEnv();
  for (const c of kinds) {
    for (const activation of activations) {
      for (const residual of [false, true]) {
        it(`${c.kind} [${c.shape}] ${activation}${residual ? ' residual' : ''}`, () => {
          const rng = createRng(seed);
          const view = referenceNormView(c.kind, c.shape, c);
          const size = c.shape.reduce((a, b) => a * b, 1);
          const x = Float64Array.from(normals(rng, size, 0.5, 1.5));
          const w = Float64Array.from(normals(rng, size));
          const p: ReferenceNormParams = {
            kind: c.kind,
            view,
            gamma: Float64Array.from(normals(rng, view.params, 1, 0.5)),
            beta: c.kind === 'rms' ? undefined : Float64Array.from(normals(rng, view.params, 0, 0.5)),
            eps: 1e-5,
            activation,
            residual: residual ? Float64Array.from(normals(rng, size)) : undefined,
          };
          const loss = (q: ReferenceNormParams, input: Float64Array) => referenceNormForward(input, q).y.reduce((s, y, i) => s + y * w[i], 0);
          const grad = referenceNormBackward(w, x, p);
          const h = 1e-6;
          const numeric = (f: (d: number) => number) => (f(h) - f(-h)) / (2 * h);
          // Central differences are accurate to ~h² · f''' plus rounding ~1e-16 / h; relu's kink is
          // avoided since no a sits within h of 0 for these inputs, almost surely.
          const close = (analytic: number, estimate: number) => expect(Math.abs(analytic - estimate)).toBeLessThan(1e-6 * (1 + Math.abs(estimate)));
          for (let i = 0; i < size; i++) {
            close(grad.dx[i], numeric((d) => loss(p, x.map((v, k) => (k === i ? v + d : v)))));
            if (p.residual) {
              const z = p.residual;
              close(grad.dz[i], numeric((d) => loss({ ...p, residual: Float64Array.from(z, (v, k) => (k === i ? v + d : v)) }, x)));
            }
          }
          for (let q = 0; q < view.params; q++) {
            const gamma = p.gamma!;
            close(grad.dgamma[q], numeric((d) => loss({ ...p, gamma: Float64Array.from(gamma, (v, k) => (k === q ? v + d : v)) }, x)));
            if (p.beta) {
              const beta = p.beta;
              close(grad.dbeta[q], numeric((d) => loss({ ...p, beta: Float64Array.from(beta, (v, k) => (k === q ? v + d : v)) }, x)));
            }
          }
        });
      }
    }
  }
});

describe('the reference in channels-last layouts', () => {
  // The same tensor stored (N, S, C) and (N, C, S): every output, mapped back, must agree (the
  // float64 sums differ only in order).
  const seed = seedFromEnv();
  const cases: [ReferenceNormKind, number[], number | undefined][] = [
    ['group', [2, 5, 6], 3],
    ['group', [1, 4, 3, 4], 2],
    ['instance', [3, 7, 2], undefined],
  ];
  it.each(cases)('%s [%s] G = %s: as the transposed channels-first tensor', (kind, shape, groups) => {
    const rng = createRng(seed);
    const [N, C] = [shape[0], shape[shape.length - 1]];
    const S = shape.slice(1, -1).reduce((a, b) => a * b, 1);
    const size = N * S * C;
    const last = normals(rng, size, 3, 2);
    const first = new Float64Array(size);
    const toFirst = (i: number) => {
      const c = i % C;
      const s = Math.floor(i / C) % S;
      const n = Math.floor(i / (S * C));
      return (n * C + c) * S + s;
    };
    for (let i = 0; i < size; i++) first[toFirst(i)] = last[i];
    const dy = normals(rng, size);
    const dyFirst = new Float64Array(size);
    for (let i = 0; i < size; i++) dyFirst[toFirst(i)] = dy[i];
    const gamma = normals(rng, C, 1, 0.3);
    const beta = normals(rng, C);
    const common = { kind, gamma, beta, eps: 1e-5, activation: 'silu' as const };
    const pLast: ReferenceNormParams = { ...common, view: referenceNormView(kind, shape, { groups, channelsLast: true }) };
    const pFirst: ReferenceNormParams = { ...common, view: referenceNormView(kind, [N, C, S], { groups }) };
    expect(pLast.view).toEqual({ outer: N, params: C, inner: S, groups: groups ?? C, channelsLast: true });
    const a = referenceNormForward(last, pLast);
    const b = referenceNormForward(first, pFirst);
    const close = (u: number, v: number) => Math.abs(u - v) <= 1e-12 * (1 + Math.abs(v));
    for (let i = 0; i < size; i++) expect(close(a.y[i], b.y[toFirst(i)])).toBe(true);
    a.mean.forEach((m, r) => expect(close(m, b.mean[r])).toBe(true));
    const ga = referenceNormBackward(dy, last, pLast);
    const gb = referenceNormBackward(dyFirst, first, pFirst);
    for (let i = 0; i < size; i++) expect(close(ga.dx[i], gb.dx[toFirst(i)])).toBe(true);
    ga.dgamma.forEach((v, c) => expect(close(v, gb.dgamma[c])).toBe(true));
  });
});
