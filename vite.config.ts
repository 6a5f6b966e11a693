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
    lib: { entry: 'src/index.ts', formats: ['es'], fileName: 'index' },
    outDir: 'dist',
  },
});
