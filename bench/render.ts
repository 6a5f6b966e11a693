/**
 * Re-renders the chart and README-table.md from a results file without measuring again:
 * `npx tsx bench/render.ts [bench/results/latest.json]`. Also checks the file against the contract.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { renderChart } from './lib/chart';
import { checkReport, type Report } from './lib/report';
import { readmeTable, summaryText } from './lib/table';

const path = resolve(process.argv[2] ?? 'bench/results/latest.json');
const report = JSON.parse(readFileSync(path, 'utf8')) as Report;
const problems = checkReport(report);
const chartPath = path.replace(/\.json$/i, '') + '.svg';
const tablePath = join(dirname(path), 'README-table.md');
writeFileSync(chartPath, renderChart(report));
writeFileSync(tablePath, readmeTable(report));
console.log(summaryText(report));
console.log(`wrote ${chartPath}, ${tablePath}`);
if (problems.length) {
  console.log(`${path} breaks the contract:\n  ${problems.join('\n  ')}`);
  process.exitCode = 1;
} else {
  console.log(`${path} satisfies the contract (schema 1, ${report.cases.length} rows)`);
}
