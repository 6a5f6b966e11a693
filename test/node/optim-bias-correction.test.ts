import { describe, expect, it } from 'vitest';
import { shaders } from '../../src/gpu/shader-sources';

/*
 * The Adam kernel forms 1 − β^t in float32 from t on the GPU (oneMinusPow in optim-adam.wgsl). This
 * replays that function with float32 rounding after every operation (Math.fround; the fma's product
 * of two float32 values is exact in float64, so one fround rounds it once) and bounds its error
 * against PyTorch's float64 `1 - beta ** step`. It also shows why the kernel does not write
 * 1 − pow(β, t): that cancels, thousands of ulps for β near 1.
 */
const f = Math.fround;
const EPS32 = 2 ** -24;

function oneMinusPowF32(d: number, t: number): number {
  let c = 0;
  for (let bit = 31 - Math.clz32(t); bit >= 0; bit--) {
    c = f(c * f(2 - c));
    if ((t >>> bit) & 1) c = f(f(1 - c) * d + c);
  }
  return c;
}

describe('bias correction 1 − β^t in float32', () => {
  it('the replay follows the WGSL (doubling c·(2 − c), increment fma(1 − c, d, c))', () => {
    const code = shaders.optimAdam.code;
    expect(code).toMatch(/c = c \* \(2\.0 - c\);/);
    expect(code).toMatch(/c = fma\(1\.0 - c, d, c\);/);
    expect(code).toMatch(/for \(var bit = i32\(firstLeadingBit\(t\)\); bit >= 0; bit -= 1\)/);
  });

  for (const beta of [0, 0.5, 0.9, 0.99, 0.999, 0.9999]) {
    it(`β = ${beta}: within 8 float32 ulps of float64 for t ≤ 100 000 (1 − β rounded to f32 included)`, () => {
      const d = f(1 - beta);
      let worst = 0;
      let naiveWorst = 0;
      for (let t = 1; t <= 100_000; t++) {
        const exact = 1 - beta ** t;
        worst = Math.max(worst, Math.abs(oneMinusPowF32(d, t) - exact) / exact);
        if (t <= 1000) naiveWorst = Math.max(naiveWorst, Math.abs(f(1 - f(f(beta) ** t)) - exact) / exact);
      }
      expect(worst).toBeLessThanOrEqual(8 * EPS32);
      if (beta >= 0.999) expect(naiveWorst).toBeGreaterThan(100 * EPS32);
    });
  }
});
