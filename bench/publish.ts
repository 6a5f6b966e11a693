/**
 * `npm run bench:publish [-- FILE]`: makes a run the project's published one. Runs write to the
 * ignored bench/results/local/ (so that measuring leaves the checkout unchanged); this copies FILE
 * (default bench/results/local/latest.json) into bench/results/, re-renders its chart and table
 * there, and refreshes the README's block for it (latest.json: the benchmark table; size-curve.json:
 * the size curve). A file that breaks the contract or has wrong webgpu rows is refused.
 */
import { readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { renderChart } from './lib/chart';
import { defaultOut, outputPaths, publishedDir } from './lib/outputs';
import { checkReport, type Report } from './lib/report';
import { isWrong, readmeTable } from './lib/table';
import { writeAtomic } from './lib/run-bench';
import { updateReadmeCurve } from './readme-curve';
import { updateReadmeBench } from './readme-summary';

const source = resolve(process.argv[2] ?? defaultOut);
const text = readFileSync(source, 'utf8');
const report = JSON.parse(text) as Report;
const problems = checkReport(report);
const wrong = report.cases.filter((row) => row.impl === 'webgpu' && isWrong(row));
if (problems.length || wrong.length) {
  console.error(`${source} is not published: ${[...problems, ...wrong.map((r) => `wrong results: ${r.op} ${r.layout} [${r.shape}]`)].join('; ')}`);
  process.exit(1);
}
const name = basename(source);
const { json, chart, table } = outputPaths(resolve(publishedDir, name));
writeAtomic(json, text);
writeAtomic(chart, renderChart(report));
writeAtomic(table, readmeTable(report, name));
console.log(`published ${source} as ${json}, ${chart}, ${table}`);
const readmeBlock = name === 'latest.json' ? updateReadmeBench : name === 'size-curve.json' ? updateReadmeCurve : undefined;
if (readmeBlock) {
  readmeBlock(join(publishedDir, name));
  console.log(`README.md: its ${name === 'latest.json' ? 'BENCH' : 'CURVE'} block now shows ${json}`);
}
