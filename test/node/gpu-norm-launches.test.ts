import { describe, expect, it } from 'vitest';
import { checkNormCall } from '../../src/gpu/norms/encode-norms';
import { normElementwiseShape, planNormBackward, planNormForward, rowsView, walkView } from '../../src/gpu/norms/norm-launches';
import type { GpuContext } from '../../src/gpu/context';
import { defaultTuning, softwareAdapterTuning, resolveTuning } from '../../src/gpu/tuning';
import { planRowWalk, rowBackwardLayout, rowWiseChains, unitsInRow } from '../../src/gpu/norms/norm-rows';
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

  it('takes the row-wise kernels for rows of vec4 units, holding γ and β per thread where they run along the row', () => {
    const software = resolveTuning(undefined, 256, softwareAdapterTuning);
    const gpu = resolveTuning(undefined, 256, defaultTuning);
    const plan = (v: NormView, tuning = software, purpose: 'forward' | 'backward' = 'forward', bindingBytes = 1 << 30) => planRowWalk(v, tuning, bindingBytes, 65535, purpose);
    // Layer norm [1024, 1024] (256 units a row): 64 threads hold 4 units each; software adapters
    // share a column set among 512 / 64 row groups, GPUs give each row its own (forward).
    expect(plan(view(1024, 1024, 1, 1))).toEqual({ variant: 'Vec4Columns', rowThreads: 64, rowGroups: 8, rowUnits: 256, inner: 1, groupParams: 256, grid: [8, 1] });
    expect(plan(view(1024, 1024, 1, 1), gpu)).toMatchObject({ variant: 'Vec4Columns', rowThreads: 64, rowGroups: 1024, grid: [256, 1] });
    // The backward caps GPUs' row groups (one part of dγ, dβ per row group).
    expect(plan(view(100000, 1024, 1, 1), gpu, 'backward')).toMatchObject({ rowThreads: 64, rowGroups: 256 });
    // A short row still spreads over up to four threads (an invocation group's lanes read neighbouring
    // units); a row of 192 units takes 48 threads of 4 units each.
    expect(plan(view(3, 8, 1, 1))).toMatchObject({ rowThreads: 2, rowGroups: 3 });
    expect(plan(view(5, 12, 1, 1))).toMatchObject({ rowThreads: 3, rowUnits: 3 });
    expect(plan(view(1366, 768, 1, 1))).toMatchObject({ rowThreads: 48, rowUnits: 192 });
    // Group norm: parameters per unit (inner == 1, several groups: forward only) or per channel run
    // (inner % 4 == 0), whose units the row's threads split (up to 4 on software adapters).
    expect(plan(view(2, 8, 1, 2))).toMatchObject({ variant: 'Vec4Channels', groupParams: 1 });
    expect(plan(view(2, 8, 1, 2), software, 'backward')).toBeUndefined();
    expect(plan(view(2, 6, 8, 3))).toMatchObject({ variant: 'Vec4Run', inner: 2, groupParams: 2, rowThreads: 2 });
    expect(plan(view(2, 6, 64, 3), software, 'backward')).toMatchObject({ variant: 'Vec4Run', inner: 16, rowThreads: 4, grid: [1, 1] });
    expect(plan(view(2, 6, 64, 3), gpu, 'backward')).toMatchObject({ rowThreads: 16, grid: [1, 1] });
    // Rows of single values, vec4 units across two parameters, a tensor above one binding: the tensor-wide walk.
    for (const v of [view(4, 6, 1, 1), view(2, 6, 2, 3), view(2, 6, 6, 3)]) expect(plan(v)).toBeUndefined();
    expect(plan(view(1024, 1024, 1, 1), software, 'forward', 1 << 20)).toBeUndefined();
  });

  it('drops the Columns kernels\' bounds tests for the units every thread has in the row', () => {
    const software = resolveTuning(undefined, 256, softwareAdapterTuning);
    const inRow = (D: number, tuning = software) => unitsInRow(planRowWalk(view(3, D, 1, 1), tuning, 1 << 30, 65535)!);
    // D a multiple of 16 and at least 64: 4 units for each of D / 16 threads.
    for (const D of [64, 128, 768, 1024, 4096]) expect(inRow(D)).toBe(4);
    expect(inRow(1024, resolveTuning(undefined, 256, defaultTuning))).toBe(4);
    // Otherwise the last unit of some threads is past the row: D = 1000 is 250 units for 63 threads
    // (units 189 + lane of lanes ≥ 61 are past it), 52 is 13 units for 4 threads.
    for (const D of [48, 52, 68, 100, 248, 1000]) expect(inRow(D)).toBe(3);
    // Short rows: 4 units (D = 16) or fewer for at least four threads.
    expect([4, 8, 12, 16, 32].map((D) => inRow(D))).toEqual([1, 1, 1, 1, 2]);
    // Every unit a thread skips the test for is in the row, for every lane.
    for (const D of [4, 12, 20, 36, 52, 100, 260, 1000, 1024]) {
      const walk = planRowWalk(view(3, D, 1, 1), software, 1 << 30, 65535)!;
      for (let j = 0; j < unitsInRow(walk); j++) expect(walk.rowThreads - 1 + j * walk.rowThreads).toBeLessThan(walk.rowUnits);
      // …and the next one is past it for the last lane (the count is the largest that holds).
      if (unitsInRow(walk) < 4) expect(walk.rowThreads - 1 + unitsInRow(walk) * walk.rowThreads).toBeGreaterThanOrEqual(walk.rowUnits);
    }
    // The other walks keep their own loops.
    expect(unitsInRow(planRowWalk(view(2, 6, 64, 3), software, 1 << 30, 65535, 'backward')!)).toBe(0);
  });

  it("states the row-wise backward's chains of additions and keeps its partial sums apart", () => {
    const v = view(1000, 1024, 1, 1);
    const walk = planRowWalk(v, resolveTuning(undefined, 256, softwareAdapterTuning), 1 << 30, 65535, 'backward')!;
    expect(walk).toMatchObject({ rowThreads: 64, rowGroups: 8 });
    // A row: 3 + 3 in a lane's units, 64 parts folded four a step (a pair, 16 steps, the two sums);
    // a column: 125 rows a thread in blocks of 16 (16 + 8), 8 parts.
    expect(rowWiseChains(v, walk)).toEqual({ row: 6 + 1 + 16 + 1, column: 32 });
    const layout = rowBackwardLayout(v, walk);
    expect(layout).toEqual({ columnPartials: 2 * 1000 * 64, rowSums: 2 * 1000 * 64 + 8 * 8 * 256, floats: 2 * 1000 * 64 + 8 * 8 * 256 + 2 * 1000 });
    // Group norm [40, 6, 64] in 3 groups: rows of 2 runs of 16 units, 4 threads each: a row's chain
    // 3 + 4 units + 2 runs + 4 lanes folded in one step (1 + 1 + 1); a channel's 4 units + 2 + 4
    // lanes + 40 samples in blocks of 16 (16 + 3).
    const group = view(40, 6, 64, 3);
    const run = planRowWalk(group, resolveTuning(undefined, 256, softwareAdapterTuning), 1 << 30, 65535, 'backward')!;
    expect(rowWiseChains(group, run)).toEqual({ row: 12, column: 29 });
    // Lanes left over after the steps of four are added one by one: D = 112, 7 threads of 4 units,
    // one step and 3 lanes.
    const odd = view(5, 112, 1, 1);
    const oddWalk = planRowWalk(odd, resolveTuning(undefined, 256, softwareAdapterTuning), 1 << 30, 65535, 'backward')!;
    expect(oddWalk.rowThreads).toBe(7);
    expect(rowWiseChains(odd, oddWalk).row).toBe(6 + 1 + 1 + 3 + 1);
    expect(rowBackwardLayout(group, run)).toEqual({ columnPartials: 2 * 120 * 4, rowSums: 2 * 120 * 4 + 2 * 40 * 6 * 4, floats: 2 * 120 * 4 + 2 * 40 * 6 * 4 + 2 * 120 });
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
    // Strided rows never take the row-wise kernels.
    expect(forward.rowApply).toBeUndefined();
    expect(planNormBackward(context(1 << 20), call).rowWise).toBeUndefined();
    // C/G = 2: scalar statistics, and no vec4 may straddle two groups.
    const odd = planNormForward(context(1 << 20), { ...call, view: { ...view(2, 6, 5, 3), channelsLast: true } });
    expect(odd.statistics.plan.slabs[0]).toMatchObject({ width: 'Scalar', params: { inner: 2, chunkLength: 10, chunks: 2 } });
    expect(odd.apply.variant).toBe('Scalar');
    expect(planNormBackward(context(1 << 20), call).params.entryPoint).toBe('normBackwardParamsColumns');
    expect(() => planNormForward(context(1024), call)).toThrow(expect.objectContaining({ code: 'too-large' }));
  });
});
