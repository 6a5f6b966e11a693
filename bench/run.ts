/**
 * `npm run bench`: our kernels, our CPU path, TF.js (WebGPU and CPU backends) and the copy floor,
 * side by side in one headless Chromium page, per op × layout × size. Prints a line per case, a
 * table and a summary at the end, and writes bench/results/local/latest.json (the contract of
 * bench/lib/report.ts), latest.svg (chart) and README-table.md (another --out NAME.json:
 * NAME.svg and NAME-table.md); `npm run bench:publish` makes a run the committed one.
 * `npm run bench:curve` runs it over 64 KB … 512 MB (see bench/README.md).
 * `npm run bench -- --help` lists the options.
 */
import { resolve } from 'node:path';
import { parseArgs, usage, type BenchArgs } from './lib/args';
import { call, openBenchPage } from './lib/browser';
import { runBench } from './lib/run-bench';
import type { BenchDriver } from './lib/types';
import { repoRoot } from '../test/setup/launch';

function log(text: string): void {
  process.stdout.write(`${text}\n`);
}

async function main(args: BenchArgs): Promise<number> {
  const session = await openBenchPage(args.browser, log);
  const { page } = session;
  const driver: BenchDriver = {
    name: session.browserName,
    origin: session.executablePath,
    init: (limits) => call(page, 'init', limits),
    prepare: (spec, options) => call(page, 'prepare', spec, options),
    gpu: (plan) => call(page, 'gpu', plan),
    cpu: (plan) => call(page, 'cpu', plan),
    tfjs: (backend, plan) => call(page, 'tfjs', backend, plan),
    trainingStep: (steps, warmup) => call(page, 'trainingStep', steps, warmup),
    hostMicros: () => call(page, 'hostMicros'),
    useTuning: (tuning) => call(page, 'useTuning', tuning),
    autotune: (family, shapes) => call(page, 'autotune', family, shapes),
    release: () => call(page, 'release'),
    close: () => session.close(),
  };
  const command = `npm run bench${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}`;
  return runBench(args, driver, { command, out: resolve(repoRoot, args.out) });
}

let args: BenchArgs;
try {
  args = parseArgs(process.argv.slice(2));
} catch (error) {
  console.error(String((error as Error).message ?? error));
  process.exit(2);
}
if (args.help) {
  log(usage);
} else {
  process.exitCode = await main(args);
}
