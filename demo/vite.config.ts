import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const repo = fileURLToPath(new URL('..', import.meta.url));

/** `npm run demo`: the demo page at http://127.0.0.1:5180/ (WebGPU needs a secure context: localhost). */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  // Its own pre-bundled dependencies: sharing the test server's cache would make each re-bundle
  // (different config) under the other's feet.
  cacheDir: fileURLToPath(new URL('../node_modules/.vite-demo', import.meta.url)),
  server: { host: '127.0.0.1', port: 5180, fs: { allow: [repo] } },
  preview: { host: '127.0.0.1', port: 5180 },
  build: { outDir: fileURLToPath(new URL('../dist/demo', import.meta.url)), emptyOutDir: true },
});
