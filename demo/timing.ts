/**
 * `npm run demo:timing [-- steps]`: per-training-step time of the demo model, stock batch norm vs
 * ours, measured in headless Chromium on TF.js's WebGPU backend by demo/step-timing.ts. Prints a
 * table and the JSON report.
 */
import { launchBrowser, startServer } from '../test/setup/launch';
import type { StepTimingReport } from './step-timing';

const steps = Number(process.argv[2] ?? 60);
const server = await startServer();
const browser = await launchBrowser();
try {
  const page = await browser.newPage();
  page.on('pageerror', (error) => console.error(`[page] ${String(error)}`));
  await page.goto(`${server.url}/demo/index.html?timing=${steps}`);
  // Polled from here: one long waitForFunction would outlast puppeteer's protocol timeout.
  while (!(await page.evaluate(() => window.stepTiming !== undefined || window.demoState?.().phase === 'error'))) await new Promise((r) => setTimeout(r, 2000));
  const [report, error] = await page.evaluate(() => [window.stepTiming, window.demoState?.().error] as const);
  if (!report) throw new Error(`timing failed: ${error}`);
  const r = report as StepTimingReport;
  console.log(`backend ${r.backend}, batch ${r.batchSize}, ${r.ours.steps} timed steps each`);
  for (const t of [r.stock, r.ours]) {
    console.log(`${t.impl.padEnd(6)} median ${t.msMedian.toFixed(1)} ms  mean ${t.msMean.toFixed(1)}  min ${t.msMin.toFixed(1)}  max ${t.msMax.toFixed(1)}`);
  }
  console.log(`speedup (stock / ours, medians): ${r.speedup.toFixed(2)}×`);
  console.log(JSON.stringify(r));
} finally {
  await browser.close();
  await server.close();
}
