/**
 * `npm run bench:analyze [-- --sizes 4MB --layouts NC,NHWC,NCHW --tuning gpu-defaults --out FILE]`: where our kernels'
 * time goes, in headless Chromium (bench/lib/analysis.ts says what is timed). Writes the rows as
 * JSON (default bench/results/local/analysis.json). The Node bench does the same on any adapter:
 * `node bench-gpu.mjs --analyze`.
 */
import { parseArgs } from './lib/args';
import { analysisReport, runAnalysis, type AnalysisResult } from './lib/analysis';
import { call, openBenchPage } from './lib/browser';
import { defaultOut, writeAtomic } from './lib/outputs';
import { tuningForAdapter } from '../src/gpu/tuning';

const argv = process.argv.slice(2);
const args = parseArgs(argv.includes('--sizes') ? argv : [...argv, '--sizes', '4MB']);
const out = args.out === defaultOut ? 'bench/results/local/analysis.json' : args.out;
const session = await openBenchPage(args.browser, (text) => console.log(text));
try {
  const environment = await call(session.page, 'init', args.deviceLimits);
  // `--tuning gpu-defaults`: a GPU's tunings whatever the adapter.
  const software = args.tuning === 'adapter' && Object.keys(tuningForAdapter(environment.adapter)).length > 0;
  const command = `npm run bench:analyze -- ${argv.join(' ')}`.trim();
  const save = (result: AnalysisResult, complete: boolean) => writeAtomic(out, `${JSON.stringify(analysisReport(environment, command, software, result, complete), null, 1)}\n`);
  const result = await runAnalysis(
    {
      analyzeCopy: (elements, shapes, plan) => call(session.page, 'analyzeCopy', elements, shapes, plan),
      analyze: (layout, shape, tunings, plan) => call(session.page, 'analyze', layout, shape, tunings, plan),
    },
    { layouts: args.layouts, sizes: args.sizes, software },
    (line) => console.log(line),
    (partial) => save(partial, false),
  );
  save(result, true);
  console.log(`\nwrote ${out}`);
} finally {
  await session.close();
}
