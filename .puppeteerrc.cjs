// Puppeteer would download its own Chrome on install. Nothing here uses it: the tests and the
// benchmark drive a system Chrome or Chromium (test/setup/find-browser.ts; Debian's chromium ships
// SwiftShader, which gives WebGPU an adapter without a GPU), and an install must not fetch
// binaries from outside the package registry. Without a system browser they say what to install.
/** @type {import('puppeteer').Configuration} */
module.exports = { skipDownload: true };
