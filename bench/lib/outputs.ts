/** Where a run writes: the results JSON, and the chart and markdown table beside it. */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Where `npm run bench` writes by default: an ignored folder, so that a run leaves the checkout as
 * it was. `npm run bench:publish` copies a run into bench/results/ (committed) and the README.
 */
export const defaultOut = 'bench/results/local/latest.json';

/** The Node bench's default, relative to the current folder (the bundle runs from any folder). */
export const nodeDefaultOut = 'bench-gpu.json';

/** The committed results folder (`npm run bench:publish`). */
export const publishedDir = 'bench/results';

export interface OutputPaths {
  json: string;
  /** NAME.svg beside NAME.json. */
  chart: string;
  /** README-table.md beside latest.json; NAME-table.md beside any other NAME.json. */
  table: string;
  /**
   * NAME.partial.jsonl beside NAME.json while the run goes on: a line for the run, then one per case
   * as it is measured, so a run stopped before its end (a time limit on a lent machine) leaves what
   * it measured. Removed once the results file is written.
   */
  partial: string;
}

export function outputPaths(json: string): OutputPaths {
  const stem = basename(json).replace(/\.json$/i, '');
  const chart = join(dirname(json), `${stem}.svg`);
  const table = join(dirname(json), basename(json) === basename(defaultOut) ? 'README-table.md' : `${stem}-table.md`);
  return { json, chart, table, partial: join(dirname(json), `${stem}.partial.jsonl`) };
}

/** Writes a whole file or nothing: a reader (or a run stopped midway) never sees half of it. */
export function writeAtomic(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}
