import { BatchNormError } from '../errors';

/**
 * Launch shapes of the kernels. The defaults suit both discrete GPUs and SwiftShader; they can be
 * overridden per engine (`createBatchNorm({ tuning })`), which tests use to force corner cases such
 * as dispatches above 65 535 workgroups at modest sizes.
 */
export interface KernelTuning {
  /** Threads per workgroup of every kernel; a power of two. */
  workgroupSize: number;
  /** Values (or vec4s) each thread of the apply kernel writes. */
  applyUnitsPerThread: number;
  /** Threads the statistics kernels aim to keep busy. */
  statsTargetThreads: number;
  /** Fewest values a statistics thread reduces before another thread is added. */
  statsMinValuesPerThread: number;
}

export const defaultTuning: KernelTuning = {
  workgroupSize: 64,
  applyUnitsPerThread: 4,
  statsTargetThreads: 16384,
  statsMinValuesPerThread: 16,
};

export function resolveTuning(overrides: Partial<KernelTuning> | undefined, maxInvocations: number): KernelTuning {
  const tuning = { ...defaultTuning, ...overrides };
  const { workgroupSize } = tuning;
  if (!Number.isInteger(workgroupSize) || workgroupSize < 4 || (workgroupSize & (workgroupSize - 1)) !== 0 || workgroupSize > maxInvocations) {
    throw new BatchNormError('invalid-option', `tuning.workgroupSize must be a power of two in [4, ${maxInvocations}], got ${workgroupSize}`);
  }
  for (const key of ['applyUnitsPerThread', 'statsTargetThreads', 'statsMinValuesPerThread'] as const) {
    if (!Number.isInteger(tuning[key]) || tuning[key] < 1) throw new BatchNormError('invalid-option', `tuning.${key} must be a positive integer`);
  }
  return tuning;
}
