import puppeteer from 'puppeteer';
import { afterAll, beforeAll, inject } from 'vitest';
import { isCI } from '../setup/gpu-context';
import { openHarnessPage, type HarnessPage } from './harness-page';

export type { HarnessPage } from './harness-page';

const gpu = inject('gpu');

/** Whether the global setup found a browser whose page has a WebGPU adapter. */
export function gpuAvailable(): boolean {
  return gpu.available;
}

/** Why GPU tests are skipped, or '' when they run. */
export const gpuSkipReason = gpu.available ? '' : `no WebGPU: ${gpu.reason}`;

/**
 * Pass to describe.skipIf / it.skipIf. Never true under CI: there the global setup already failed
 * the run, and should a test get here anyway it fails in openHarness() rather than skipping.
 */
export const gpuSkipped = !gpu.available && !isCI();

/** Opens a fresh harness page in the run's shared browser; close() it in afterAll. */
export async function openHarness(): Promise<HarnessPage> {
  if (!gpu.available) throw new Error(`GPU tests cannot run: ${gpu.reason}`);
  const browser = await puppeteer.connect({ browserWSEndpoint: gpu.wsEndpoint });
  let page: HarnessPage;
  try {
    page = await openHarnessPage(browser, gpu.baseUrl);
  } catch (error) {
    await browser.disconnect();
    throw error;
  }
  return {
    call: page.call,
    async close() {
      try {
        await page.close();
      } finally {
        // Disconnect, not close: the browser belongs to the whole run.
        await browser.disconnect();
      }
    },
  };
}

/** The adapter the global setup found, for tests that depend on its features or limits. */
export function adapterInfo() {
  if (!gpu.available) throw new Error(`GPU tests cannot run: ${gpu.reason}`);
  return gpu.adapterInfo;
}

/**
 * Opens a harness page before the enclosing suite's tests and closes it after them; call it at the
 * top of a describe block and use the returned getter inside the tests.
 */
export function useHarness(): () => HarnessPage {
  let harness: HarnessPage | undefined;
  beforeAll(async () => {
    harness = await openHarness();
  });
  afterAll(async () => {
    await harness?.close();
  });
  return () => {
    if (!harness) throw new Error('the harness page is not open (useHarness() outside a describe block?)');
    return harness;
  };
}
