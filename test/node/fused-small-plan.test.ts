import { describe, expect, it } from 'vitest';
import { CPU_FOLD_IN_APPLY_MAX_BYTES, FUSED_MIN_WORKGROUPS, inferenceFoldsInApply, planFused, SERIAL_MAX_UNITS, SERIAL_MIN_RUN, SERIAL_ROWS_MAX_VALUES, type FusedLimits } from '../../src/gpu/fused-small';
import { shaders } from '../../src/gpu/shader-sources';
import { defaultTuning, resolveTuning, softwareAdapterTuning, type KernelTuning } from '../../src/gpu/tuning';
import { packParams } from '../../src/gpu/uniforms';
import { channelView } from '../../src/layout';
import type { Layout } from '../../src/types';

/** WebGPU's guaranteed limits (SwiftShader's too, but for its 32 KiB of workgroup memory). */
const limits: FusedLimits = {
  maxInvocationsPerWorkgroup: 256,
  maxWorkgroupSizeX: 256,
  maxWorkgroupStorageBytes: 16384,
  maxWorkgroupsPerDimension: 65535,
  bindingBytes: 128 * 1024 * 1024,
  maxStorageBuffers: 8,
};
/** What software adapters run with (tuning.runSegments: no barriers). */
const software: KernelTuning = { ...defaultTuning, ...softwareAdapterTuning };

/** One dispatch wherever it fits, whatever the number of channel groups (as the GPU tests force it). */
const forced: KernelTuning = { ...defaultTuning, oneDispatch: true };

const plan = (shape: number[], layout: Layout, direction: 'forward' | 'backward' = 'forward', tuning: KernelTuning = forced, lim = limits) =>
  planFused(channelView(shape, layout), direction, tuning, lim);

