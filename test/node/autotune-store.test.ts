import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { localStorageTuningStore, memoryTuningStore, parseClasses, tuningStoreKey, type KeyValueStorage } from '../../src/gpu/tuning-store';
import { jsonFileTuningStore } from '../../src/node/json-file-store';
import { libraryVersion } from '../../src/version';
import pkg from '../../package.json';

const adapter = { vendor: 'acme', architecture: 'rdna9', device: '0x1234', description: 'Acme R9 (driver 1.2)' };
const classes = { 'forwardTrain/rows/4MiB': { blockedRows: true, statsTargetThreads: 2048 }, 'inference/runs/16MiB': {} };

describe('tuning store keys', () => {
  it('name the adapter (vendor, architecture, device, description) and the library version', () => {
    const key = tuningStoreKey(adapter);
    expect(JSON.parse(key)).toEqual({ library: libraryVersion, ...adapter });
    for (const field of ['vendor', 'architecture', 'device', 'description'] as const) {
      expect(tuningStoreKey({ ...adapter, [field]: `${adapter[field]}-other` })).not.toBe(key);
    }
    expect(tuningStoreKey(adapter, '9.9.9')).not.toBe(key);
  });

  it('use the version in package.json', () => {
    expect(libraryVersion).toBe(pkg.version);
  });
});

describe('tuning stores', () => {
  it('memory: round trip per key, and a copy (later changes to either side do not leak)', async () => {
    const store = memoryTuningStore();
    const saved = structuredClone(classes);
    await store.save('a', saved);
    saved['inference/runs/16MiB'] = { workgroupSize: 4 };
    const loaded = await store.load('a');
    expect(loaded).toEqual(classes);
    loaded!['forwardTrain/rows/4MiB'].blockedRows = false;
    expect(await store.load('a')).toEqual(classes);
    expect(await store.load('b')).toBeUndefined();
    expect(await memoryTuningStore().load('a')).toBeUndefined();
  });

  it('localStorage: one item per key under a prefix; unreadable items read as none', async () => {
    const items = new Map<string, string>();
    const storage: KeyValueStorage = { getItem: (k) => items.get(k) ?? null, setItem: (k, v) => void items.set(k, v) };
    await localStorageTuningStore(storage, 'p:').save('a', classes);
    expect([...items.keys()]).toEqual(['p:a']);
    expect(await localStorageTuningStore(storage, 'p:').load('a')).toEqual(classes);
    expect(await localStorageTuningStore(storage, 'q:').load('a')).toBeUndefined();
    for (const bad of ['{oops', '[1,2]', '{"x": 3}', 'null']) {
      items.set('p:bad', bad);
      expect(await localStorageTuningStore(storage, 'p:').load('bad')).toBeUndefined();
    }
    expect(() => localStorageTuningStore(undefined)).toThrow(/no localStorage/);
  });

  describe('JSON file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tuning-store-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('round trip across store objects, keys side by side in one file', async () => {
      const path = join(dir, 'nested', 'tuning.json');
      expect(await jsonFileTuningStore(path).load('a')).toBeUndefined();
      await jsonFileTuningStore(path).save('a', classes);
      await jsonFileTuningStore(path).save('b', { 'backward/rows/1MiB': { workgroupSize: 256 } });
      expect(await jsonFileTuningStore(path).load('a')).toEqual(classes);
      expect(await jsonFileTuningStore(path).load('b')).toEqual({ 'backward/rows/1MiB': { workgroupSize: 256 } });
      expect(Object.keys(JSON.parse(readFileSync(path, 'utf8')))).toEqual(['a', 'b']);
    });

    it('a corrupt file reads as empty and is replaced on save', async () => {
      const path = join(dir, 'corrupt.json');
      writeFileSync(path, '{ not json');
      expect(await jsonFileTuningStore(path).load('a')).toBeUndefined();
      await jsonFileTuningStore(path).save('a', classes);
      expect(await jsonFileTuningStore(path).load('a')).toEqual(classes);
    });
  });

  it('parseClasses accepts only an object of objects', () => {
    expect(parseClasses(JSON.stringify(classes))).toEqual(classes);
    expect(parseClasses(null)).toBeUndefined();
    expect(parseClasses('{"a": [1]}')).toBeUndefined();
  });
});

describe('createBatchNorm autotune option', () => {
  it('accepts a boolean or { store } with load and save; refuses anything else before any work', async () => {
    const { createBatchNorm } = await import('../../src/engine');
    for (const autotune of [true, false, {}, { store: memoryTuningStore() }]) {
      (await createBatchNorm({ backend: 'cpu', autotune })).dispose();
    }
    for (const autotune of [1, 'yes', null, { store: {} }, { store: { load: () => undefined } }]) {
      await expect(createBatchNorm({ backend: 'cpu', autotune: autotune as never })).rejects.toMatchObject({ code: 'invalid-option' });
    }
  });
});
