/**
 * `npm run bench:analyze [-- --sizes 4MB --layouts NC,NHWC,NCHW]`: where our kernels' time goes.
 * For each layout and size: the copy floor, a read-only pass over x, the statistics kernel alone,
 * statistics + finalize, inference, forward-train, the backward reduce alone and the backward, for
 * a few launch tunings; printed as ms and GB/s (bytes the variant must move / time).
 */
import { parseArgs } from './lib/args';
import { call, openBenchPage } from './lib/browser';
import { formatSize, shapeFor } from './lib/cases';
import { formatMs } from './lib/table';
import { softwareAdapterTuning } from '../src/gpu/tuning';

const argv = process.argv.slice(2);
const args = parseArgs(argv.includes('--sizes') ? argv : [...argv, '--sizes', '4MB']);
const tunings = [
  { ...softwareAdapterTuning }, // what the engine uses on a software adapter such as SwiftShader
  {}, // the defaults for GPUs: many short threads, many partials
  { ...softwareAdapterTuning, applyUnitsPerThread: 4 }, // shorter elementwise threads
  { ...softwareAdapterTuning, blockedRows: false }, // 'Rows' reductions taking every K-th row
  { ...softwareAdapterTuning, runSegments: false }, // 'Runs' reductions with a workgroup sum per chunk
  { ...softwareAdapterTuning, workgroupSize: 256 },
];
const plan = { targetBatchMs: 40, maxK: 32, minReps: 5, maxReps: 9, budgetMs: 3000 };
const session = await openBenchPage(args.browser, (text) => console.log(text));
try {
  await call(session.page, 'init', args.deviceLimits);
  const copyShapes = [
  ...[4, 8, 16, 32].flatMap((unitsPerThread) => [64, 128].map((workgroupSize) => ({ workgroupSize, unitsPerThread }))),
  ...[64, 256, 1024].flatMap((unitsPerThread) => [4, 16, 64].map((workgroupSize) => ({ workgroupSize, unitsPerThread, walk: 'segments' as const }))),
];
  for (const bytes of args.sizes) {
    console.log(`\ncopy kernel launch shapes, ${formatSize(bytes)}`);
    for (const row of await call(session.page, 'analyzeCopy', bytes / 4, copyShapes, plan)) {
      console.log(`    ${row.variant.padEnd(58)} ${formatMs(row.ms).padStart(9)}  ${row.gbps.toFixed(2).padStart(6)} GB/s  [${formatMs(row.msMin)} … ${formatMs(row.msMax)}]`);
    }
  }
  for (const layout of args.layouts) {
    for (const bytes of args.sizes) {
      const shape = shapeFor(layout, bytes);
      const rows = await call(session.page, 'analyze', layout, shape, tunings, plan);
      console.log(`\n${layout} [${shape.join(', ')}] (${formatSize(bytes)})`);
      let tuning = '';
      for (const row of rows) {
        if (row.tuning !== tuning) {
          tuning = row.tuning;
          console.log(`  ${tuning}`);
        }
        console.log(`    ${row.variant.padEnd(58)} ${formatMs(row.ms).padStart(9)}  ${row.gbps.toFixed(2).padStart(6)} GB/s  [${formatMs(row.msMin)} … ${formatMs(row.msMax)}]`);
      }
    }
  }
} finally {
  await session.close();
}
