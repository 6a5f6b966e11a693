/** Where a run writes: the results JSON, and the chart and markdown table beside it. */
import { basename, dirname, join } from 'node:path';

/** The results file of `npm run bench`; its table is the README's (README-table.md). */
export const defaultOut = 'bench/results/latest.json';

export interface OutputPaths {
  json: string;
  /** NAME.svg beside NAME.json. */
  chart: string;
  /** README-table.md beside latest.json; NAME-table.md beside any other NAME.json. */
  table: string;
}

export function outputPaths(json: string): OutputPaths {
  const stem = basename(json).replace(/\.json$/i, '');
  const chart = join(dirname(json), `${stem}.svg`);
  const table = join(dirname(json), basename(json) === basename(defaultOut) ? 'README-table.md' : `${stem}-table.md`);
  return { json, chart, table };
}
