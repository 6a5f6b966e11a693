/**
 * `npm run check`: forward pass on the GPU and on the CPU path in headless Chromium, and how far
 * apart they are. Exits non-zero when WebGPU is unavailable or the two disagree.
 */
import { launchBrowser, startServer } from '../test/setup/launch';

const TOLERANCE = 1e-4;

const server = await startServer();
const browser = await launchBrowser();
try {
  const page = await browser.newPage();
  page.on('pageerror', (error) => console.error(`[page] ${String(error)}`));
  await page.goto(`${server.url}/bench/check.html`);
  await page.waitForFunction(() => window.checkResult !== undefined);
  const report = (await page.evaluate(() => window.checkResult)) as {
    adapter: { vendor: string; architecture: string; isFallbackAdapter: boolean };
    backend: string;
    results: { layout: string; shape: number[]; pass: string; maxAbsDiff: number; maxRelDiff: number }[];
  };
  console.log(`backend ${report.backend}, adapter ${report.adapter.vendor} / ${report.adapter.architecture}${report.adapter.isFallbackAdapter ? ' (software fallback)' : ''}`);
  console.log('layout  shape                pass        max |gpu − cpu|   max rel');
  let worst = 0;
  for (const r of report.results) {
    worst = Math.max(worst, r.maxRelDiff);
    console.log(
      `${r.layout.padEnd(7)} ${JSON.stringify(r.shape).padEnd(20)} ${r.pass.padEnd(11)} ${r.maxAbsDiff.toExponential(2).padStart(15)} ${r.maxRelDiff.toExponential(2).padStart(9)}`,
    );
  }
  console.log(worst <= TOLERANCE ? `GPU and CPU agree (worst ${worst.toExponential(2)} ≤ ${TOLERANCE})` : `DISAGREEMENT: ${worst} > ${TOLERANCE}`);
  process.exitCode = worst <= TOLERANCE ? 0 : 1;
} finally {
  await browser.close();
  await server.close();
}
