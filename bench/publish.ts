/**
 * `npm run bench:publish [-- FILE]`: makes a run the project's published one. Runs write to the
 * ignored bench/results/local/ (so that measuring leaves the checkout unchanged); this copies FILE
 * (default bench/results/local/latest.json) into bench/results/, re-renders its chart and table
 * there, and refreshes the README's blocks for it (latest.json: the benchmark table, and the norm
 * family's if it has norm rows; norms.json: the norm family's; size-curve.json: the size curve). A
 * file that breaks the contract or has wrong webgpu rows is refused.
 */
import { readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { renderChart } from './lib/chart';
import { defaultOut, outputPaths, publishedDir, writeAtomic } from './lib/outputs';
import { checkReport, type Report } from './lib/report';
import { isWrong, readmeTable } from './lib/table';
import { updateReadmeCurve } from './readme-curve';
import { updateReadmeNorms } from './readme-norms';
import { updateReadmeBench } from './readme-summary';

export interface Published {
  files: string[];
  /** The README blocks rewritten ('BENCH', 'CURVE', 'NORMS' or 'BENCH, NORMS'), if any. */
  readmeBlock: string | undefined;
}

/** Publishes `source` into `into` (default bench/results) and its block of `readme`; throws on a report it refuses. */
export function publish(source: string, into = publishedDir, readme = 'docs/benchmark.md'): Published {
  const text = readFileSync(source, 'utf8');
  const report = JSON.parse(text) as Report;
  const problems = [
    ...checkReport(report),
    ...report.cases.filter((row) => row.impl === 'webgpu' && isWrong(row, report.dtype)).map((r) => `wrong results: ${r.op} ${r.layout} [${r.shape}]`),
  ];
  if (problems.length) throw new Error(`${source} is not published: ${problems.join('; ')}`);
  const name = basename(source);
  const { json, chart, table } = outputPaths(resolve(into, name));
  writeAtomic(json, text);
  writeAtomic(chart, renderChart(report));
  writeAtomic(table, readmeTable(report, name));
  // The blocks each file feeds: latest.json batch norm's table, and the norm family's when it has
  // norm rows (as norms.json, a run of the norm ops alone); size-curve.json the size curve.
  const updates: [string, (file: string, readme: string) => string | undefined][] =
    name === 'latest.json' ? [['BENCH', updateReadmeBench], ['NORMS', updateReadmeNorms]] : name === 'size-curve.json' ? [['CURVE', updateReadmeCurve]] : name === 'norms.json' ? [['NORMS', updateReadmeNorms]] : [];
  const blocks = updates.filter(([, update]) => update(join(into, name), readme) !== undefined).map(([block]) => block);
  return { files: [json, chart, table], readmeBlock: blocks.length ? blocks.join(', ') : undefined };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const source = resolve(process.argv[2] ?? defaultOut);
  try {
    const { files, readmeBlock } = publish(source);
    console.log(`published ${source} as ${files.join(', ')}`);
    console.log(readmeBlock ? `docs/benchmark.md: rewrote its ${readmeBlock} block(s) from ${files[0]}` : 'docs/benchmark.md: no block for this file, unchanged');
  } catch (error) {
    console.error((error as Error).message);
    process.exitCode = 1;
  }
}
