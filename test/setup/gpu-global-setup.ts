import type { Browser } from 'puppeteer';
import type { TestProject } from 'vitest/node';
import type { AdapterReport } from '../gpu/page/adapter-info';
import { openHarnessPage } from '../support/harness-page';
import { isCI, type AvailableAdapter } from './gpu-context';
import { launchBrowser, startServer } from './launch';

type Teardown = () => Promise<void>;

/**
 * One Vite server and one Chromium for the whole GPU run; each test file opens its own tab.
 *
 * A machine without a browser or a WebGPU adapter fails the run under CI, so it can never look
 * green; elsewhere it skips the GPU tests, loudly, so the Node tests stay usable on any laptop.
 * Anything else (the server, a harness page that does not load) is a bug and fails everywhere.
 */
export default async function setup(project: TestProject): Promise<Teardown> {
  const server = await startServer();

  let browser: Browser;
  try {
    browser = await launchBrowser();
  } catch (error) {
    await server.close();
    return unavailable(project, `cannot start a browser: ${messageOf(error)}`);
  }
  const teardown = async () => {
    await browser.close();
    await server.close();
  };

  let report: AdapterReport;
  try {
    report = await probeAdapter(browser, server.url);
  } catch (error) {
    await teardown();
    throw error;
  }
  if (!report.available) {
    await teardown();
    return unavailable(project, report.reason);
  }

  console.log(`[gpu] WebGPU adapter: ${describeAdapter(report)}`);
  project.provide('gpu', { available: true, wsEndpoint: browser.wsEndpoint(), baseUrl: server.url, adapterInfo: report });
  return teardown;
}

function unavailable(project: TestProject, reason: string): Teardown {
  if (isCI()) throw new Error(`GPU tests cannot run, and CI is set, so this run fails: ${reason}`);
  warnLoudly(`GPU TESTS SKIPPED: ${reason}`);
  project.provide('gpu', { available: false, reason });
  // Again at the very end, where it is not lost above the test output.
  return async () => warnLoudly(`GPU tests were skipped: ${reason}`);
}

async function probeAdapter(browser: Browser, baseUrl: string): Promise<AdapterReport> {
  const page = await openHarnessPage(browser, baseUrl);
  try {
    return await page.call('adapterInfo');
  } finally {
    await page.close();
  }
}

function describeAdapter(adapter: AvailableAdapter): string {
  const name = [adapter.vendor, adapter.architecture, adapter.device, adapter.description].filter(Boolean).join(' / ');
  return `${name}; features: ${adapter.features.join(', ') || 'none'}`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function warnLoudly(message: string): void {
  const bar = '!'.repeat(100);
  console.warn(`\n${bar}\n!! ${message}\n!! (with CI=true this fails the run instead)\n${bar}\n`);
}
