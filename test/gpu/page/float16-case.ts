/**
 * Float16 pieces of the page-side cases (dtype 'float16'): inputs rounded to float16, host arrays
 * of the runtime's kind, and the checks that the outputs come back as float16 and that a device
 * without `shader-f16` refuses the GPU-resident call.
 */
import { BatchNormError, decodeFloat16, encodeFloat16Bits, type Float16Data } from '../../../src/index';
import type { OutputCheck } from '../../support/forward-checks';

/** Values rounded to float16 (the inputs a float16 case draws, so the reference sees exactly them). */
export const quantize16 = (values: Float32Array): Float32Array => decodeFloat16(encodeFloat16Bits(values));

/** Float16 bits of values (NaN poison included). */
export const toBits = (values: Float32Array): Uint16Array => encodeFloat16Bits(values);

type Float16ArrayClass = new (buffer: ArrayBufferLike, byteOffset?: number, length?: number) => Float16Data;
const Float16 = (globalThis as { Float16Array?: Float16ArrayClass }).Float16Array;

/** A float16 host array: a Float16Array where the runtime has one, else a Uint16Array of the bits. */
export function float16Input(values: Float32Array): Float16Data {
  const bits = toBits(values);
  return Float16 ? new Float16(bits.buffer, 0, bits.length) : bits;
}

/** A float16 call's tensor output, decoded; a failed check when it is not float16 of the input's kind. */
export function isFloat16Result(output: unknown, input: unknown, checks: OutputCheck[]): Float32Array {
  const kind = (a: unknown) => (a as object | undefined)?.constructor?.name;
  const ok = (output instanceof Uint16Array || (Float16 !== undefined && output instanceof Float16)) && kind(output) === kind(input);
  checks.push({ output: 'dtype', path: 'host', failure: ok ? null : `a float16 call returned ${kind(output)} for a ${kind(input)} input`, maxAbs: 0, maxRel: 0, used: 0 });
  const data = output as Uint16Array;
  return ok ? decodeFloat16(data) : new Float32Array(data.length).fill(NaN);
}

/** The resident call on a device without shader-f16: BatchNormError('unsupported-dtype'), nothing written. */
export function refusalCheck(error: unknown, written: boolean): OutputCheck {
  const typed = error instanceof BatchNormError && error.code === 'unsupported-dtype';
  const failure = !typed ? `expected BatchNormError('unsupported-dtype') without shader-f16, got ${error === undefined ? 'no error' : String(error)}` : written ? 'outputs written although the call was refused' : null;
  return { output: 'refusal', path: 'resident', failure, maxAbs: 0, maxRel: 0, used: 0 };
}

/** A float16 case ran the float16 kernels where the device has shader-f16, and checked the refusal elsewhere. */
export function float16Problems(dtype: 'float16' | undefined, report: { shaderF16: boolean; modules: string[]; checks: { output: string }[] }): string[] {
  if (dtype !== 'float16') return [];
  if (report.shaderF16) return report.modules.some((name) => name.includes('+f16')) ? [] : ['no float16 module ran on a device with shader-f16'];
  return report.checks.some((c) => c.output === 'refusal') ? [] : ['the refusal without shader-f16 was not checked'];
}
