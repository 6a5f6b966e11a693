/**
 * Writes the norm family's table of docs/benchmark.md (between its NORMS markers) from a results
 * file with norm rows: per norm op and shape, our ratio to the copy floor, TF.js's, the speedups over
 * TF.js on each backend and our largest error against the CPU path. Batch norm's table (the BENCH
 * block, readme-summary.ts) keeps batch norm's ops only.
 * Usage: npx tsx bench/readme-norms.ts [bench/results/norms.json] (npm run bench:publish runs it too).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { formatSize } from './lib/cases';
import { speedupCeiling } from './lib/ceiling';
import { groupCases } from './lib/groups';
import type { Report } from './lib/report';
import { normOf, normOps } from './lib/types';

const fmt = (v: number | undefined, unit = '×') => (v === undefined || !Number.isFinite(v) ? '—' : `${v < 10 ? v.toFixed(2) : v.toFixed(0)}${unit}`);

/** The NORMS block's table from a report's norm rows (undefined when it has none). */
export function normsTable(report: Pick<Report, 'cases'>): string | undefined {
  const groups = groupCases(report.cases.filter((row) => normOf(row.op)))
    // Ops in their fixed order, then larger tensors first (the small shape last).
    .sort((a, b) => (normOps as string[]).indexOf(a[0].op) - (normOps as string[]).indexOf(b[0].op) || b[0].elements - a[0].elements);
  if (!groups.some((group) => group.some((row) => row.impl === 'webgpu'))) return undefined;
  const lines = [
    '| op | layout | shape | size | ours (webgpu) × floor | TF.js webgpu × floor | ours vs TF.js webgpu | ceiling vs TF.js webgpu | ours cpu vs TF.js cpu | webgpu max error |',
    '|---|---|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const group of groups) {
    const find = (impl: string) => group.find((row) => row.impl === impl);
    const ours = find('webgpu');
    if (!ours) continue;
    const [tf, cpu, tfCpu] = [find('tfjs-webgpu'), find('cpu'), find('tfjs-cpu')];
    lines.push(
      `| ${ours.op} | ${ours.layout} | ${ours.shape.join('×')} | ${formatSize(ours.elements * 4)} | ${fmt(ours.ratioToFloor)} | ${fmt(tf?.ratioToFloor)} | ` +
        `${fmt(tf && tf.ms / ours.ms)} | ${fmt(speedupCeiling(group))} | ${fmt(cpu && tfCpu && tfCpu.ms / cpu.ms)} | ${ours.maxAbsErr?.toExponential(1) ?? '—'} |`,
    );
  }
  return lines.join('\n');
}

/**
 * Rewrites the NORMS block of `readme` (docs/benchmark.md) from the results file `file`; returns the
 * block, or undefined when the file has no norm rows or the README no such block (both left alone).
 */
export function updateReadmeNorms(file = 'bench/results/norms.json', readme = 'docs/benchmark.md'): string | undefined {
  const table = normsTable(JSON.parse(readFileSync(file, 'utf8')) as Report);
  if (table === undefined) return undefined;
  const block = `<!-- NORMS:start (bench/readme-norms.ts) -->\n${table}\n<!-- NORMS:end -->`;
  const text = readFileSync(readme, 'utf8');
  const updated = text.replace(/<!-- NORMS:start[\s\S]*?NORMS:end -->/, block);
  if (updated === text && !text.includes(block)) return undefined;
  writeFileSync(readme, updated);
  return block;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) console.log(updateReadmeNorms(process.argv[2]) ?? 'no norm rows in the file, or docs/benchmark.md has no NORMS block: unchanged');
