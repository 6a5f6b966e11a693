/**
 * `npm run demo:screenshot [-- steps]`: opens the demo in headless Chromium (WebGPU through
 * --enable-unsafe-webgpu, page on http://127.0.0.1), trains ours then the stock layer for `steps`
 * steps each (default 150), and writes docs/demo.png.
 */
import { mkdirSync } from 'node:fs';
import { launchBrowser, repoRoot, startServer } from '../test/setup/launch';

const steps = Number(process.argv[2] ?? 150);
const out = `${repoRoot}docs/demo.png`;
const server = await startServer();
const browser = await launchBrowser();
try {
  const page = await browser.newPage();
  page.on('pageerror', (error) => console.error(`[page] ${String(error)}`));
  await page.setViewport({ width: 1240, height: 1010, deviceScaleFactor: 1 });
  await page.goto(`${server.url}/demo/index.html?auto=${steps}`);
  const started = Date.now();
  // Polled from here: one long waitForFunction would outlast puppeteer's protocol timeout.
  while (!(await page.evaluate(() => window.demoDone === true || window.demoError !== undefined))) await new Promise((r) => setTimeout(r, 2000));
  const error = await page.evaluate(() => window.demoError);
  if (error) throw new Error(`demo failed: ${error}`);
  console.log(`trained ${steps} steps of each model in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  mkdirSync(`${repoRoot}docs`, { recursive: true });
  await page.screenshot({ path: out, fullPage: true });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
  await server.close();
}
