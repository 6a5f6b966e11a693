import { BatchNormError } from '../errors';

/**
 * Launch shapes of the kernels. The defaults are for GPUs; software adapters get
 * softwareAdapterTuning on top (tuningForAdapter). Both can be overridden per engine (`createBatchNorm({ tuning })`), which tests use to force corner cases such
 * as dispatches above 65 535 workgroups at modest sizes.
 */
export interface KernelTuning {
  /** Threads per workgroup of every kernel; a power of two. */
  workgroupSize: number;
  /** Values (or vec4s) each thread of the apply kernel writes. */
  applyUnitsPerThread: number;
  /**
   * Bytes of loads the reductions (statistics, backward-reduce) aim to keep in flight: each of their
   * threads has four loads in flight, so this gives their thread count, at most one thread per
   * statsMinValuesPerThread values. A GPU hides its memory latency only with about bandwidth ×
   * latency bytes in flight (3.35 TB/s × ~0.7 µs ≈ 2 MB on an H100). 0: statsTargetThreads threads.
   */
  statsBytesInFlight: number;
  /** Threads the reductions aim to keep busy when statsBytesInFlight is 0. */
  statsTargetThreads: number;
  /** Fewest values a statistics thread reduces before another thread is added. */
  statsMinValuesPerThread: number;
  /**
   * Most partials per channel a finalize folds with one thread per channel (no barriers); more are
   * merged by a workgroup per channel. On a GPU, where a serial chain stops being cheaper than a
   * tree step, roughly.
   */
  serialFinalizeMaxChunks: number;
  /**
   * How the 'Rows' reductions (inner == 1) give rows to the K threads of a channel group: every K-th
   * row (false: neighbouring threads read neighbouring rows, which a GPU's warps coalesce even with
   * few channels), or K contiguous blocks of rows (true: each thread streams through its own block,
   * which suits a CPU core running a whole workgroup).
   */
  blockedRows: boolean;
  /**
   * How the 'Runs' reductions (inner > 1) split a channel: chunks of a workgroup each, summed across
   * the workgroup (false), or a thread per piece of a run writing its own partial, with no workgroup
   * sum and no barrier (true: suits a software adapter, where barriers cost more than the reads).
   * The one-dispatch kernels likewise take a thread per channel (group) instead of a workgroup
   * (see fused-small.ts).
   */
  runSegments: boolean;
  /**
   * Units (values, or vec4s) per thread of the contiguous walk of batch norm's elementwise kernels
   * (apply, backward-apply), for tensors whose runs are long (inner ≥ CONTIGUOUS_MIN_RUN values);
   * 0: never. The threads of a run take neighbouring units, which a GPU's warps coalesce, unless
   * this is set: then each thread takes a contiguous range of about this many units across runs,
   * one channel after another, which on a CPU adapter (each SIMD lane streaming through its own
   * range, long threads amortising their setup) took NCHW inference on SwiftShader from 1.6× to
   * 1.03–1.07× the fastest copy.
   */
  contiguousUnitsPerThread: number;
  /**
   * Largest storage binding of a tensor, in bytes (default and cap: the device's
   * maxStorageBufferBindingSize). Larger tensors are processed in slabs (see slabs.ts); tests lower
   * this to exercise every way of splitting on small tensors.
   */
  maxBindingBytes?: number;
  /**
   * Workgroup sums with subgroup operations when the device has the `subgroups` feature (default
   * true); false keeps the barrier-tree kernels, the only ones on devices without it, so tests can
   * cover them on devices that have it.
   */
  useSubgroups?: boolean;
  /**
   * Training forward and backward of a tensor whose every channel (or group of four channels) fits
   * one workgroup's registers in one dispatch each, reading the tensor once (see fused-small.ts).
   * Unset: wherever it fits, except, on GPUs, tensors with fewer channel groups than
   * FUSED_MIN_WORKGROUPS, which would leave most of the GPU idle; true: wherever it fits; false:
   * the three-kernel path for every shape (for comparisons and tests). Inference folds the running
   * statistics inside its apply: unset, on GPUs and, on CPU adapters, up to
   * CPU_FOLD_IN_APPLY_MAX_BYTES; true: at any size; false: never. Autotuning tries the other
   * choices where they change what a size class runs (dispatchCandidates, tuning-classes.ts).
   */
  oneDispatch?: boolean;
}

/** Four times the storage offset alignment: a slab always holds more than its alignment padding. */
export const MIN_BINDING_BYTES = 1024;

export const defaultTuning: KernelTuning = {
  workgroupSize: 256,
  applyUnitsPerThread: 4,
  statsBytesInFlight: 2 * 1024 * 1024,
  statsTargetThreads: 16384,
  statsMinValuesPerThread: 16,
  serialFinalizeMaxChunks: 32,
  blockedRows: false,
  runSegments: false,
  contiguousUnitsPerThread: 0,
};

