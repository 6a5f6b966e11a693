/**
 * Autotuning in the GPU host process (Dawn): results kept in a JSON file that a second engine
 * finds, the same outputs as an engine without autotuning, and only a JSON file store crosses to
 * the host.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { describeNodeGpu, loadNodeLib, nodeGpu } from './support';

describeNodeGpu('autotuning in the GPU host', () => {
  const dir = mkdtempSync(join(tmpdir(), 'node-autotune-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('tunes a class before its first call, stores it in the JSON file, and computes what an untuned engine computes', async () => {
    const lib = await loadNodeLib();
    const path = join(dir, 'tuning.json');
    const shape = [512, 24];
    const x = Float32Array.from({ length: 512 * 24 }, (_, i) => Math.sin(i) * 3 + 1);
    const tuned = await lib.createNodeBatchNorm({ backend: 'webgpu', env: nodeGpu.env, autotune: { store: lib.jsonFileTuningStore(path) } });
    const plain = await lib.createNodeBatchNorm({ backend: 'webgpu', env: nodeGpu.env });
    try {
      const a = await tuned.forwardTrain(x, { shape, layout: 'NC' });
      const b = await plain.forwardTrain(x, { shape, layout: 'NC' });
      // float32 sums of 512 values in another order: far below 1e-5 on outputs of magnitude ~3.
      for (let i = 0; i < a.y.length; i++) expect(Math.abs(a.y[i] - b.y[i])).toBeLessThan(1e-5);
      const file = JSON.parse(readFileSync(path, 'utf8')) as Record<string, Record<string, unknown>>;
      const [key] = Object.keys(file);
      expect(JSON.parse(key)).toMatchObject({ library: lib.libraryVersion, description: tuned.adapter!.description, vendor: tuned.adapter!.vendor });
      // Dawn offers timestamp-query, so the class was timed and kept.
      expect(Object.keys(file[key])).toEqual(['forwardTrain/rows/16KiB']);
    } finally {
      await tuned.dispose();
      await plain.dispose();
    }
  });

  it('refuses a store that cannot cross to the host', async () => {
    const lib = await loadNodeLib();
    await expect(lib.createNodeBatchNorm({ backend: 'cpu', autotune: { store: lib.memoryTuningStore() as never } })).rejects.toMatchObject({ code: 'invalid-option' });
  });
});
