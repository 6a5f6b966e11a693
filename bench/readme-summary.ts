/**
 * Writes the compact benchmark summary of the README (between its BENCH markers) from a results
 * file: per batch norm op and layout, our ratio to the floor at each size ≥ 4 MB and the speedups
 * over TF.js.
 * Usage: npx tsx bench/readme-summary.ts [bench/results/latest.json] (npm run bench:publish runs it too).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { forwardBackwardRows, speedupCeiling } from './lib/ceiling';
import type { CaseRow } from './lib/report';
import { normOf } from './lib/types';

interface StepTime {
  backend: string;
  batchSize: number;
  stock: { msMedian: number };
  ours: { msMedian: number };
  speedup: number;
}

/** Rewrites the BENCH block of `readme` (docs/benchmark.md) from the results file `file`; returns the block, or undefined when the README has no such block. */
export function updateReadmeBench(file = 'bench/results/latest.json', readme = 'docs/benchmark.md'): string | undefined {
  const report = JSON.parse(readFileSync(file, 'utf8')) as { cases: CaseRow[]; trainingStep?: StepTime };
  // Batch norm's ops only: the norm family has its own block (readme-norms.ts).
  const rows = report.cases.filter((r) => r.elements * 4 >= 4 * 2 ** 20 && !normOf(r.op));
  const find = (op: string, layout: string, elements: number, impl: string) =>
    rows.find((r) => r.op === op && r.layout === layout && r.elements === elements && r.impl === impl);
  const fmt = (v: number | undefined, unit = '×') => (v === undefined || !Number.isFinite(v) ? '—' : `${v < 10 ? v.toFixed(2) : v.toFixed(0)}${unit}`);

  const lines = [
    '| op | layout | size | ours (webgpu) × floor | TF.js webgpu × floor | ours vs TF.js webgpu | ceiling vs TF.js webgpu | ours cpu vs TF.js cpu |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
  ];
  const keys = [...new Set(rows.filter((r) => r.impl === 'webgpu').map((r) => `${r.op}|${r.layout}|${r.elements}`))];
  for (const key of keys) {
    const [op, layout, elements] = key.split('|');
    const n = Number(elements);
    const ours = find(op, layout, n, 'webgpu')!;
    const tf = find(op, layout, n, 'tfjs-webgpu');
    const cpu = find(op, layout, n, 'cpu');
    const tfCpu = find(op, layout, n, 'tfjs-cpu');
    const ceiling = speedupCeiling(rows.filter((r) => r.op === op && r.layout === layout && r.elements === n));
    lines.push(
      `| ${op} | ${layout} | ${(n * 4) / 2 ** 20} MB | ${fmt(ours.ratioToFloor)} | ${fmt(tf?.ratioToFloor)} | ${fmt(tf && tf.ms / ours.ms)} | ${fmt(ceiling)} | ${fmt(cpu && tfCpu && tfCpu.ms / cpu.ms)} |`,
    );
  }
  const trainingRows = forwardBackwardRows({ cases: rows });
  if (trainingRows.length) {
    lines.push(
      '',
      '| forward-train + backward | size | ours (webgpu) | TF.js webgpu | ours vs TF.js webgpu | ceiling vs TF.js webgpu |',
      '|---|---:|---:|---:|---:|---:|',
      ...trainingRows.map(
        (r) => `| ${r.layout} | ${(r.elements * 4) / 2 ** 20} MB | ${r.oursMs.toFixed(1)} ms | ${r.tfjsMs.toFixed(0)} ms | ${fmt(r.speedup)} | ${fmt(r.ceiling)} |`,
      ),
    );
  }
  const step = report.trainingStep;
  if (step) {
    lines.push(
      '',
      `Training step of the demo model (Dense 128 → BN → Dense 64 → BN → Dense 10, Adam, batch ${step.batchSize}, TF.js ${step.backend} backend, \`model.trainOnBatch\` median): ` +
        `stock \`tf.layers.batchNormalization\` ${step.stock.msMedian.toFixed(0)} ms, ours ${step.ours.msMedian.toFixed(0)} ms (${step.speedup.toFixed(2)}× faster).`,
    );
  }
  const table = `<!-- BENCH:start (bench/readme-summary.ts) -->\n${lines.join('\n')}\n<!-- BENCH:end -->`;
  const text = readFileSync(readme, 'utf8');
  const updated = text.includes('BENCH_TABLE')
    ? text.replace('BENCH_TABLE', table)
    : text.replace(/<!-- BENCH:start[\s\S]*?BENCH:end -->/, table);
  // A README without the block (e.g. a shorter one that links to the results instead) is left alone.
  if (updated === text && !text.includes(table)) return undefined;
  writeFileSync(readme, updated);
  return table;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) console.log(updateReadmeBench(process.argv[2]) ?? 'docs/benchmark.md has no BENCH block: unchanged');
