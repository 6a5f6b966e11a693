import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  server: {
    // WebGPU needs a secure context; http://127.0.0.1 is one, a LAN address would not be.
    host: '127.0.0.1',
    fs: { allow: [root] },
  },
  build: {
    lib: {
      entry: { index: 'src/index.ts', advanced: 'src/advanced.ts', tfjs: 'src/tfjs/index.ts', node: 'src/node/index.ts', 'node-host': 'src/node/host.ts' },
      formats: ['es'],
      fileName: (_format, entryName) => `${entryName}.js`,
    },
    // The TF.js adapter uses the application's own TensorFlow.js (an optional peer dependency); the
    // Node entry and its GPU host use Node's built-ins and the application's `webgpu` (Dawn).
    rolldownOptions: { external: [/^@tensorflow\//, /^node:/, 'webgpu'], output: { chunkFileNames: 'shared-[hash].js' } },
    outDir: 'dist',
  },
});
