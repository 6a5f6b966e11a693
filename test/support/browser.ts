import puppeteer from 'puppeteer';
import { afterAll, beforeAll, describe, inject } from 'vitest';
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
 * `describe` for suites that need the browser's WebGPU. Under CI it is `describe` itself, so these
 * suites cannot skip there: the global setup has already failed the run when the browser or the
 * adapter is missing, and a suite that got here anyway fails in openHarness(). Elsewhere, without
 * WebGPU, the suites are skipped after the setup's loud warning.
 */
export function describeGpu(name: string, body: () => void): void {
  (gpu.available || isCI() ? describe : describe.skip)(name, body);
}

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
