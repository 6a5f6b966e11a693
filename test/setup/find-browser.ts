import { accessSync, constants } from 'node:fs';

/**
 * Standard install locations, most likely first. Debian's `chromium` ships SwiftShader, which is
 * what gives WebGPU an adapter on machines without a GPU.
 */
const standardLocations = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome-stable',
  '/usr/bin/google-chrome',
  '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
  '/Applications/Chromium.app/Contents/MacOS/Chromium',
];

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Path of a Chrome or Chromium to drive, or undefined when none is installed.
 *
 * PUPPETEER_EXECUTABLE_PATH wins. When it names a missing file this throws instead of falling back:
 * someone asked for that browser, and quietly testing another one would hide the mistake.
 */
export function findBrowser(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const requested = env.PUPPETEER_EXECUTABLE_PATH;
  if (requested) {
    if (!isExecutable(requested)) {
      throw new Error(`PUPPETEER_EXECUTABLE_PATH is ${requested}, which is missing or not executable`);
    }
    return requested;
  }
  return standardLocations.find(isExecutable);
}

/** Message for when findBrowser() found nothing. */
export const noBrowserMessage =
  `no Chrome or Chromium found (looked in ${standardLocations.join(', ')}); ` +
  'install one (Debian: apt-get install chromium) or set PUPPETEER_EXECUTABLE_PATH';
