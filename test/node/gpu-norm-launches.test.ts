import { describe, expect, it } from 'vitest';
import { checkNormCall } from '../../src/gpu/norms/encode-norms';
import { normElementwiseShape, planNormBackward, planNormForward, rowsView, walkView } from '../../src/gpu/norms/norm-launches';
import type { GpuContext } from '../../src/gpu/context';
import { softwareAdapterTuning, resolveTuning } from '../../src/gpu/tuning';
import type { NormView } from '../../src/norms/norm-types';

const view = (outer: number, params: number, inner: number, groups: number): NormView => ({
  size: outer * params * inner,
  outer,
  params,
  inner,
  groups,
  rows: outer * groups,
  rowLength: (params / groups) * inner,
});

describe('norm launch plans', () => {
  it('sees the rows as the channels of a batch-norm view', () => {
    expect(rowsView(view(4, 6, 5, 3))).toEqual({ outer: 1, channels: 12, inner: 10, count: 10, size: 120 });
  });

  it('takes vec4 units only where four consecutive values share a row (and a parameter or parameter block)', () => {
    expect(normElementwiseShape(view(2, 8, 16, 2)).variant).toBe('Vec4Run');
    expect(normElementwiseShape(view(6, 64, 1, 1)).variant).toBe('Vec4Channels');
    // params % 4 == 0 but a group's D = 2: a vec4 would straddle two rows.
    expect(normElementwiseShape(view(2, 12, 1, 6)).variant).toBe('Scalar');
    expect(normElementwiseShape(view(3, 7, 1, 1)).variant).toBe('Scalar');
    expect(normElementwiseShape(view(2, 3, 6, 3)).variant).toBe('Scalar');
  });

  it('refuses options whose view disagrees with itself, with typed errors', () => {
    const good = { kind: 'group' as const, view: view(2, 6, 5, 3), eps: 1e-5, activation: 'gelu' as const };
    expect(checkNormCall(good)).toEqual(good);
    expect(() => checkNormCall({ ...good, view: { ...good.view, rowLength: 11 } })).toThrow(expect.objectContaining({ code: 'invalid-shape' }));
    expect(() => checkNormCall({ ...good, view: { ...good.view, groups: 4 } })).toThrow(expect.objectContaining({ code: 'invalid-option' }));
    expect(() => checkNormCall({ ...good, view: { ...good.view, inner: 0 } })).toThrow(expect.objectContaining({ code: 'invalid-shape' }));
    expect(() => checkNormCall({ ...good, eps: Number.NaN })).toThrow(expect.objectContaining({ code: 'invalid-option' }));
    expect(() => checkNormCall({ ...good, activation: 'tanh' })).toThrow(expect.objectContaining({ code: 'invalid-option' }));
    expect(() => checkNormCall(null)).toThrow(expect.objectContaining({ code: 'invalid-option' }));
  });

  it("takes the host-array call's options too (shape and the op's own), resolved by the same rules", () => {
    const buffer = {} as GPUBuffer;
    expect(checkNormCall({ kind: 'layer', shape: [3, 4, 10], normalizedShape: [4, 10], x: buffer, y: buffer, gamma: buffer })).toEqual({
      kind: 'layer',
      view: { size: 120, outer: 3, params: 40, inner: 1, groups: 1, rows: 3, rowLength: 40 },
      eps: 1e-5,
      activation: 'none',
    });
    expect(checkNormCall({ kind: 'group', shape: [2, 6, 5], groups: 3, convention: 'keras', activation: 'silu', residual: buffer })).toEqual({
      kind: 'group',
      view: { size: 60, outer: 2, params: 6, inner: 5, groups: 3, rows: 6, rowLength: 10 },
      eps: 1e-3,
      activation: 'silu',
    });
    expect(checkNormCall({ kind: 'rms', shape: [2, 8] }).eps).toBe(2 ** -23);
    expect(() => checkNormCall({ kind: 'group', shape: [2, 6, 5], groups: 4 })).toThrow(expect.objectContaining({ code: 'invalid-option' }));
    expect(checkNormCall({ kind: 'instance', shape: [2, 5, 6], layout: 'NLC' }).view).toMatchObject({ params: 6, inner: 5, channelsLast: true });
    expect(() => checkNormCall({ kind: 'instance', shape: [2, 5, 6, 1], axis: 2 })).toThrow(expect.objectContaining({ code: 'invalid-layout' }));
    const view = { size: 8, outer: 2, params: 4, inner: 1, groups: 1, rows: 2, rowLength: 4 };
    expect(() => checkNormCall({ kind: 'layer', shape: [2, 4], view, eps: 1e-5, activation: 'none' })).toThrow(expect.objectContaining({ code: 'invalid-option' }));
  });

  it('plans the backward on devices with 8 storage buffers per stage, refuses fewer and tensors above one binding', () => {
    const contextWith = (storage: number, bindingBytes = 1 << 20) =>
      ({
        device: { limits: { maxStorageBuffersPerShaderStage: storage, maxBufferSize: 1 << 30 } },
        tuning: resolveTuning(undefined, 256, softwareAdapterTuning),
        maxWorkgroupsPerDimension: 65535,
        bindingBytes,
        alignment: 256,
      }) as unknown as GpuContext;
    const call = { kind: 'layer' as const, view: view(70001, 3, 1, 1), eps: 1e-5, activation: 'silu' as const };
    const work = planNormBackward(contextWith(8), call);
    // Software adapters: a thread per row and per parameter column (no barriers), grids folded in 2-D where needed.
    expect(work.rows).toEqual({ entryPoint: 'normBackwardRowsSerial', grid: [Math.ceil(70001 / 64), 1] });
    expect(work.params).toEqual({ entryPoint: 'normBackwardParamsColumns', grid: [1, 1] });
    expect(planNormBackward({ ...contextWith(8), tuning: resolveTuning({ runSegments: false }, 256, softwareAdapterTuning) }, call).rows).toEqual({ entryPoint: 'normBackwardRows', grid: [35001, 2] });
    expect(() => planNormBackward(contextWith(6), call)).toThrow(expect.objectContaining({ code: 'unsupported-device' }));
    expect(() => planNormBackward(contextWith(8, 1024), call)).toThrow(expect.objectContaining({ code: 'too-large' }));
  });
  it('channels last: one stats-runs chunk per row (partial at the row index), the apply over [N·spatial, C, 1], dγ/dβ by columns; too-large above one binding', () => {
    const context = (bindingBytes: number, tuning = softwareAdapterTuning) =>
      ({
        device: { limits: { maxStorageBuffersPerShaderStage: 8, maxBufferSize: 1 << 30, maxStorageBufferBindingSize: 1 << 27 } },
        tuning: resolveTuning(undefined, 256, tuning),
        maxWorkgroupsPerDimension: 65535,
        bindingBytes,
        alignment: 256,
        constants: {},
      }) as unknown as GpuContext;
    // NHWC [3, 5, 7, 8], G = 2: rows (n, g) of 35 blocks of 4 channels (vec4 units).
    const last: NormView = { ...view(3, 8, 35, 2), channelsLast: true };
    const call = { kind: 'group' as const, view: last, eps: 1e-5, activation: 'none' as const };
    const forward = planNormForward(context(1 << 20), call);
    expect(forward.statistics.plan.chunks).toBe(1); // one partial per row: the finalize merges nothing
    expect(forward.statistics.partialsBytes).toBe(6 * 16);
    const [slab] = forward.statistics.plan.slabs;
    expect(forward.statistics.plan.slabs).toHaveLength(1);
    expect(slab).toMatchObject({ walk: '', width: 'Vec4' });
    // Channel g of [N·35, G, C/G] in chunks of one sample: workgroup n·… reduces row n·G + g.
    expect(slab.params).toMatchObject({ channels: 2, inner: 1, valuesPerChannel: 105, chunkLength: 35, chunks: 3, workgroupCount: 6, totalChannels: 2 });
    expect(walkView(last)).toMatchObject({ outer: 105, params: 8, inner: 1, rowLength: 4 });
    expect(forward.apply.variant).toBe('Vec4Channels');
    // C/G = 2: scalar statistics, and no vec4 may straddle two groups.
    const odd = planNormForward(context(1 << 20), { ...call, view: { ...view(2, 6, 5, 3), channelsLast: true } });
    expect(odd.statistics.plan.slabs[0]).toMatchObject({ width: 'Scalar', params: { inner: 2, chunkLength: 10, chunks: 2 } });
    expect(odd.apply.variant).toBe('Scalar');
    expect(planNormBackward(context(1 << 20), call).params.entryPoint).toBe('normBackwardParamsColumns');
    expect(() => planNormForward(context(1024), call)).toThrow(expect.objectContaining({ code: 'too-large' }));
  });
});
