import type { DataType, KernelBackend, TensorInfo } from '@tensorflow/tfjs';
import { BatchNormError } from '../errors';

/**
 * What the adapter uses of `WebGPUBackend` from @tensorflow/tfjs-backend-webgpu 4.22. Most of it is
 * public there; `commandEncoder` and `commandQueueOwnedIds` are private fields, read at run time:
 *
 * - `device`, `tensorMap` (dataId → { resource: GPUBuffer, … }), `uploadToGPU(dataId)` (puts a
 *   tensor on the GPU, from TF.js's buffer pool, if its values are still on the CPU), and
 *   `makeTensorInfo(shape, dtype)` (a new dataId; `uploadToGPU` then gives it a pooled buffer);
 * - `ensureCommandEncoderReady()` / `endComputePassEncoder()` and `commandEncoder`: TF.js records
 *   every kernel into one command encoder of its own and submits it every 15 dispatches or on a
 *   read. We record into that same encoder, after its open compute pass is closed, so our passes run
 *   exactly between TF.js's preceding and following work, with no submit of our own;
 * - `commandQueueOwnedIds`: dataIds used by the not-yet-submitted encoder. TF.js defers releasing
 *   their buffers to its pool until the submit; we add ours so a tensor disposed right after our op
 *   cannot have its buffer handed to later work while our commands still read it.
 */
export interface WebGpuBackendInternals extends KernelBackend {
  device: GPUDevice;
  tensorMap: { get(dataId: object): { resource?: unknown; dtype: DataType } | undefined };
  commandEncoder: GPUCommandEncoder | null;
  commandQueueOwnedIds: WeakSet<object>;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  uploadToGPU(dataId: object): void;
  makeTensorInfo(shape: number[], dtype: DataType, values?: unknown): TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
}

const checked = new WeakSet<object>();

/** What of the above this backend lacks (empty when all is there); never throws. */
export function missingInternals(backend: unknown): string[] {
  if (checked.has(backend as object)) return [];
  const b = (backend ?? {}) as Partial<WebGpuBackendInternals>;
  const methods = ['ensureCommandEncoderReady', 'endComputePassEncoder', 'uploadToGPU', 'makeTensorInfo', 'disposeData'] as const;
  const missing: string[] = methods.filter((name) => typeof b[name] !== 'function');
  if (!b.device || typeof b.tensorMap?.get !== 'function') missing.push('device/tensorMap');
  if (!('commandEncoder' in b) || !(b.commandQueueOwnedIds instanceof WeakSet)) missing.push('commandEncoder/commandQueueOwnedIds');
  if (missing.length === 0) checked.add(b);
  return missing;
}

/** The backend as the adapter needs it; a clear error if this tfjs-backend-webgpu differs. */
export function webGpuInternals(backend: unknown): WebGpuBackendInternals {
  const missing = missingInternals(backend);
  if (missing.length > 0) {
    throw new BatchNormError(
      'invalid-option',
      `this @tensorflow/tfjs-backend-webgpu does not expose what webgpu-batchnorm/tfjs needs (${missing.join(', ')}); it was written against 4.22`,
    );
  }
  return backend as WebGpuBackendInternals;
}

/** The GPUBuffer behind a tensor, uploading it first (TF.js's own upload) if it is still on the CPU. */
export function bufferOf(backend: WebGpuBackendInternals, name: string, info: TensorInfo): GPUBuffer {
  backend.uploadToGPU(info.dataId);
  const resource = backend.tensorMap.get(info.dataId)?.resource as GPUBuffer | undefined;
  if (!resource || typeof resource.size !== 'number' || typeof resource.usage !== 'number') {
    throw new BatchNormError('invalid-buffer', `${name} is not backed by a GPUBuffer on the TF.js WebGPU backend (textures are not supported)`);
  }
  return resource;
}

/** A new float32 tensor backed by a buffer from TF.js's pool (no upload: the buffer is just acquired). */
export function newOutput(backend: WebGpuBackendInternals, shape: number[]): { info: TensorInfo; buffer: GPUBuffer } {
  const info = backend.makeTensorInfo(shape, 'float32');
  backend.uploadToGPU(info.dataId);
  return { info, buffer: backend.tensorMap.get(info.dataId)!.resource as GPUBuffer };
}

/**
 * Records `encode` into TF.js's pending command encoder, in order with TF.js's own queued work, and
 * marks every tensor involved as used by that encoder. Nothing is submitted here.
 */
export function recordIntoTfjs(backend: WebGpuBackendInternals, tensors: TensorInfo[], encode: (encoder: GPUCommandEncoder) => void): void {
  backend.ensureCommandEncoderReady();
  backend.endComputePassEncoder();
  encode(backend.commandEncoder!);
  // Read after encoding: TF.js replaces the set at each submit.
  const owned = backend.commandQueueOwnedIds;
  for (const t of tensors) owned.add(t.dataId);
}