/**
 * Software adapters (SwiftShader, WARP, lavapipe) run each workgroup on a CPU core: many threads buy
 * no parallelism there, while every workgroup barrier and every extra partial costs real time. So
 * they get fewer, longer statistics and apply threads (longer apply threads also amortise the
 * per-thread index setup); a finalize that folds up to 256 partials per channel in one thread,
 * where a workgroup tree's barriers cost more than the serial chain; blocks of rows in the 'Rows'
 * reductions; and a thread per piece of a run in the 'Runs' reductions (no workgroup sum). Each was
 * measured on SwiftShader (docs/benchmark.md, "Measurements behind the launch shapes").
 * Real GPUs keep the defaults, which need the parallelism (workgroups of 256 and ~2 MB of loads in
 * flight); software adapters keep workgroups of 64 and a fixed thread count.
 */
export const softwareAdapterTuning: Partial<KernelTuning> = {
  workgroupSize: 64,
  statsBytesInFlight: 0,
  statsTargetThreads: 2048,
  statsMinValuesPerThread: 256,
  applyUnitsPerThread: 16,
  serialFinalizeMaxChunks: 256,
  blockedRows: true,
  runSegments: true,
  contiguousUnitsPerThread: 256,
};

export function tuningForAdapter(adapter: { architecture: string; isFallbackAdapter: boolean } | undefined): Partial<KernelTuning> {
  const software = adapter !== undefined && (adapter.isFallbackAdapter || /swiftshader|lavapipe|llvmpipe|warp/i.test(adapter.architecture));
  return software ? softwareAdapterTuning : {};
}

/** The tuning of an engine: defaults, then the adapter's, then the caller's overrides. */
export function resolveTuning(overrides: Partial<KernelTuning> | undefined, maxInvocations: number, adapterDefaults: Partial<KernelTuning> = {}): KernelTuning {
  const defaults = { ...defaultTuning, ...adapterDefaults };
  // A default workgroup larger than the device allows (compatibility-mode devices allow 128) shrinks
  // to the largest power of two it does allow; a size the caller asks for is checked as given.
  const largest = 2 ** Math.floor(Math.log2(Math.max(1, maxInvocations)));
  defaults.workgroupSize = Math.min(defaults.workgroupSize, largest);
  const tuning = { ...defaults, ...overrides };
  const { workgroupSize } = tuning;
  if (!Number.isInteger(workgroupSize) || workgroupSize < 4 || (workgroupSize & (workgroupSize - 1)) !== 0 || workgroupSize > maxInvocations) {
    throw new BatchNormError('invalid-option', `tuning.workgroupSize must be a power of two in [4, ${maxInvocations}], got ${workgroupSize}`);
  }
  for (const key of ['applyUnitsPerThread', 'statsTargetThreads', 'statsMinValuesPerThread', 'serialFinalizeMaxChunks'] as const) {
    if (!Number.isInteger(tuning[key]) || tuning[key] < 1) throw new BatchNormError('invalid-option', `tuning.${key} must be a positive integer`);
  }
  for (const key of ['statsBytesInFlight', 'contiguousUnitsPerThread'] as const) {
    if (!Number.isInteger(tuning[key]) || tuning[key] < 0) throw new BatchNormError('invalid-option', `tuning.${key} must be a non-negative integer, got ${tuning[key]}`);
  }
  for (const key of ['blockedRows', 'runSegments'] as const) {
    if (typeof tuning[key] !== 'boolean') throw new BatchNormError('invalid-option', `tuning.${key} must be a boolean, got ${JSON.stringify(tuning[key])}`);
  }
  for (const key of ['useSubgroups', 'oneDispatch'] as const) {
    if (tuning[key] !== undefined && typeof tuning[key] !== 'boolean') {
      throw new BatchNormError('invalid-option', `tuning.${key} must be a boolean, got ${JSON.stringify(tuning[key])}`);
    }
  }
  const { maxBindingBytes } = tuning;
  if (maxBindingBytes !== undefined && (!Number.isInteger(maxBindingBytes) || maxBindingBytes < MIN_BINDING_BYTES)) {
    throw new BatchNormError('invalid-option', `tuning.maxBindingBytes must be an integer ≥ ${MIN_BINDING_BYTES}, got ${maxBindingBytes}`);
  }
  return tuning;
}

/** Whether kernels on a device with these features use their subgroups variants (shader-sources.ts). */
export function usesSubgroups(features: ReadonlySet<string>, tuning: KernelTuning): boolean {
  return tuning.useSubgroups !== false && features.has('subgroups');
}
