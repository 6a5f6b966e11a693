/**
 * `npm run demo:screenshot [-- steps]`: opens the demo in headless Chromium (WebGPU through
 * --enable-unsafe-webgpu, page on http://127.0.0.1), races both layers for one epoch (or `steps`
 * steps) as a user would, pressing Train, and writes docs/demo.png.
 */
import { mkdirSync } from 'node:fs';
import { launchBrowser, repoRoot, startServer } from '../test/setup/launch';
import { demoPath, trainToDone } from './drive-page';

const steps = process.argv[2] ? Number(process.argv[2]) : undefined;
const out = `${repoRoot}docs/demo.png`;
const server = await startServer();
const browser = await launchBrowser();
try {
  const page = await browser.newPage();
  page.on('pageerror', (error) => console.error(`[page] ${String(error)}`));
  await page.setViewport({ width: 1240, height: 1010, deviceScaleFactor: 1 });
  await page.goto(`${server.url}${demoPath}?mode=race${steps ? `&steps=${steps}` : ''}`, { timeout: 120_000 });
  const started = Date.now();
  const state = await trainToDone(page, 30 * 60_000);
  console.log(`raced ${state.steps} steps of both models in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  mkdirSync(`${repoRoot}docs`, { recursive: true });
  await page.screenshot({ path: out, fullPage: true });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
  await server.close();
}