describe('one-dispatch planning (fused-small.ts)', () => {
  it('takes small CNN activations in one dispatch on GPUs, the demo model’s layers on software adapters, forward and backward', () => {
    const gpu = (shape: number[], layout: Layout, direction: 'forward' | 'backward') => plan(shape, layout, direction, defaultTuning);
    for (const direction of ['forward', 'backward'] as const) {
      expect(gpu([16, 256, 16, 16], 'NCHW', direction)?.dispatches).toBe(1);
      // The demo's layers have 32 and 16 four-channel groups: a GPU keeps three kernels for them
      // (FUSED_MIN_WORKGROUPS), a software adapter takes them in one dispatch, a thread per group.
      for (const shape of [[32, 128], [32, 64]]) {
        expect(gpu(shape, 'NC', direction)).toBeUndefined();
        expect(plan(shape, 'NC', direction, software)).toMatchObject({ dispatches: 1, strategy: 'Serial' });
        expect(plan(shape, 'NC', direction)?.dispatches).toBe(1);
      }
    }
    expect(gpu([8, 4 * FUSED_MIN_WORKGROUPS], 'NC', 'forward')?.dispatches).toBe(1);
    expect(gpu([8, 4 * FUSED_MIN_WORKGROUPS - 4], 'NC', 'forward')).toBeUndefined();
    expect(gpu([2, FUSED_MIN_WORKGROUPS, 3, 3], 'NCHW', 'forward')?.dispatches).toBe(1);
    // 2048 rows of 16 four-channel groups: 256 threads × 8 vec4 forward; the backward holds x and
    // dy (4 units each), so its channels fit up to 1024 rows.
    expect(plan([32, 8, 8, 64], 'NHWC', 'forward')?.dispatches).toBe(1);
    expect(plan([32, 8, 8, 64], 'NHWC', 'backward')).toBeUndefined();
    expect(plan([16, 8, 8, 64], 'NHWC', 'backward')?.dispatches).toBe(1);
  });

  it('names the entry point by shape and width, with a workgroup per channel or channel group', () => {
    expect(plan([32, 128], 'NC')).toMatchObject({ entryPoint: 'fusedForwardRowsVec4', params: { groups: 32, units: 32, innerUnits: 1 }, grid: [32, 1] });
    expect(plan([32, 7], 'NC')).toMatchObject({ entryPoint: 'fusedForwardRowsScalar', params: { groups: 7, units: 32, innerUnits: 1 } });
    expect(plan([16, 256, 16, 16], 'NCHW')).toMatchObject({ strategy: 'Workgroup', entryPoint: 'fusedForwardRunsVec4', workgroupSize: defaultTuning.workgroupSize, unitsPerThread: 8, params: { groups: 256, units: 1024, innerUnits: 64 }, grid: [256, 1] });
    expect(plan([16, 256, 16, 16], 'NCHW', 'backward')).toMatchObject({ entryPoint: 'fusedBackwardRunsVec4', workgroupSize: 256, unitsPerThread: 4 });
    expect(plan([3, 5, 31, 17], 'NCHW')).toMatchObject({ entryPoint: 'fusedForwardRunsScalar', params: { groups: 5, units: 1581, innerUnits: 527 } });
    expect(plan([4, 8, 8, 16], 'NHWC')).toMatchObject({ entryPoint: 'fusedForwardRowsVec4', params: { groups: 4, units: 256 } });
  });

  it('holds every unit: threads × units per thread cover the channel, in a power-of-two workgroup', () => {
    const shapes: [number[], Layout][] = [
      [[2, 1], 'NC'],
      [[37, 5], 'NC'],
      [[2048, 3], 'NC'],
      [[3, 7, 5], 'NCL'],
      [[5, 3, 131], 'NCL'],
      [[2, 3, 5, 7], 'NCHW'],
      [[32, 2, 16, 16], 'NCHW'],
      [[2, 5, 7, 3], 'NHWC'],
      [[1, 2, 3, 5, 11], 'NCDHW'],
      [[3, 2, 2, 3, 5], 'NDHWC'],
    ];
    for (const [shape, layout] of shapes) {
      for (const direction of ['forward', 'backward'] as const) {
        for (const tuning of [defaultTuning, { ...defaultTuning, workgroupSize: 256 }, { ...defaultTuning, workgroupSize: 4 }]) {
          const p = plan(shape, layout, direction, tuning);
          if (!p) continue;
          expect(p.strategy).toBe('Workgroup');
          expect(p.workgroupSize * p.unitsPerThread).toBeGreaterThanOrEqual(p.params.units);
          expect(Math.log2(p.workgroupSize) % 1).toBe(0);
          expect(p.workgroupSize).toBeLessThanOrEqual(256);
          // No fewer threads than the tuning's workgroup size while there are units for them.
          expect(p.workgroupSize).toBeGreaterThanOrEqual(Math.min(tuning.workgroupSize, p.params.units));
        }
      }
    }
  });

  it('stops at the largest channel a workgroup holds (256 threads × 8 units forward, × 4 backward)', () => {
    // Vec4 runs: 8192 values per channel forward, 4096 backward.
    expect(plan([32, 2, 16, 16], 'NCHW')?.workgroupSize).toBe(256);
    expect(plan([33, 2, 16, 16], 'NCHW')).toBeUndefined();
    expect(plan([16, 2, 16, 16], 'NCHW', 'backward')?.workgroupSize).toBe(256);
    expect(plan([17, 2, 16, 16], 'NCHW', 'backward')).toBeUndefined();
    // Single values: 2048 per channel forward, 1024 backward.
    expect(plan([2048, 3], 'NC')?.dispatches).toBe(1);
    expect(plan([2049, 3], 'NC')).toBeUndefined();
    expect(plan([1024, 3], 'NC', 'backward')?.dispatches).toBe(1);
    expect(plan([1025, 3], 'NC', 'backward')).toBeUndefined();
    // The benchmark's 4 MB tensors are far too large.
    expect(plan([256, 32, 16, 16], 'NCHW')).toBeUndefined();
    expect(plan([8192, 128], 'NC')).toBeUndefined();
  });

  it('respects the device: fewer invocations, less workgroup memory, tensors above one binding, fewer storage buffers', () => {
    const small = { ...limits, maxInvocationsPerWorkgroup: 128 };
    expect(plan([32, 2, 16, 16], 'NCHW', 'forward', forced, small)).toBeUndefined();
    expect(plan([16, 2, 16, 16], 'NCHW', 'forward', forced, small)?.workgroupSize).toBe(128);
    expect(plan([32, 2, 16, 16], 'NCHW', 'forward', forced, { ...limits, maxWorkgroupStorageBytes: 1024 })).toBeUndefined();
    expect(plan([32, 128], 'NC', 'forward', forced, { ...limits, bindingBytes: 4096 })).toBeUndefined();
    // A device with fewer storage buffers per stage than a fused kernel binds keeps the multi-pass path.
    expect(plan([32, 128], 'NC', 'forward', forced, { ...limits, maxStorageBuffers: 6 })).toBeUndefined();
    expect(plan([32, 128], 'NC', 'forward', forced, { ...limits, maxStorageBuffers: 7 })).toBeDefined();
    expect(plan([32, 128], 'NC', 'backward', forced, { ...limits, maxStorageBuffers: 7 })).toBeUndefined();
    // Inference folds in its apply (8 storage buffers) at any size on GPUs, up to
    // CPU_FOLD_IN_APPLY_MAX_BYTES on CPU adapters (at any size with tuning.oneDispatch true), unless
    // the device binds fewer storage buffers or tuning.oneDispatch is false; then the fold has a
    // dispatch of its own.
    for (const tuning of [defaultTuning, forced]) expect(inferenceFoldsInApply(tuning, 8, 2 ** 31)).toBe(true);
    expect(inferenceFoldsInApply(software, 8, CPU_FOLD_IN_APPLY_MAX_BYTES)).toBe(true);
    expect(inferenceFoldsInApply(software, 8, CPU_FOLD_IN_APPLY_MAX_BYTES + 4)).toBe(false);
    expect(inferenceFoldsInApply({ ...software, oneDispatch: true }, 8, 2 ** 31)).toBe(true);
    expect(inferenceFoldsInApply({ ...software, oneDispatch: true }, 7, 1024)).toBe(false);
    expect(inferenceFoldsInApply(defaultTuning, 7, 1024)).toBe(false);
    expect(inferenceFoldsInApply({ ...defaultTuning, oneDispatch: false }, 8, 1024)).toBe(false);
    // Channels beyond a 65 535² grid cannot be launched a workgroup each.
    expect(plan([2, 70001], 'NC', 'forward', forced, { ...limits, maxWorkgroupsPerDimension: 200 })).toBeUndefined();
    expect(plan([2, 70001], 'NC')?.grid).toEqual([35001, 2]);
  });

  it('on software adapters: a thread per channel group, or per channel for runs of at least SERIAL_MIN_RUN values', () => {
    expect(plan([32, 128], 'NC', 'forward', software)).toMatchObject({ strategy: 'Serial', entryPoint: 'fusedForwardSerialVec4', workgroupSize: 4, unitsPerThread: 32, grid: [8, 1] });
    // Workgroups of 8 (lavapipe's lanes) where 64 groups or more still fill 8 workgroups.
    expect(plan([2, 256], 'NC', 'forward', software)).toMatchObject({ workgroupSize: 8, grid: [8, 1] });
    expect(plan([2, 252], 'NC', 'forward', software)).toMatchObject({ workgroupSize: 4, grid: [16, 1] });
    expect(plan([32, 7], 'NC', 'backward', software)).toMatchObject({ strategy: 'Serial', entryPoint: 'fusedBackwardSerialScalar', params: { groups: 7, units: 32 } });
    // Rows layouts up to SERIAL_ROWS_MAX_VALUES values: NHWC [32, 8, 8, 64] (131072) keeps three kernels.
    expect(plan([16, 8, 8, 64], 'NHWC', 'forward', software)).toMatchObject({ strategy: 'Serial', params: { groups: 16, units: 1024 } });
    expect(plan([32, 8, 8, 64], 'NHWC', 'forward', software)).toBeUndefined();
    expect(plan([SERIAL_ROWS_MAX_VALUES / 128, 128], 'NC', 'backward', software)?.strategy).toBe('Serial');
    expect(plan([SERIAL_ROWS_MAX_VALUES / 128 + 1, 128], 'NC', 'backward', software)).toBeUndefined();
    // SERIAL_MAX_UNITS units per channel (group) in both directions (the forward's register capacity).
    for (const direction of ['forward', 'backward'] as const) {
      expect(plan([SERIAL_MAX_UNITS, 3], 'NC', direction, software)?.params.units).toBe(SERIAL_MAX_UNITS);
      expect(plan([SERIAL_MAX_UNITS + 1, 3], 'NC', direction, software)).toBeUndefined();
      expect(plan([2, 32, 32, 32], 'NHWC', direction, software)).toMatchObject({ strategy: 'Serial', params: { groups: 8, units: 2048 } });
    }
    // Runs: a thread per channel walking its runs; vec4 units where the run allows.
    expect(plan([16, 256, 16, 16], 'NCHW', 'forward', software)).toMatchObject({ strategy: 'Serial', entryPoint: 'fusedForwardSerialRunsVec4', workgroupSize: 8, params: { groups: 256, units: 1024, innerUnits: 64 }, grid: [32, 1] });
    // Backward sums: blocks of SERIAL_BLOCK (64) units of each run, 16 runs of 64 units.
    expect(plan([16, 256, 16, 16], 'NCHW', 'backward', software)).toMatchObject({ entryPoint: 'fusedBackwardSerialRunsVec4', threadAdditions: 64 + 16 });
    expect(plan([3, 5, 31, 7], 'NCHW', 'backward', software)).toMatchObject({ entryPoint: 'fusedBackwardSerialRunsScalar', params: { groups: 5, units: 651, innerUnits: 217 }, threadAdditions: 64 + 3 * 4 });
    expect(plan([5, 3, 68], 'NCL', 'forward', software)).toMatchObject({ entryPoint: 'fusedForwardSerialRunsVec4', params: { units: 85, innerUnits: 17 } });
    // Shorter runs keep three kernels (16 values forward, 64 backward); so do channels beyond what
    // the register kernels hold.
    for (const direction of ['forward', 'backward'] as const) {
      expect(plan([4, 3, SERIAL_MIN_RUN[direction]], 'NCL', direction, software)?.strategy).toBe('Serial');
      expect(plan([4, 3, SERIAL_MIN_RUN[direction] - 1], 'NCL', direction, software)).toBeUndefined();
    }
    expect(plan([2, 3, 5, 7], 'NCHW', 'forward', software)).toMatchObject({ entryPoint: 'fusedForwardSerialRunsScalar' });
    expect(plan([2, 3, 5, 7], 'NCHW', 'backward', software)).toBeUndefined();
    for (const direction of ['forward', 'backward'] as const) {
      expect(plan([32, 2, 16, 16], 'NCHW', direction, software)?.params.units).toBe(2048);
      expect(plan([33, 2, 16, 16], 'NCHW', direction, software)).toBeUndefined();
    }
  });

  it('tuning.oneDispatch false keeps the three-kernel path; it must be a boolean', () => {
    for (const tuning of [software, defaultTuning]) {
      expect(plan([32, 128], 'NC', 'forward', { ...tuning, oneDispatch: false })).toBeUndefined();
      expect(plan([32, 128], 'NC', 'forward', { ...tuning, oneDispatch: true })?.dispatches).toBe(1);
    }
    expect(resolveTuning({ oneDispatch: false }, 256).oneDispatch).toBe(false);
    expect(() => resolveTuning({ oneDispatch: 'no' as unknown as boolean }, 256)).toThrow(/oneDispatch must be a boolean/);
  });

  it('gives the kernels every Params field they declare', () => {
    const finalize = { channels: 128, eps: 1e-5, keep: 0.9, take: 0.1, varianceFactor: 32 / 31, nan: NaN };
    const forward = plan([32, 128], 'NC')!;
    expect(() => packParams(shaders.fusedSmallForward, { ...forward.params, count: 32, ...finalize })).not.toThrow();
    const backward = plan([32, 128], 'NC', 'backward')!;
    expect(() => packParams(shaders.fusedSmallBackward, { ...backward.params, channels: 128, invCount: 1 / 32, nan: NaN })).not.toThrow();
  });
});
