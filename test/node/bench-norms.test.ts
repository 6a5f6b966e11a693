import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseArgs } from '../../bench/lib/args';
import { renderChart } from '../../bench/lib/chart';
import { elementsOf, floorBytesPerElement, KB, MB, NORM_GROUPS, normShapeProblem, normShapesFor } from '../../bench/lib/cases';
import { caseRows, checkReport, type Report } from '../../bench/lib/report';
import { normSpecs } from '../../bench/lib/run-bench';
import { allOps, baseOp, batchNormOps, hasResidual, normOf, normOps, type MeasuredRow } from '../../bench/lib/types';

/*
 * The norm family's rows (layer, RMS and group norm, forward and backward): their ops on the command
 * line, the shapes each run gives them, their floors, and the results file's contract for them.
 */

function measured(impl: MeasuredRow['impl'], ms: number, maxAbsErr?: number): MeasuredRow {
  return { impl, ms, msMin: ms, msMax: ms, wallMs: ms, k: 1, reps: 1, timer: 'timestamp-query', timed: 'test', ...(maxAbsErr !== undefined ? { maxAbsErr } : {}) };
}

function report(cases: Report['cases']): Report {
  return {
    schema: 1,
    browser: 'test',
    adapter: { vendor: 'v', architecture: 'a', isFallbackAdapter: true },
    generated: '2026-01-01T00:00:00Z',
    command: 'test',
    quick: true,
    durationSeconds: 1,
    timer: 'timestamp-query',
    machine: { platform: 'linux', cpus: 2, node: 'v20' },
    tfjs: 'not run',
    notes: [],
    cases,
    skipped: [],
  };
}

/** The norm cases of a command line, as `op layout [shape]`. */
function casesOf(argv: string[]): string[] {
  return normSpecs(parseArgs(argv), 1).map((spec) => `${spec.op} ${spec.layout} [${spec.shape}]`);
}

describe('bench norm ops: names and floors', () => {
  it('names six norm ops beside batch norm five, each a forward or a backward of one kind', () => {
    expect(allOps).toEqual([...batchNormOps, ...normOps]);
    expect(normOps.map((op) => normOf(op))).toEqual([
      { kind: 'layer', backward: false },
      { kind: 'layer', backward: true },
      { kind: 'rms', backward: false },
      { kind: 'rms', backward: true },
      { kind: 'group', backward: false },
      { kind: 'group', backward: true },
    ]);
    for (const op of batchNormOps) expect(normOf(op)).toBeUndefined();
    // A norm forward computes its statistics from x (as forward-train), none adds a residual.
    expect(normOps.map(baseOp)).toEqual(['forward-train', 'backward', 'forward-train', 'backward', 'forward-train', 'backward']);
    expect(normOps.some(hasResidual)).toBe(false);
    expect(batchNormOps.filter(hasResidual)).toEqual(['forward-train-residual', 'backward-residual']);
  });

  it('counts 12 B per element for a forward and 20 B for a backward, as batch norm', () => {
    expect(normOps.map((op) => floorBytesPerElement(op))).toEqual([12, 20, 12, 20, 12, 20]);
    expect(normOps.map((op) => floorBytesPerElement(op, 'float16'))).toEqual([6, 10, 6, 10, 6, 10]);
  });

  it('derives a norm row floor from the copy of its case, and the contract holds for it', () => {
    const shape = [1024, 1024];
    // The copy moves 8 B per element in 2 ms; the forward's 12 B per element then take 3 ms.
    const rows = caseRows('layer-norm', 'NC', shape, [measured('copy', 2), measured('webgpu', 4.5, 1e-6), measured('tfjs-webgpu', 30, 1e-6)]);
    const ours = rows.find((r) => r.impl === 'webgpu')!;
    expect(ours.floorBytes).toBe(12 * elementsOf(shape));
    expect(ours.floorMs).toBeCloseTo(3, 12);
    expect(ours.ratioToFloor).toBeCloseTo(1.5, 12);
    expect(checkReport(report(rows))).toEqual([]);
    // A floor of the wrong op's bytes breaks it.
    const backward = caseRows('group-norm-backward', 'NCHW', [2, 64, 8, 8], [measured('copy', 1), measured('webgpu', 3, 1e-6)]);
    expect(backward[1].floorMs).toBeCloseTo(2.5, 12);
    expect(checkReport(report([...rows, ...backward]))).toEqual([]);
    expect(checkReport(report([...rows, backward[0], { ...backward[1], floorBytes: 12 * backward[1].elements }]))).toEqual([
      'cases[4] (group-norm-backward NCHW webgpu): floorBytes ≠ 20 × elements (float32)',
    ]);
  });
});

