/**
 * Float16 pieces of the page-side cases (dtype 'float16'): inputs rounded to float16, host arrays
 * of the runtime's kind, and the checks that the outputs come back as float16 and that a device
 * without `shader-f16` refuses the GPU-resident call.
 */
import { BatchNormError, BatchNormLayer, createBatchNorm, decodeFloat16, encodeFloat16Bits, type Float16Data } from '../../../src/index';
import { caseSeed, createRng, normals } from '../../support/random';
import { readBits, readBuffer, storageBuffer } from './gpu-buffers';

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

/** What the float16 checks add to a case's checks (a forward's OutputCheck, a backward's BackwardCheck). */
export interface Float16Check {
  output: 'dtype' | 'refusal';
  path: 'host' | 'resident';
  failure: string | null;
  maxAbs: number;
  maxRel: number;
  used: number;
  epsOfTerms: number;
}

/** A float16 call's tensor output, decoded; a failed check when it is not float16 of the input's kind. */
export function isFloat16Result(output: unknown, input: unknown, checks: { push(check: Float16Check): unknown }): Float32Array {
  const kind = (a: unknown) => (a as object | undefined)?.constructor?.name;
  const ok = (output instanceof Uint16Array || (Float16 !== undefined && output instanceof Float16)) && kind(output) === kind(input);
  checks.push({ output: 'dtype', path: 'host', failure: ok ? null : `a float16 call returned ${kind(output)} for a ${kind(input)} input`, maxAbs: 0, maxRel: 0, used: 0, epsOfTerms: 0 });
  const data = output as Uint16Array;
  return ok ? decodeFloat16(data) : new Float32Array(data.length).fill(NaN);
}

/** The resident call on a device without shader-f16: BatchNormError('unsupported-dtype'), nothing written. */
export function refusalCheck(error: unknown, written: boolean): Float16Check {
  const typed = error instanceof BatchNormError && error.code === 'unsupported-dtype';
  const failure = !typed ? `expected BatchNormError('unsupported-dtype') without shader-f16, got ${error === undefined ? 'no error' : String(error)}` : written ? 'outputs written although the call was refused' : null;
  return { output: 'refusal', path: 'resident', failure, maxAbs: 0, maxRel: 0, used: 0, epsOfTerms: 0 };
}

/** A float16 case ran the float16 kernels where the device has shader-f16, and checked the refusal elsewhere. */
export function float16Problems(dtype: 'float16' | undefined, report: { shaderF16: boolean; modules: string[]; checks: { output: string }[] }): string[] {
  if (dtype !== 'float16') return [];
  if (report.shaderF16) return report.modules.some((name) => name.includes('+f16')) ? [] : ['no float16 module ran on a device with shader-f16'];
  return report.checks.some((c) => c.output === 'refusal') ? [] : ['the refusal without shader-f16 was not checked'];
}

export interface Float16LayerReport {
  shaderF16: boolean;
  /** Empty when every check passed. */
  problems: string[];
}

/**
 * BatchNormLayer with dtype 'float16': on a device with shader-f16, its forward and backward on
 * float16 buffers must give bit for bit what the host API's float16 calls give on the same values
 * (the same kernels; a layer that dropped the dtype would read the buffers as float32); its γ, β
 * gradients and running statistics stay float32. Without shader-f16 the constructor must refuse it.
 */
export async function runFloat16LayerCase(seed: number): Promise<Float16LayerReport> {
  const problems: string[] = [];
  const bn = await createBatchNorm({ backend: 'webgpu' });
  try {
    const gpu = bn.gpu!;
    const device = gpu.device;
    const shaderF16 = device.features.has('shader-f16');
    const shape = [5, 3, 7, 9];
    const N = 5 * 3 * 7 * 9; // odd: the buffers' last word is half used
    if (!shaderF16) {
      try {
        new BatchNormLayer(gpu, { numFeatures: 3, dtype: 'float16' });
        problems.push('a float16 layer was created on a device without shader-f16');
      } catch (error) {
        if (!(error instanceof BatchNormError && error.code === 'unsupported-dtype')) problems.push(`expected 'unsupported-dtype', got ${String(error)}`);
      }
      // encodeStatistics refuses float16 too, before anything is recorded.
      const x16 = storageBuffer(device, 'x16', new Uint16Array(N + 1));
      try {
        gpu.encodeStatistics(device.createCommandEncoder(), { shape, x: x16, dtype: 'float16' });
        problems.push('encodeStatistics took float16 on a device without shader-f16');
      } catch (error) {
        if (!(error instanceof BatchNormError && error.code === 'unsupported-dtype')) problems.push(`encodeStatistics: expected 'unsupported-dtype', got ${String(error)}`);
      } finally {
        x16.destroy();
      }
      return { shaderF16, problems };
    }
    const rng = createRng(caseSeed(seed, 'float16 layer'));
    const x = toBits(quantize16(normals(rng, N, 2, 3)));
    const dy = toBits(quantize16(normals(rng, N, 0, 1)));
    const layer = new BatchNormLayer(gpu, { numFeatures: 3, dtype: 'float16', activation: 'relu' });
    const poison = toBits(new Float32Array(N).fill(NaN));
    const buffers = { x: storageBuffer(device, 'x', x), y: storageBuffer(device, 'y', poison), dy: storageBuffer(device, 'dy', dy), dx: storageBuffer(device, 'dx', poison) };
    const encoder = device.createCommandEncoder({ label: 'test.float16Layer' });
    layer.forward(encoder, buffers.x, buffers.y, shape);
    layer.backward(encoder, buffers.dy, buffers.dx);
    device.queue.submit([encoder.finish()]);
    const y = await readBits(device, buffers.y, N);
    const dx = await readBits(device, buffers.dx, N);
    const state = await layer.stateDict();
    const host = await bn.forwardTrain(x, { shape, activation: 'relu', dtype: 'float16', runningMean: [0, 0, 0], runningVar: [1, 1, 1] });
    const hostBack = await bn.backward(dy, x, { shape, activation: 'relu', dtype: 'float16' }, host);
    const same = (a: ArrayLike<number>, b: ArrayLike<number>) => a.length === b.length && Array.from(a).every((v, i) => v === b[i]);
    if (!same(y, host.y as Uint16Array)) problems.push("the layer's float16 y differs from the host API's");
    // encodeStatistics on the same float16 x: the forward's statistics kernels, so the same mean and variance.
    const statsEncoder = device.createCommandEncoder({ label: 'test.float16Statistics' });
    const stats = gpu.encodeStatistics(statsEncoder, { shape, x: buffers.x, dtype: 'float16' });
    device.queue.submit([statsEncoder.finish()]);
    const meanAndVariance = await readBuffer(device, stats, 6);
    stats.destroy();
    if (!same(meanAndVariance, [...host.mean, ...host.variance])) problems.push("encodeStatistics' float16 mean and variance differ from the host forward's");
    if (!same(dx, hostBack.dx as Uint16Array)) problems.push("the layer's float16 dx differs from the host API's");
    if (!same(state.running_mean ?? [], host.runningMean!)) problems.push("the layer's running mean differs from the host API's");
    // The layer adds dγ to its weightGrad (zeros before): one float32 addition of 0, exact.
    if (!same(await readBuffer(device, layer.weightGrad!, 3), hostBack.dgamma)) problems.push("the layer's weight gradient differs from the host API's dgamma");
    layer.destroy();
    for (const buffer of Object.values(buffers)) buffer.destroy();
    return { shaderF16, problems };
  } finally {
    bn.dispose();
  }
}
