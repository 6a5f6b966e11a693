/**
 * Chromium and the Vite dev server for the bench page, reusing the test setup (browser lookup,
 * flags, server). The only difference: no protocol timeout, since one TF.js case on SwiftShader can
 * run for minutes.
 */
import { basename } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer';
import { findBrowser, noBrowserMessage } from '../../test/setup/find-browser';
import { chromiumArgs, startServer, type DevServer } from '../../test/setup/launch';
import type { BenchApi } from '../page/main';

export interface BenchSession {
  browser: Browser;
  server: DevServer;
  page: Page;
  executablePath: string;
  /** e.g. "Chromium 156.0.8078.79 (headless)". */
  browserName: string;
  close(): Promise<void>;
}

export async function openBenchPage(browserPath: string | undefined, onConsole: (text: string) => void): Promise<BenchSession> {
  const executablePath = browserPath ?? findBrowser();
  if (!executablePath) throw new Error(noBrowserMessage);
  const server = await startServer();
  let browser: Browser | undefined;
  try {
    browser = await puppeteer.launch({ headless: true, executablePath, args: chromiumArgs, protocolTimeout: 0 });
    const page = await browser.newPage();
    page.on('pageerror', (error) => onConsole(`[page error] ${String(error)}`));
    page.on('console', (message) => {
      // First line only: TF.js WebGPU prints whole WGSL listings when its shaders fail (rank 5).
      if (message.type() === 'error' || message.type() === 'warn') onConsole(`[page ${message.type()}] ${message.text().trim().split('\n')[0]}`);
    });
    await page.goto(`${server.url}/bench/page/index.html`);
    await page.waitForFunction(() => window.benchReady === true, { timeout: 120_000 });
    const version = (await browser.version()).replace(/^(Headless)?Chrome\//, '');
    const product = /chrom(e|ium)/i.exec(basename(executablePath))?.[0]?.toLowerCase() === 'chromium' ? 'Chromium' : 'Chrome';
    const opened = browser;
    return {
      browser,
      server,
      page,
      executablePath,
      browserName: `${product} ${version} (headless)`,
      async close() {
        await opened.close();
        await server.close();
      },
    };
  } catch (error) {
    await browser?.close();
    await server.close();
    throw error;
  }
}

/** Calls `window.bench[name](...args)` in the page. */
export async function call<K extends keyof BenchApi>(page: Page, name: K, ...args: Parameters<BenchApi[K]>): Promise<Awaited<ReturnType<BenchApi[K]>>> {
  return page.evaluate(
    (fn, params) => (window.bench[fn as keyof BenchApi] as (...a: unknown[]) => unknown)(...(params as unknown[])),
    name,
    args as unknown[],
  ) as Promise<Awaited<ReturnType<BenchApi[K]>>>;
}
