import { BatchNormError } from '../errors';

/**
 * Runs `work` inside validation and out-of-memory error scopes, so a GPU error surfaces as a
 * BatchNormError from this call instead of a console warning and a wrong result.
 */
export async function withErrorScopes<T>(device: GPUDevice, what: string, work: () => Promise<T>): Promise<T> {
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  let result: T;
  try {
    result = await work();
  } finally {
    const validation = await device.popErrorScope();
    const outOfMemory = await device.popErrorScope();
    const error = validation ?? outOfMemory;
    if (error) {
      const kind = outOfMemory ? 'out of memory' : 'validation error';
      throw new BatchNormError('gpu-error', `${what}: GPU ${kind}: ${error.message}`);
    }
  }
  return result;
}
