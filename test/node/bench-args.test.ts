import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseArgs } from '../../bench/lib/args';
import { KB, MB } from '../../bench/lib/cases';
import { linearity, linearityText } from '../../bench/lib/linearity';
import { defaultOut, outputPaths } from '../../bench/lib/outputs';
import { copyBandwidth } from '../../bench/lib/table';
import type { CaseRow } from '../../bench/lib/report';

describe('bench command line', () => {
  it('requests the adapter limits unless told otherwise', () => {
    expect(parseArgs([]).deviceLimits).toBe('adapter');
    expect(parseArgs(['--device-limits', 'default']).deviceLimits).toBe('default');
    expect(parseArgs(['--device-limits=adapter']).deviceLimits).toBe('adapter');
    expect(parseArgs(['--device-limits', 'DEFAULT']).deviceLimits).toBe('default');
  });

  it('starts from the adapter tuning without autotuning unless told otherwise', () => {
    expect(parseArgs([])).toMatchObject({ tuning: 'adapter', autotune: false });
    expect(parseArgs(['--tuning', 'gpu-defaults', '--autotune'])).toMatchObject({ tuning: 'gpu-defaults', autotune: true });
    expect(() => parseArgs(['--tuning', 'fast'])).toThrow(/--tuning 'fast'/);
  });

  it('rejects unknown or missing --device-limits values', () => {
    expect(() => parseArgs(['--device-limits', 'max'])).toThrow(/--device-limits 'max'/);
    expect(() => parseArgs(['--device-limits'])).toThrow(/needs a value/);
    expect(() => parseArgs(['--device-limits', '--quick'])).toThrow(/needs a value/);
  });

  it('lets a later option override an earlier one (npm run bench:curve -- --device-limits adapter)', () => {
    const args = parseArgs(['--sizes', '64KB,512MB', '--device-limits', 'default', '--out', 'a.json', '--device-limits', 'adapter', '--out', 'b.json', '--sizes', '1MB']);
    expect(args.deviceLimits).toBe('adapter');
    expect(args.out).toBe('b.json');
    expect(args.sizes).toEqual([MB]);
    expect(parseArgs(['--sizes', '128MB,256MB,512MB']).sizes).toEqual([128 * MB, 256 * MB, 512 * MB]);
  });
});

describe('bench command line: runtimes', () => {
  it('--smoke is a quick run at 64 KB; --sizes still wins', () => {
    const smoke = parseArgs(['--smoke']);
    expect(smoke.quick).toBe(true);
    expect(smoke.sizes).toEqual([64 * KB]);
    expect(parseArgs(['--smoke', '--sizes', '1MB']).sizes).toEqual([MB]);
  });

  it('takes the Dawn adapter options only in Node, and the browser options only in the browser bench', () => {
    const node = parseArgs(['--adapter', 'NVIDIA', '--backend', 'vulkan', '--icd', 'lvp.json'], 'node');
    expect(node.dawn).toEqual({ adapter: 'NVIDIA', backend: 'vulkan', icd: 'lvp.json', swiftshader: false });
    expect(parseArgs(['--swiftshader'], 'node').dawn.swiftshader).toBe(true);
    expect(() => parseArgs(['--swiftshader', '--icd', 'x.json'], 'node')).toThrow(/give one/);
    expect(() => parseArgs(['--adapter', 'NVIDIA'])).toThrow(/Node bench/);
    expect(() => parseArgs(['--browser', '/usr/bin/chromium'], 'node')).toThrow(/browser bench/);
    expect(parseArgs(['--tfjs-max', '1MB'], 'node').caps['tfjs-webgpu']).toBe(MB);
    expect(parseArgs([], 'node').tfjs).toBe(true);
    expect(parseArgs(['--no-tfjs'], 'node').tfjs).toBe(false);
  });

  it('--analyze is the Node bench\'s, at 4 MB unless --sizes or --smoke says otherwise', () => {
    expect(parseArgs([], 'node').analyze).toBe(false);
    expect(parseArgs(['--analyze'], 'node')).toMatchObject({ analyze: true, sizes: [4 * MB] });
    expect(parseArgs(['--analyze', '--sizes', '16MB,256MB'], 'node').sizes).toEqual([16 * MB, 256 * MB]);
    expect(parseArgs(['--analyze', '--smoke'], 'node').sizes).toEqual([64 * KB]);
    expect(() => parseArgs(['--analyze'])).toThrow(/Node bench/);
  });

  it('--shapes runs exact shapes of the given layouts, with their rank checked', () => {
    expect(parseArgs(['--shapes', 'NCHW:16x256x16x16,nhwc:32x8x8x64,NC:32x128']).shapes).toEqual([
      { layout: 'NCHW', shape: [16, 256, 16, 16] },
      { layout: 'NHWC', shape: [32, 8, 8, 64] },
      { layout: 'NC', shape: [32, 128] },
    ]);
    expect(parseArgs([]).shapes).toEqual([]);
    expect(() => parseArgs(['--shapes', 'NCHW:16x256x16'])).toThrow(/4 dimensions/);
    expect(() => parseArgs(['--shapes', 'NCHW:16x0x16x16'])).toThrow(/≥ 1/);
    expect(() => parseArgs(['--shapes', 'NXYZ:1x2'])).toThrow(/cannot read shape/);
    expect(() => parseArgs(['--shapes', '16x256'])).toThrow(/cannot read shape/);
  });

  it('reads --nominal-gbps as a positive number', () => {
    expect(parseArgs(['--nominal-gbps', '3350']).nominalGbps).toBe(3350);
    expect(() => parseArgs(['--nominal-gbps', '0'])).toThrow(/positive/);
    expect(() => parseArgs(['--nominal-gbps', 'fast'])).toThrow(/positive/);
  });

  it('writes into git-ignored places by default (browser and Node bench, and the bundle)', () => {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const scripts = JSON.parse(readFileSync(`${root}package.json`, 'utf8')).scripts as Record<string, string>;
    const nodeOut = /--out (\S+)/.exec(scripts['bench:node'])![1];
    const curveOut = /--out (\S+)/.exec(scripts['bench:curve'])![1];
    const paths = [defaultOut, nodeOut, curveOut].flatMap((json) => Object.values(outputPaths(json)));
    paths.push('.bench/bench-gpu/bench-gpu.mjs');
    expect(parseArgs([]).out).toBe(defaultOut);
    // check-ignore prints each ignored path; a path it does not print would show up in git status.
    const ignored = execFileSync('git', ['check-ignore', '--no-index', ...paths], { cwd: root, encoding: 'utf8' }).trim().split('\n');
    expect(ignored.sort()).toEqual([...paths].sort());
  });
});

