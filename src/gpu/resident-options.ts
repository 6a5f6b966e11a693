import { BatchNormError } from '../errors';
import { resolveScalarOptions, type PassKind, type ResolvedScalarOptions, type ScalarOptions } from '../options';
import { elementBytes, type TensorDtype } from './shader-sources';
import { tensorBytes } from './slabs';

/** GPU buffers of per-channel parameters and state; each holds C float32 values. */
export interface ChannelBuffers {
  gamma?: GPUBuffer;
  beta?: GPUBuffer;
  runningMean?: GPUBuffer;
  runningVar?: GPUBuffer;
}

/** Layout of the statistics buffer written by a forward pass: five blocks of C float32 values. */
export const statsBlocks = ['mean', 'variance', 'invStd', 'scale', 'shift'] as const;
export type StatsBlock = (typeof statsBlocks)[number];

export function statsByteLength(channels: number): number {
  return statsBlocks.length * channels * 4;
}

/** Byte offset of one block of the statistics buffer, e.g. for copyBufferToBuffer. */
export function statsByteOffset(block: StatsBlock, channels: number): number {
  return statsBlocks.indexOf(block) * channels * 4;
}

/**
 * Bytes a GPU buffer of a tensor of `elements` values must hold at least: 4 per value for float32;
 * 2 for float16, rounded up to whole 4-byte words (storage bindings are words, so an odd count
 * needs 2 bytes more, never read or written).
 */
export function tensorByteLength(elements: number, dtype: TensorDtype = 'float32'): number {
  return tensorBytes(elements, elementBytes(dtype));
}

/** The tensor buffer size of a resolved call. */
export function residentTensorBytes(resolved: ResolvedScalarOptions): number {
  return tensorByteLength(resolved.view.size, resolved.dtype);
}

/**
 * Refuses float16 tensors on a device without `shader-f16` (its kernels cannot be compiled there),
 * before any GPU work. The host-array calls of createBatchNorm's engine take the CPU path instead.
 */
export function checkDtypeSupported(device: GPUDevice, resolved: ResolvedScalarOptions): void {
  if (resolved.dtype === 'float16' && !device.features.has('shader-f16')) {
    throw new BatchNormError('unsupported-dtype', "dtype 'float16' needs the device feature 'shader-f16', which this device does not have");
  }
}

export function checkBuffer(name: string, buffer: unknown, minBytes: number, usage: number): GPUBuffer {
  if (buffer === null || typeof buffer !== 'object' || typeof (buffer as GPUBuffer).size !== 'number' || typeof (buffer as GPUBuffer).usage !== 'number') {
    throw new BatchNormError('invalid-buffer', `${name} must be a GPUBuffer`);
  }
  const gpuBuffer = buffer as GPUBuffer;
  if (gpuBuffer.size < minBytes) {
    throw new BatchNormError('invalid-buffer', `${name} holds ${gpuBuffer.size} bytes, needs at least ${minBytes}`);
  }
  if ((gpuBuffer.usage & usage) !== usage) {
    throw new BatchNormError('invalid-buffer', `${name} needs usage STORAGE (usage flags are ${gpuBuffer.usage})`);
  }
  return gpuBuffer;
}

/** The caller's command encoder; checked first, so a bad one never sees a half-recorded call. */
export function checkEncoder(encoder: unknown): GPUCommandEncoder {
  if (encoder === null || typeof encoder !== 'object' || typeof (encoder as GPUCommandEncoder).beginComputePass !== 'function') {
    throw new BatchNormError('invalid-option', 'the first argument must be a GPUCommandEncoder');
  }
  return encoder as GPUCommandEncoder;
}

export function checkDistinct(named: Record<string, GPUBuffer | undefined>): void {
  const seen = new Map<GPUBuffer, string>();
  for (const [name, buffer] of Object.entries(named)) {
    if (!buffer) continue;
    const other = seen.get(buffer);
    if (other) throw new BatchNormError('invalid-buffer', `${name} and ${other} must be different buffers`);
    seen.set(buffer, name);
  }
}

/** Validates the options and per-channel buffers of a GPU-resident call before anything is encoded. */
export function resolveResident(opts: ScalarOptions & ChannelBuffers, pass: PassKind): ResolvedScalarOptions {
  const resolved = resolveScalarOptions(opts, pass);
  const bytes = resolved.view.channels * 4;
  for (const name of ['gamma', 'beta', 'runningMean', 'runningVar'] as const) {
    if (opts[name] !== undefined) checkBuffer(name, opts[name], bytes, GPUBufferUsage.STORAGE);
  }
  if ((opts.runningMean === undefined) !== (opts.runningVar === undefined)) {
    throw new BatchNormError('missing-running-stats', 'runningMean and runningVar must be given together');
  }
  if (pass === 'inference' && opts.runningMean === undefined) {
    throw new BatchNormError('missing-running-stats', 'inference needs runningMean and runningVar');
  }
  return resolved;
}

const activationIds = { none: 0, relu: 1 } as const;
const conventionIds = { pytorch: 0, keras: 1, onnx: 2 } as const;
const dtypeIds = { float32: 0, float16: 1 } as const;

/** The resolved options as numbers, the start of a call's program key (program-cache.ts). */
export function optionsKey(resolved: ResolvedScalarOptions): number[] {
  const { outer, channels, inner } = resolved.view;
  return [outer, channels, inner, activationIds[resolved.activation], conventionIds[resolved.convention], resolved.eps, resolved.momentum, dtypeIds[resolved.dtype]];
}