describe('bench norm ops: command line and shapes', () => {
  it('takes norm ops in --ops, alone or with batch norm ones, and names them when refusing one', () => {
    expect(parseArgs(['--ops', 'layer-norm,group-norm-backward']).ops).toEqual(['layer-norm', 'group-norm-backward']);
    expect(parseArgs(['--ops', 'forward-train,rms-norm']).ops).toEqual(['forward-train', 'rms-norm']);
    expect(parseArgs([]).ops).toEqual(allOps);
    // Each family by its name, once each.
    expect(parseArgs(['--ops', 'norms']).ops).toEqual(normOps);
    expect(parseArgs(['--ops', 'batchnorm,layer-norm,norms']).ops).toEqual(allOps);
    expect(() => parseArgs(['--ops', 'layernorm'])).toThrow(/unknown op 'layernorm' \(expected .*layer-norm, layer-norm-backward, rms-norm, rms-norm-backward, group-norm, group-norm-backward, or batchnorm or norms/);
  });

  it('runs one 4 MB size with --quick, 1 MB … 64 MB otherwise, --sizes (and --smoke) when given', () => {
    expect(parseArgs(['--quick']).normSizes).toEqual([4 * MB]);
    expect(parseArgs([]).normSizes).toEqual([MB, 4 * MB, 16 * MB, 64 * MB]);
    expect(parseArgs(['--quick', '--sizes', '1MB,16MB']).normSizes).toEqual([MB, 16 * MB]);
    expect(parseArgs(['--smoke']).normSizes).toEqual([64 * KB]);
  });

  it('gives layer and RMS norm [rows, D] with a transformer hidden size, group norm NCHW in 32 groups, and a small shape each', () => {
    expect(casesOf(['--quick', '--ops', 'layer-norm,rms-norm-backward,group-norm'])).toEqual([
      'layer-norm NC [1024,1024]',
      'layer-norm NC [32,128]',
      'rms-norm-backward NC [1024,1024]',
      'rms-norm-backward NC [32,128]',
      'group-norm NCHW [8,128,32,32]',
      'group-norm NCHW [2,64,8,8]',
    ]);
    // The full sweep: D = 1024 and 768 at each size; --smoke: the one size, no small shape.
    expect(casesOf(['--ops', 'layer-norm-backward', '--sizes', '4MB'])).toEqual(['layer-norm-backward NC [1024,1024]', 'layer-norm-backward NC [1366,768]', 'layer-norm-backward NC [32,128]']);
    expect(casesOf(['--smoke', '--ops', 'rms-norm,group-norm-backward'])).toEqual(['rms-norm NC [16,1024]', 'group-norm-backward NCHW [2,128,8,8]']);
    // Batch norm ops and --layouts do not change them.
    expect(casesOf(['--quick', '--ops', 'forward-train,group-norm', '--layouts', 'NHWC'])).toEqual(['group-norm NCHW [8,128,32,32]', 'group-norm NCHW [2,64,8,8]']);
  });

  it('sizes every shape to at least the size asked, within one row or sample of it', () => {
    for (const op of normOps) {
      for (const bytes of [64 * KB, MB, 4 * MB, 16 * MB, 64 * MB]) {
        for (const { layout, shape } of normShapesFor(op, bytes)) {
          const rowBytes = (4 * elementsOf(shape)) / shape[0];
          const total = 4 * elementsOf(shape);
          if (normOf(op)!.kind === 'group') {
            expect(layout).toBe('NCHW');
            expect(shape[1] % NORM_GROUPS).toBe(0);
            expect(shape[1] / NORM_GROUPS).toBeGreaterThan(1);
            expect(total).toBeLessThanOrEqual(bytes);
            expect(total).toBeGreaterThan(bytes - rowBytes);
          } else {
            expect(layout).toBe('NC');
            expect([1024, 768]).toContain(shape[1]);
            expect(total).toBeGreaterThanOrEqual(bytes);
            expect(total).toBeLessThan(bytes + rowBytes);
          }
        }
      }
    }
  });

  it('runs --shapes that fit each norm op, and refuses an op none of them fits', () => {
    const shapes = ['--shapes', 'NHWC:2x4x4x64,NCHW:2x64x4x4,NC:8x96'];
    expect(casesOf([...shapes, '--ops', 'layer-norm,group-norm'])).toEqual([
      'layer-norm NHWC [2,4,4,64]',
      'layer-norm NCHW [2,64,4,4]',
      'layer-norm NC [8,96]',
      'group-norm NCHW [2,64,4,4]',
      'group-norm NC [8,96]',
    ]);
    expect(normShapeProblem('group-norm', 'NHWC', [2, 4, 4, 64])).toMatch(/channels-first/);
    expect(normShapeProblem('group-norm-backward', 'NCHW', [2, 48, 4, 4])).toMatch(/32 groups must divide C = 48/);
    expect(normShapeProblem('rms-norm', 'NHWC', [2, 4, 4, 48])).toBeUndefined();
    expect(() => casesOf(['--shapes', 'NHWC:2x4x4x64,NCL:2x16x8', '--ops', 'group-norm'])).toThrow(/--ops group-norm: none of --shapes fits \(group norm runs channels-first layouts only \(not NHWC\); group norm's 32 groups must divide C = 16\)/);
  });

  it('numbers the norm cases on from the batch norm ones (each case its own inputs)', () => {
    const specs = normSpecs(parseArgs(['--quick', '--ops', 'layer-norm,group-norm', '--dtype', 'float16']), 40);
    expect(specs.map((spec) => spec.seed)).toEqual([40, 41, 42, 43]);
    // float16 runs list them as skipped (runner): they carry the run's dtype.
    expect(specs.every((spec) => spec.dtype === 'float16')).toBe(true);
  });
});

describe('bench norm ops: the published run', () => {
  const published = JSON.parse(readFileSync(new URL('../../bench/results/norms.json', import.meta.url), 'utf8')) as Report;

  it('holds every norm op, each with its floor, our checked row (with its launches), the CPU path and TF.js', () => {
    expect(checkReport(published)).toEqual([]);
    expect([...new Set(published.cases.map((row) => row.op))]).toEqual(normOps);
    for (const row of published.cases.filter((r) => r.impl === 'webgpu')) {
      const others = published.cases.filter((r) => r.op === row.op && r.shape.join() === row.shape.join()).map((r) => r.impl).sort();
      expect(others, `${row.op} [${row.shape}]`).toEqual(['copy', 'cpu', 'tfjs-cpu', 'tfjs-webgpu', 'webgpu']);
      expect(row.maxAbsErr).toBeLessThanOrEqual(1e-3);
      expect(row.reference).toMatch(/CPU path/);
      expect(row.dispatches).toBeGreaterThanOrEqual(3);
      // y with the row statistics (RMS norm: invStd only), or dx with dγ (and dβ but for RMS norm).
      const names = normOf(row.op)!.backward ? ['dx', 'dgamma', 'dbeta'] : ['y', 'mean', 'invStd'];
      expect(Object.keys(row.errors ?? {}).sort()).toEqual(names.filter((n) => normOf(row.op)!.kind !== 'rms' || (n !== 'mean' && n !== 'dbeta')).sort());
    }
  });

  it('charts a panel per op and layout it ran, none for the layouts an op has no rows in', () => {
    const svg = renderChart(published);
    for (const panel of ['layer-norm · NC', 'rms-norm-backward · NC', 'group-norm · NCHW']) expect(svg).toContain(`>${panel}<`);
    for (const panel of ['layer-norm · NCHW', 'group-norm · NC']) expect(svg).not.toContain(`>${panel}<`);
  });
});