describe('bench copy bandwidth', () => {
  it('gives the median and best copy GB/s per size, the peak, and the share of a nominal bandwidth', () => {
    const copy = (bytes: number, gbps: number) => ({ impl: 'copy', elements: bytes / 4, gbps }) as CaseRow;
    const rows = [copy(4 * MB, 10), copy(4 * MB, 30), copy(4 * MB, 20), copy(16 * MB, 40), copy(16 * MB, 50), { ...copy(16 * MB, 999), impl: 'webgpu' } as CaseRow];
    expect(copyBandwidth(rows)).toEqual({
      sizes: [
        { bytes: 4 * MB, cases: 3, gbpsMedian: 20, gbpsMax: 30 },
        { bytes: 16 * MB, cases: 2, gbpsMedian: 45, gbpsMax: 50 },
      ],
      peakGbps: 45,
    });
    expect(copyBandwidth(rows, 60)).toMatchObject({ peakGbps: 45, nominalGbps: 60, fractionOfNominal: 0.75 });
  });
});

describe('bench outputs', () => {
  it('writes README-table.md only beside latest.json', () => {
    expect(outputPaths('/r/bench/results/latest.json')).toEqual({
      json: '/r/bench/results/latest.json',
      chart: '/r/bench/results/latest.svg',
      table: '/r/bench/results/README-table.md',
      partial: '/r/bench/results/latest.partial.jsonl',
    });
    expect(outputPaths('/r/bench/results/size-curve.json')).toEqual({
      json: '/r/bench/results/size-curve.json',
      chart: '/r/bench/results/size-curve.svg',
      table: '/r/bench/results/size-curve-table.md',
      partial: '/r/bench/results/size-curve.partial.jsonl',
    });
  });

  it('gives time per element relative to 16 MB, per op × layout, for webgpu and copy', () => {
    // Copy rows of a case are its floor: ratioToFloor = ms ÷ (copy ms of that size) here (inference moves a copy's bytes).
    const copyMs: Record<number, number> = { [4 * MB]: 1, [16 * MB]: 4, [64 * MB]: 16, [512 * MB]: 160 };
    const row = (impl: CaseRow['impl'], bytes: number, ms: number, layout: CaseRow['layout'] = 'NC') =>
      ({ op: 'inference', layout, impl, elements: bytes / 4, ms, ratioToFloor: ms / copyMs[bytes] }) as CaseRow;
    const cases = [
      row('copy', 4 * MB, 1),
      row('copy', 16 * MB, 4),
      row('copy', 512 * MB, 160),
      row('webgpu', 4 * MB, 2),
      row('webgpu', 16 * MB, 4),
      row('webgpu', 512 * MB, 128),
      row('cpu', 4 * MB, 9),
      row('cpu', 16 * MB, 9),
      // No 16 MB point: relative to the nearest size.
      row('webgpu', 4 * MB, 1, 'NCHW'),
      row('webgpu', 64 * MB, 16, 'NCHW'),
    ];
    const summary = linearity(cases)!;
    expect(summary.series.map((s) => `${s.layout} ${s.impl}`)).toEqual(['NC webgpu', 'NC copy', 'NCHW webgpu']);
    const [webgpu, copy, nchw] = summary.series;
    expect(webgpu.points.map((p) => p.relative)).toEqual([2, 1, 1]);
    expect(copy.points.map((p) => p.relative)).toEqual([1, 1, 1.25]);
    // Against the copy: 2 ÷ 1 at 4 MB, 1 ÷ 1.25 at 512 MB.
    expect(webgpu.points.map((p) => p.vsCopy)).toEqual([2, 1, 0.8]);
    expect(copy.points.every((p) => p.vsCopy === undefined)).toBe(true);
    expect(nchw.referenceBytes).toBe(4 * MB);
    expect(nchw.points.map((p) => p.relative)).toEqual([1, 1]);
    const text = linearityText(summary);
    expect(text).toContain('512MB');
    expect(text).toMatch(/NC\s+copy\s+1\.00\s+1\.00\s+—\s+1\.25/);
    expect(text).toMatch(/webgpu ÷ copy\s+2\.00\s+1\.00\s+—\s+0\.80/);
    expect(linearity([row('webgpu', MB, 1)])).toBeUndefined();
  });
});
