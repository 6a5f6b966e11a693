import { libraryVersion } from '../version';
import type { AdapterSummary } from '../types';
import type { TunedClasses } from './tuning-classes';

/**
 * Where autotuning results are kept between engines, pages and runs: per key (an adapter and the
 * library version, see tuningStoreKey), the chosen overrides per size class. Any object with these
 * two methods will do; memory (the default), localStorage and, from 'webgpu-batchnorm/node', a JSON
 * file are provided.
 */
export interface TuningStore {
  load(key: string): TunedClasses | undefined | Promise<TunedClasses | undefined>;
  save(key: string, classes: TunedClasses): void | Promise<void>;
}

/**
 * The key of an adapter's results: what identifies its hardware and driver as WebGPU reports them,
 * and the library version (launch shapes and kernels change between versions).
 */
export function tuningStoreKey(adapter: Omit<AdapterSummary, 'isFallbackAdapter'>, version = libraryVersion): string {
  const { vendor, architecture, device, description } = adapter;
  return JSON.stringify({ library: version, vendor, architecture, device, description });
}

/** Results kept in this page's (or process's) memory. */
export function memoryTuningStore(): TuningStore {
  const records = new Map<string, TunedClasses>();
  return {
    load: (key) => copy(records.get(key)),
    save: (key, classes) => void records.set(key, copy(classes)!),
  };
}

/** What createBatchNorm uses when autotuning is asked without a store: shared by every engine here. */
export const defaultTuningStore: TuningStore = memoryTuningStore();

/** The part of the Web Storage API the localStorage store uses. */
export type KeyValueStorage = Pick<Storage, 'getItem' | 'setItem'>;

/**
 * Results in localStorage (or any Storage), one item per key under `prefix`, so that a page finds
 * them on its next visit. A missing or unreadable item reads as no results.
 */
export function localStorageTuningStore(storage: KeyValueStorage | undefined = (globalThis as { localStorage?: Storage }).localStorage, prefix = 'webgpu-batchnorm.tuning:'): TuningStore {
  if (!storage) throw new TypeError('localStorageTuningStore: no localStorage here (pass a Storage)');
  return {
    load: (key) => parseClasses(storage.getItem(prefix + key)),
    save: (key, classes) => storage.setItem(prefix + key, JSON.stringify(classes)),
  };
}

/** Stored text back to results: anything but an object of objects reads as none. */
export function parseClasses(text: string | null | undefined): TunedClasses | undefined {
  if (!text) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return isClasses(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

export function isClasses(value: unknown): value is TunedClasses {
  return (
    value !== null &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    Object.values(value).every((entry) => entry !== null && typeof entry === 'object' && !Array.isArray(entry))
  );
}

function copy(classes: TunedClasses | undefined): TunedClasses | undefined {
  return classes === undefined ? undefined : JSON.parse(JSON.stringify(classes));
}
