import { describe, expect, it } from 'vitest';
import { decodeFloat16, encodeFloat16Bits, fromFloat16Bits, hasFloat16Array, toFloat16Bits } from '../../src/index';
import { isFloat16Data } from '../../src/float16';

/** The value of float16 bits from the format's definition, written apart from the library's. */
function oracle(bits: number): number {
  const sign = bits >= 0x8000 ? -1 : 1;
  const e = Math.floor((bits & 0x7fff) / 1024);
  const m = bits % 1024;
  if (e === 31) return m === 0 ? sign * Infinity : NaN;
  return e === 0 ? sign * (m / 1024) * 2 ** -14 : sign * (1 + m / 1024) * 2 ** (e - 15);
}

const allBits = Array.from({ length: 65536 }, (_, bits) => bits);
const isNaNBits = (bits: number) => (bits & 0x7c00) === 0x7c00 && (bits & 0x3ff) !== 0;

describe('float16 conversion (src/float16.ts)', () => {
  it('decodes every bit pattern to its value (zeros, subnormals, normals, max, ±Inf, NaN)', () => {
    for (const bits of allBits) {
      const expected = oracle(bits);
      if (Number.isNaN(expected)) expect(fromFloat16Bits(bits)).toBeNaN();
      else expect(Object.is(fromFloat16Bits(bits), expected), `bits 0x${bits.toString(16)}`).toBe(true);
    }
    // The table decoder of arrays agrees with the scalar one, through float32 (exact for float16 values).
    const decoded = decodeFloat16(Uint16Array.from(allBits));
    for (const bits of allBits) {
      if (isNaNBits(bits)) expect(decoded[bits]).toBeNaN();
      else expect(Object.is(decoded[bits], fromFloat16Bits(bits))).toBe(true);
    }
  });

  it('encodes every float16 value to its own bits (−0 included), and NaN to a NaN', () => {
    for (const bits of allBits) {
      if (isNaNBits(bits)) expect(isNaNBits(toFloat16Bits(fromFloat16Bits(bits)))).toBe(true);
      else expect(toFloat16Bits(fromFloat16Bits(bits)), `bits 0x${bits.toString(16)}`).toBe(bits);
    }
    expect(toFloat16Bits(-0)).toBe(0x8000);
    expect(toFloat16Bits(0)).toBe(0);
  });

  it('rounds to nearest with ties to even between every pair of neighbours, both signs', () => {
    // Every positive finite value and the next: the midpoint (exact in float64) goes to the even
    // one, anything off the midpoint by a float64 step to the nearer one.
    for (let bits = 0; bits < 0x7bff; bits++) {
      const a = fromFloat16Bits(bits);
      const b = fromFloat16Bits(bits + 1);
      const mid = (a + b) / 2;
      const even = bits % 2 === 0 ? bits : bits + 1;
      const step = Math.max(Number.MIN_VALUE, mid * 2 ** -40);
      // One float32 step off the midpoint: float32 values, which take the encoder's integer route.
      const step32 = mid === 0 ? 2 ** -149 : 2 ** (Math.floor(Math.log2(mid)) - 23);
      for (const [sign, signBit] of [[1, 0], [-1, 0x8000]] as const) {
        expect(toFloat16Bits(sign * mid), `tie between 0x${bits.toString(16)} and its successor`).toBe(signBit | even);
        expect(toFloat16Bits(sign * (mid - step))).toBe(signBit | bits);
        expect(toFloat16Bits(sign * (mid + step))).toBe(signBit | (bits + 1));
        expect(Math.fround(mid - step32)).toBe(mid - step32);
        expect(toFloat16Bits(sign * (mid - step32))).toBe(signBit | bits);
        expect(toFloat16Bits(sign * (mid + step32))).toBe(signBit | (bits + 1));
      }
    }
  });

  it('gives the classes at the edges: subnormals, the smallest normal, max, overflow to ±Inf', () => {
    expect(toFloat16Bits(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(toFloat16Bits(2 ** -25)).toBe(0x0000); // half of it: a tie, to even (zero)
    expect(toFloat16Bits(2 ** -25 * 1.0001)).toBe(0x0001);
    expect(toFloat16Bits(3 * 2 ** -25)).toBe(0x0002); // tie between 1 and 2 ulps: to even
    expect(toFloat16Bits(1e-10)).toBe(0x0000);
    expect(toFloat16Bits(-1e-10)).toBe(0x8000);
    expect(toFloat16Bits(2 ** -14 - 2 ** -25)).toBe(0x0400); // tie between the largest subnormal and the smallest normal
    expect(toFloat16Bits(2 ** -14)).toBe(0x0400);
    expect(toFloat16Bits(65504)).toBe(0x7bff); // max
    expect(toFloat16Bits(65519.99)).toBe(0x7bff);
    expect(toFloat16Bits(65520)).toBe(0x7c00); // the tie above max: to even, which is +Inf
    expect(toFloat16Bits(1e10)).toBe(0x7c00);
    expect(toFloat16Bits(-1e10)).toBe(0xfc00);
    expect(toFloat16Bits(Infinity)).toBe(0x7c00);
    expect(toFloat16Bits(-Infinity)).toBe(0xfc00);
    expect(isNaNBits(toFloat16Bits(NaN))).toBe(true);
    expect(toFloat16Bits(1)).toBe(0x3c00);
    expect(toFloat16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie: to even
    expect(toFloat16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie: to even, upwards
    expect(toFloat16Bits(1000.25)).toBe(0x63d0); // 1000 (0x63d0) and 1000.5: a tie, to even
  });

  it('pads an encoded array to the requested length with zeros; accepts Uint16Array (and Float16Array where the runtime has it)', () => {
    const bits = encodeFloat16Bits([1, -2, 0.5], 4);
    expect([...bits]).toEqual([0x3c00, 0xc000, 0x3800, 0]);
    expect(isFloat16Data(bits)).toBe(true);
    expect(isFloat16Data(new Float32Array(2))).toBe(false);
    expect(isFloat16Data([1, 2])).toBe(false);
    const Float16 = (globalThis as { Float16Array?: new (n: number) => ArrayLike<number> }).Float16Array;
    expect(hasFloat16Array).toBe(Float16 !== undefined);
    if (Float16) expect(isFloat16Data(new Float16(2))).toBe(true);
  });
});
