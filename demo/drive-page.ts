/**
 * Drives the demo page from Node (puppeteer), as a user would: open it, press Train, wait for the
 * run to finish. Used by `npm run demo:screenshot` and by the page's test.
 */
import type { Page } from 'puppeteer';
import type { DemoState } from './main';

export const demoPath = '/demo/index.html';

async function state(page: Page): Promise<DemoState | undefined> {
  return page.evaluate(() => window.demoState?.());
}

/**
 * Polls `window.demoState()` until `done(state)` holds, throwing on the page's error phase or after
 * `timeoutMs`. Polled from here: one long waitForFunction would outlast puppeteer's protocol timeout.
 */
export async function waitForDemo(page: Page, done: (s: DemoState) => boolean, timeoutMs: number): Promise<DemoState> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await state(page);
    if (s?.phase === 'error') throw new Error(`the demo failed: ${s.error}`);
    if (s && done(s)) return s;
    if (Date.now() > deadline) throw new Error(`the demo did not get there in ${timeoutMs / 1000} s; last state: ${JSON.stringify(s && { ...s, models: s.models.map((m) => ({ impl: m.impl, steps: m.steps })) })}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Presses Train on a ready page and waits for the run to be done. */
export async function trainToDone(page: Page, timeoutMs: number): Promise<DemoState> {
  await waitForDemo(page, (s) => s.phase === 'ready', timeoutMs);
  await page.click('#train');
  return waitForDemo(page, (s) => s.phase === 'done', timeoutMs);
}
