import { BatchNormError } from '../errors';

/** Launch shape of the update kernels; the defaults suit every device. */
export interface GpuOptimizerTuning {
  /** Threads per workgroup, a power of two (default 64). */
  workgroupSize?: number;
  /**
   * Largest storage binding to use, in bytes (default and cap: the device's
   * maxStorageBufferBindingSize). A larger parameter is updated in several dispatches, each
   * binding one segment; tests lower this to exercise that path.
   */
  maxBindingBytes?: number;
}

export function resolveOptimizerTuning(device: GPUDevice, tuning: GpuOptimizerTuning = {}): { workgroupSize: number; segmentLength: number } {
  const fail = (message: string): never => {
    throw new BatchNormError('invalid-option', `optimizer tuning: ${message}`);
  };
  if (tuning === null || typeof tuning !== 'object') fail('must be an object');
  const unknown = Object.keys(tuning).filter((key) => key !== 'workgroupSize' && key !== 'maxBindingBytes');
  if (unknown.length > 0) fail(`unknown option ${unknown.join(', ')}`);
  const { limits } = device;
  const maxThreads = Math.min(limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX);
  const workgroupSize = tuning.workgroupSize ?? 64;
  if (!Number.isInteger(workgroupSize) || workgroupSize < 1 || (workgroupSize & (workgroupSize - 1)) !== 0 || workgroupSize > maxThreads) {
    fail(`workgroupSize must be a power of two in [1, ${maxThreads}], got ${workgroupSize}`);
  }
  // Segments start at multiples of the storage offset alignment (256 bytes on every device known).
  const align = limits.minStorageBufferOffsetAlignment;
  const maxBindingBytes = tuning.maxBindingBytes ?? limits.maxStorageBufferBindingSize;
  if (!Number.isInteger(maxBindingBytes) || maxBindingBytes < align) {
    fail(`maxBindingBytes must be an integer ≥ ${align} (minStorageBufferOffsetAlignment), got ${maxBindingBytes}`);
  }
  const bytes = Math.floor(Math.min(maxBindingBytes, limits.maxStorageBufferBindingSize) / align) * align;
  return { workgroupSize, segmentLength: bytes / 4 };
}
