import { BatchNormError } from './errors';
import type { Float16Data } from './types';

/**
 * IEEE 754 binary16 (float16) on the host: the one converter of the library, both ways. Host arrays
 * of `dtype: 'float16'` are Float16Array where the runtime has it, else Uint16Array holding the
 * bits; the host-array calls decode them to float32 (exactly: every float16 value is a float32
 * value), compute as for float32, and round their tensor outputs to float16 here, to nearest with
 * ties to even, values beyond the largest finite float16 to ±Inf, NaN to a quiet NaN.
 */

/** The runtime's Float16Array constructor, where it has one (ES2025). */
type Float16ArrayConstructor = new (buffer: ArrayBufferLike, byteOffset?: number, length?: number) => Float16Data;
const Float16ArrayClass = (globalThis as { Float16Array?: Float16ArrayConstructor }).Float16Array;

/** Largest finite float16 (65504) plus half its ulp (16): at or beyond this, rounding gives ±Inf. */
const OVERFLOW = 65520;
/** 2^-14, the smallest normal float16; below it the grid is the subnormals' 2^-24. */
const MIN_NORMAL = 2 ** -14;

/** n rounded to an integer, ties to even (n ≥ 0). */
function roundHalfEven(n: number): number {
  const floor = Math.floor(n);
  const rest = n - floor;
  if (rest > 0.5) return floor + 1;
  if (rest < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** Scratch views of one float32, for reading its bits. */
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * The float16 bits of a value that is a float32 (the CPU path's outputs), from its float32 bits:
 * the 13 mantissa bits float16 drops decide the rounding (above half: up; exactly half: to even),
 * and a carry out of the mantissa moves into the exponent as it should. A few integer operations
 * instead of the logarithm and powers of the general case.
 */
function float32ToFloat16Bits(value: number): number {
  f32[0] = value;
  const u = u32[0];
  const sign = (u >>> 16) & 0x8000;
  const magnitude = u & 0x7fffffff;
  if (magnitude >= 0x7f800000) return sign | (magnitude > 0x7f800000 ? 0x7e00 : 0x7c00);
  // 65520 (0x477ff000) and above round to ±Inf.
  if (magnitude >= 0x477ff000) return sign | 0x7c00;
  // Below 2^-14 (0x38800000): subnormal multiples of 2^-24, exact in float64.
  if (magnitude < 0x38800000) return sign | roundHalfEven(Math.abs(value) * 2 ** 24);
  const mantissa = magnitude & 0x7fffff;
  const half = ((((magnitude >>> 23) - 112) << 10) | (mantissa >>> 13)) >>> 0;
  const dropped = mantissa & 0x1fff;
  return sign | (dropped > 0x1000 || (dropped === 0x1000 && (half & 1) === 1) ? half + 1 : half);
}

/** The float16 bits of `value` (a JS number, float64), rounded to nearest, ties to even. */
export function toFloat16Bits(value: number): number {
  // A float32 value (every output of the CPU path) takes the integer route; rounding it there is
  // the same as rounding the number itself.
  if (Math.fround(value) === value) return float32ToFloat16Bits(value);
  if (Number.isNaN(value)) return 0x7e00;
  const sign = value < 0 || Object.is(value, -0) ? 0x8000 : 0;
  const a = Math.abs(value);
  if (a >= OVERFLOW) return sign | 0x7c00;
  // Subnormals (and zero) are integer multiples of 2^-24: a · 2^24 is exact in float64. A value
  // that rounds up to 1024 · 2^-24 = 2^-14 gets the smallest normal's bits, 0x0400, as it should.
  if (a < MIN_NORMAL) return sign | roundHalfEven(a * 2 ** 24);
  let exponent = Math.floor(Math.log2(a));
  // log2 of a float64 may be off by one next to a power of two: fix it exactly.
  if (2 ** exponent > a) exponent--;
  else if (2 ** (exponent + 1) <= a) exponent++;
  // 1024 ≤ mantissa < 2048, exact (a power-of-two scaling); 2048 after rounding carries into the exponent.
  const mantissa = roundHalfEven((a / 2 ** exponent) * 1024);
  return sign | (((exponent + 15) << 10) + mantissa - 1024);
}

/** The value of float16 bits (NaN for every NaN pattern). */
export function fromFloat16Bits(bits: number): number {
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  const sign = bits & 0x8000 ? -1 : 1;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 31) return mantissa ? NaN : sign * Infinity;
  return sign * (1024 + mantissa) * 2 ** (exponent - 25);
}

let decodeTable: Float32Array | undefined;

/** Every float16 value by its bits: decoding a tensor is one lookup per value. */
function table(): Float32Array {
  if (!decodeTable) {
    decodeTable = new Float32Array(65536);
    for (let bits = 0; bits < 65536; bits++) decodeTable[bits] = fromFloat16Bits(bits);
  }
  return decodeTable;
}

/** Whether `data` is a float16 host array: a Float16Array (where there is one) or a Uint16Array of bits. */
export function isFloat16Data(data: unknown): data is Float16Data {
  return data instanceof Uint16Array || (Float16ArrayClass !== undefined && data instanceof Float16ArrayClass);
}

/** The bits of a float16 host array, without a copy. */
export function float16Bits(data: Float16Data): Uint16Array {
  return data instanceof Uint16Array ? data : new Uint16Array(data.buffer, data.byteOffset, data.length);
}

/** A float16 host array's values as float32 (exact). */
export function decodeFloat16(data: Float16Data): Float32Array {
  const bits = float16Bits(data);
  const values = table();
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = values[bits[i]];
  return out;
}

/**
 * `values` rounded to float16 bits, in an array of `length` elements (at least values.length; the
 * rest stay 0): a GPU upload pads an odd count to whole 4-byte words this way.
 */
export function encodeFloat16Bits(values: ArrayLike<number>, length = values.length): Uint16Array {
  const bits = new Uint16Array(length);
  for (let i = 0; i < values.length; i++) bits[i] = toFloat16Bits(values[i]);
  return bits;
}

/** Bits as a host array of the kind `like` is: a Float16Array for a Float16Array, else the Uint16Array. */
export function float16Like(bits: Uint16Array, like: unknown): Float16Data {
  if (Float16ArrayClass !== undefined && like instanceof Float16ArrayClass) return new Float16ArrayClass(bits.buffer, bits.byteOffset, bits.length);
  return bits;
}

/** A float16 tensor input checked and decoded; `name` for the error of anything else. */
export function checkFloat16(name: string, data: unknown): Float32Array {
  if (!isFloat16Data(data)) {
    throw new BatchNormError('invalid-option', `${name} must be a Float16Array or a Uint16Array of float16 bits with dtype 'float16'`);
  }
  return decodeFloat16(data);
}

/** Whether this runtime has Float16Array (the host API's float16 arrays are Uint16Arrays otherwise). */
export const hasFloat16Array = Float16ArrayClass !== undefined;
