import { describe, expect, it } from 'vitest';
import { activate, activationDerivative, erf, erfc } from '../../src/norms/activation-math';
import type { NormActivation } from '../../src/norms/norm-types';
import { referenceActivation, referenceErf } from '../support/norm-reference';

// The library's float64 erf / erfc (Cody's rational approximations) and the fused activations.

describe('erf and erfc against published values', () => {
  // erf and erfc to 19 significant digits (Abramowitz & Stegun, table 7.1, and its high-precision
  // continuations); erfc's tail keeps its relative accuracy where 1 − erf would lose every digit.
  const erfTable: [number, number][] = [
    [1e-10, 1.1283791670955126e-10],
    [0.1, 0.1124629160182848922],
    [0.25, 0.2763263901682369],
    [0.46875, 0.4926134732179379],
    [0.5, 0.5204998778130465377],
    [1, 0.8427007929497148693],
    [2, 0.9953222650189527342],
    [3, 0.9999779095030014146],
  ];
  const erfcTable: [number, number][] = [
    [0.5, 0.4795001221869534623],
    [1, 0.1572992070502851307],
    [2, 0.004677734981047265838],
    [3, 2.209049699858544137e-5],
    [4, 1.541725790028001885e-8],
    [5, 1.53745979442803485e-12],
    [6, 2.151973671249891311e-17],
    [10, 2.088487583762544757e-45],
  ];
  const relative = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);
  it.each(erfTable)('erf(%f), erf(−x) = −erf(x)', (x, expected) => {
    expect(relative(erf(x), expected)).toBeLessThan(1e-15);
    expect(erf(-x)).toBe(-erf(x));
  });
  it.each(erfcTable)('erfc(%f), erfc(−x) = 2 − erfc(x)', (x, expected) => {
    expect(relative(erfc(x), expected)).toBeLessThan(1e-15);
    expect(relative(erfc(-x), 2 - expected)).toBeLessThan(1e-15);
  });
  it('limits: ±Inf, NaN, underflow, ±0', () => {
    expect(erf(Infinity)).toBe(1);
    expect(erf(-Infinity)).toBe(-1);
    expect(erfc(Infinity)).toBe(0);
    expect(erfc(-Infinity)).toBe(2);
    expect(erfc(27)).toBe(0);
    expect(erf(NaN)).toBeNaN();
    expect(erfc(NaN)).toBeNaN();
    expect(Object.is(erf(-0), -0)).toBe(true);
    expect(erfc(0)).toBe(1);
  });
  it('agrees with the test reference (an independent series / continued fraction) to its 1e-13 on a dense sweep', () => {
    for (let x = -7; x <= 7; x += 0.01) expect(Math.abs(erf(x) - referenceErf(x))).toBeLessThan(1e-13);
  });
});

describe('activations', () => {
  const activations: NormActivation[] = ['none', 'relu', 'gelu', 'gelu-tanh', 'silu'];
  const points = [-30, -8, -3, -1.5, -0.7, -1e-3, 0.2, 0.9, 2.5, 6, 40];
  it.each(activations)('%s: value as the reference, derivative as a central difference', (activation) => {
    for (const a of points) {
      expect(Math.abs(activate(activation, a) - referenceActivation(activation, a))).toBeLessThanOrEqual(1e-13 * (1 + Math.abs(a)));
      if (activation === 'relu') continue; // its mask comes from the forward's y
      const h = 1e-6;
      const numeric = (activate(activation, a + h) - activate(activation, a - h)) / (2 * h);
      expect(Math.abs(activationDerivative(activation, a) - numeric)).toBeLessThan(1e-8);
    }
  });
  it('GELU keeps its relative accuracy far left (erfc, not 1 + erf)', () => {
    // gelu(−10) = −10 · erfc(10/√2) / 2 = −5 · erfc(7.0710678…) = −7.6198530241605269e-23
    expect(Math.abs(activate('gelu', -10) / -7.619853024160527e-23 - 1)).toBeLessThan(1e-14);
  });
});
