import { fileURLToPath } from 'node:url';
import puppeteer, { type Browser } from 'puppeteer';
import { createServer } from 'vite';
import { findBrowser, noBrowserMessage } from './find-browser';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/**
 * WebGPU is behind --enable-unsafe-webgpu in headless Chromium on Linux. The rest keep Chromium
 * from reaching out to Google's services, which closed networks refuse (slow starts, log noise),
 * and --no-sandbox lets it run as root, as CI does.
 */
export const chromiumArgs = [
  '--enable-unsafe-webgpu',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export async function launchBrowser(executablePath: string | undefined = findBrowser()): Promise<Browser> {
  if (!executablePath) throw new Error(noBrowserMessage);
  return puppeteer.launch({ headless: true, executablePath, args: chromiumArgs });
}

export interface DevServer {
  /** Origin without a trailing slash, e.g. http://127.0.0.1:5173 */
  url: string;
  close(): Promise<void>;
}

/**
 * Vite dev server over the repository, so pages can import src/ and shaders/ as they are. Served on
 * 127.0.0.1 because WebGPU needs a secure context and localhost counts as one (file: does not).
 */
export async function startServer(): Promise<DevServer> {
  const server = await createServer({
    root: repoRoot,
    logLevel: 'warn',
    server: {
      host: '127.0.0.1',
      port: 0,
      strictPort: false,
      // A file saved during a run must not reload a page in the middle of a test.
      hmr: false,
      watch: null,
    },
  });
  await server.listen();
  const url = server.resolvedUrls?.local[0];
  if (!url) {
    await server.close();
    throw new Error('Vite dev server started but reported no local URL');
  }
  return { url: url.replace(/\/$/, ''), close: () => server.close() };
}
