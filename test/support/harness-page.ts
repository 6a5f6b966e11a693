import type { Browser, ConsoleMessage } from 'puppeteer';
import type { Harness } from '../gpu/page/main';
import { decodeWire, encodeWire } from '../gpu/page/wire';

export const harnessPath = '/test/gpu/page/index.html';

export type CaseName = keyof Harness & string;
export type CaseArgs<K extends CaseName> = Parameters<Harness[K]>;
export type CaseResult<K extends CaseName> = Awaited<ReturnType<Harness[K]>>;

export interface HarnessPage {
  /** Runs `window.harness[name](arg)` in the page and resolves to its result (see wire.ts). */
  call<K extends CaseName>(name: K, ...args: CaseArgs<K>): Promise<CaseResult<K>>;
  close(): Promise<void>;
}

/**
 * Uncaught exceptions in the page never reach page.evaluate's promise (a failed GPU callback, a
 * throw in a setTimeout), so without this a test would hang or pass while the page was broken.
 * They reject the calls in flight; one raised between calls rejects the next call, or close().
 */
function pageErrorChannel() {
  const inFlight = new Set<(error: Error) => void>();
  const unclaimed: Error[] = [];
  return {
    report(error: Error): void {
      if (inFlight.size === 0) unclaimed.push(error);
      for (const reject of inFlight) reject(error);
      // A call the page never answers must not swallow later errors.
      inFlight.clear();
    },
    throwIfUnclaimed(): void {
      const earlier = unclaimed.shift();
      if (earlier) throw earlier;
    },
    race<T>(work: Promise<T>): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        inFlight.add(reject);
        work.then(resolve, reject).finally(() => inFlight.delete(reject));
      });
    },
  };
}

/** An error raised by a page event: its Node stack would only show puppeteer's event plumbing. */
function pageFailure(message: string, cause?: unknown): Error {
  const error = new Error(message, { cause });
  error.stack = `Error: ${message}`;
  return error;
}

function uncaught(error: unknown): Error {
  const message = error instanceof Error ? error.message : String(error);
  return pageFailure(`uncaught exception in the harness page: ${message}`, error);
}

function forwardConsole(message: ConsoleMessage): void {
  // Errors and warnings only: WebGPU validation errors reach the console as warnings.
  const type = message.type();
  if (type !== 'error' && type !== 'warn') return;
  const { url, lineNumber } = message.location();
  const where = url ? ` (${url}${lineNumber === undefined ? '' : `:${lineNumber + 1}`})` : '';
  console.error(`[harness page] console.${type}: ${message.text()}${where}`);
}

/** Opens a fresh tab on the harness page and waits until its cases are installed. */
export async function openHarnessPage(browser: Browser, baseUrl: string): Promise<HarnessPage> {
  const page = await browser.newPage();
  const errors = pageErrorChannel();
  page.on('console', forwardConsole);
  page.on('pageerror', (error) => {
    console.error(`[harness page] uncaught: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    errors.report(uncaught(error));
  });
  page.on('error', (error) => errors.report(pageFailure(`harness page crashed: ${error.message}`, error)));
  // A module that fails to load (a TypeScript syntax error, a missing import) raises no page error:
  // the page just never becomes ready. Fail at once instead, naming the module.
  page.on('response', (response) => {
    if (response.status() >= 400 && response.request().resourceType() === 'script') {
      errors.report(pageFailure(`harness page could not load ${response.url()}: HTTP ${response.status()} (Vite's message is above)`));
    }
  });

  const url = baseUrl + harnessPath;
  try {
    await errors.race(page.goto(url));
    await errors.race(page.waitForFunction(() => window.harnessReady === true, { timeout: 30_000 }));
    errors.throwIfUnclaimed();
  } catch (error) {
    await page.close().catch(() => {});
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`harness page ${url} did not become ready: ${message}`, { cause: error });
  }

  async function call<K extends CaseName>(name: K, ...args: CaseArgs<K>): Promise<CaseResult<K>> {
    errors.throwIfUnclaimed();
    const run = page.evaluate(
      (caseName, argument) => window.harnessCall(caseName, argument),
      name,
      encodeWire(args[0]),
    );
    return decodeWire(await errors.race(run)) as CaseResult<K>;
  }

  return {
    call,
    async close() {
      await page.close();
      errors.throwIfUnclaimed();
    },
  };
}
