import type { AdapterReport } from '../gpu/page/adapter-info';

export type AvailableAdapter = Extract<AdapterReport, { available: true }>;

/** What the global setup hands to GPU test files. */
export type GpuContext =
  | { available: true; wsEndpoint: string; baseUrl: string; adapterInfo: AvailableAdapter }
  | { available: false; reason: string };

/** CI=true (or any value but '', 0 and false) turns a missing GPU from a skip into a failure. */
export function isCI(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = env.CI?.trim().toLowerCase();
  return !!value && value !== '0' && value !== 'false';
}

declare module 'vitest' {
  export interface ProvidedContext {
    gpu: GpuContext;
  }
}
