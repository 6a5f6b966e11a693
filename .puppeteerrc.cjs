// Puppeteer downloads its own Chrome on install, which fails on machines without internet.
// When a system Chrome or Chromium exists, use it and skip the download; otherwise keep the
// default (download) so a machine with internet and no browser still works.
const { existsSync } = require('node:fs');

const candidates = [
  process.env.PUPPETEER_EXECUTABLE_PATH,
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome-stable',
  '/usr/bin/google-chrome',
  '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
  '/Applications/Chromium.app/Contents/MacOS/Chromium',
].filter(Boolean);

const systemBrowser = candidates.find((path) => existsSync(path));

/** @type {import('puppeteer').Configuration} */
module.exports = systemBrowser ? { skipDownload: true, executablePath: systemBrowser } : {};
