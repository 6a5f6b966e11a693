/**
 * Writes the size-curve table of the README (between its CURVE markers) from a `bench:curve`
 * results file: per op × layout, our ratio to the copy floor at each size, and our time per
 * element relative to that at the reference size (1.0 = cost proportional to size).
 * Usage: npx tsx bench/readme-curve.ts [bench/results/size-curve.json] (npm run bench:publish runs it too).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { formatSize } from './lib/cases';

interface Point {
  bytes: number;
  relative: number;
}
interface Series {
  op: string;
  layout: string;
  impl: string;
  referenceBytes: number;
  points: Point[];
}
interface CaseRow {
  op: string;
  layout: string;
  impl: string;
  shape: number[];
  ratioToFloor?: number;
}

/** Rewrites the CURVE block of `readme` (docs/benchmark.md) from the `bench:curve` results file `file`; returns the block, or undefined when the README has no such block. */
export function updateReadmeCurve(file = 'bench/results/size-curve.json', readme = 'docs/benchmark.md'): string | undefined {
  const report = JSON.parse(readFileSync(file, 'utf8')) as { cases: CaseRow[]; linearity: { series: Series[] }; deviceLimits?: { maxStorageBufferBindingSize: number } };
  const series = report.linearity.series.filter((s) => s.impl === 'webgpu');
  const sizes = [...new Set(series.flatMap((s) => s.points.map((p) => p.bytes)))].sort((a, b) => a - b);
  const bytesOf = (shape: number[]) => shape.reduce((a, b) => a * b, 4);
  const lines = [`| op | layout | measure | ${sizes.map(formatSize).join(' | ')} |`, `|---|---|---|${sizes.map(() => '---:').join('|')}|`];
  for (const s of series) {
    const floor = sizes.map((bytes) => {
      const row = report.cases.find((c) => c.op === s.op && c.layout === s.layout && c.impl === 'webgpu' && bytesOf(c.shape) === bytes);
      return row?.ratioToFloor === undefined ? '—' : `${row.ratioToFloor.toFixed(2)}×`;
    });
    const relative = sizes.map((bytes) => s.points.find((p) => p.bytes === bytes)?.relative.toFixed(2) ?? '—');
    lines.push(`| ${s.op} | ${s.layout} | × floor | ${floor.join(' | ')} |`);
    lines.push(`| | | time per element ÷ at ${formatSize(s.referenceBytes)} | ${relative.join(' | ')} |`);
  }
  const binding = report.deviceLimits ? ` Storage-binding limit of the device: ${formatSize(report.deviceLimits.maxStorageBufferBindingSize)}.` : '';
  const table = `<!-- CURVE:start (bench/readme-curve.ts) -->\nLatest \`npm run bench:curve\` run (ours, webgpu).${binding}\n\n${lines.join('\n')}\n<!-- CURVE:end -->`;
  const text = readFileSync(readme, 'utf8');
  const updated = text.replace(/<!-- CURVE:start[\s\S]*?CURVE:end -->/, table);
  // A README without the block (e.g. a shorter one that links to the results instead) is left alone.
  if (updated === text && !text.includes(table)) return undefined;
  writeFileSync(readme, updated);
  return table;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) console.log(updateReadmeCurve(process.argv[2]) ?? 'docs/benchmark.md has no CURVE block: unchanged');
