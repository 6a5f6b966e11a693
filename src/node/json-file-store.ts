/// <reference types="node" />
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { isClasses, type TuningStore } from '../gpu/tuning-store';
import type { TunedClasses } from '../gpu/tuning-classes';

/**
 * Autotuning results in a JSON file ({ [key]: { [sizeClass]: overrides } }), shared by every key
 * (adapter and library version) that uses it. A missing or unreadable file reads as no results;
 * saving rewrites the file atomically (a temporary file renamed over it).
 */
export interface JsonFileTuningStore extends TuningStore {
  /** The file; createNodeBatchNorm hands it to its GPU host process, which opens its own store on it. */
  readonly path: string;
}

export function jsonFileTuningStore(path: string): JsonFileTuningStore {
  if (typeof path !== 'string' || path === '') throw new TypeError('jsonFileTuningStore needs a file path');
  const readAll = async (): Promise<Record<string, TunedClasses>> => {
    try {
      const value: unknown = JSON.parse(await readFile(path, 'utf8'));
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return {};
      return Object.fromEntries(Object.entries(value).filter(([, classes]) => isClasses(classes))) as Record<string, TunedClasses>;
    } catch {
      return {};
    }
  };
  return {
    path,
    load: async (key) => (await readAll())[key],
    save: async (key, classes) => {
      const all = await readAll();
      all[key] = classes;
      await mkdir(dirname(path), { recursive: true });
      const tmp = `${path}.${process.pid}.tmp`;
      await writeFile(tmp, `${JSON.stringify(all, null, 2)}\n`);
      await rename(tmp, path);
    },
  };
}
