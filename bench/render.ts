/**
 * Re-renders the chart and markdown table from a results file without measuring again:
 * `npx tsx bench/render.ts [bench/results/latest.json]` (latest.svg and README-table.md; for another
 * NAME.json, NAME.svg and NAME-table.md). Also checks the file against the contract.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { renderChart } from './lib/chart';
import { linearityText } from './lib/linearity';
import { defaultOut, outputPaths } from './lib/outputs';
import { checkReport, type Report } from './lib/report';
import { readmeTable, summaryText } from './lib/table';

const { json: path, chart: chartPath, table: tablePath } = outputPaths(resolve(process.argv[2] ?? defaultOut));
const report = JSON.parse(readFileSync(path, 'utf8')) as Report;
const problems = checkReport(report);
writeFileSync(chartPath, renderChart(report));
writeFileSync(tablePath, readmeTable(report, basename(path)));
console.log(summaryText(report));
if (report.linearity) console.log(`\nLinearity: ${report.linearity.what}\n${linearityText(report.linearity)}\n`);
console.log(`wrote ${chartPath}, ${tablePath}`);
if (problems.length) {
  console.log(`${path} breaks the contract:\n  ${problems.join('\n  ')}`);
  process.exitCode = 1;
} else {
  console.log(`${path} satisfies the contract (schema 1, ${report.cases.length} rows)`);
}
