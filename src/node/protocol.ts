/**
 * Messages between a NodeBatchNorm (the application's process) and its GPU host process, sent over
 * the child-process IPC channel with `serialization: 'advanced'` (structured clone), so typed
 * arrays cross as typed arrays.
 */
import type { BatchNormErrorCode } from '../errors';
import type { KernelTuning } from '../gpu/tuning';
import type { AdapterSummary, Tolerance } from '../types';

/** The host-array calls the host runs; each takes the same arguments as on BatchNorm. */
export type HostMethod = 'forwardTrain' | 'forwardInference' | 'backward' | 'channelStatistics';

/** What the host needs to create its engine. */
export interface HostSettings {
  dawnModule: string;
  dawnFlags: string[];
  verify: boolean | Partial<Tolerance> | undefined;
  tuning: Partial<KernelTuning> | undefined;
  checkFinite: boolean | undefined;
  /** Autotuning in the host: its results in memory there, or in this JSON file. */
  autotune: { file?: string } | undefined;
}

export type ToHost =
  | { type: 'start'; settings: HostSettings }
  | { type: 'call'; id: number; method: HostMethod; args: unknown[] }
  | { type: 'dispose' };

export interface WireError {
  name: string;
  /** Set when the error was a BatchNormError. */
  code?: BatchNormErrorCode;
  message: string;
}

export type FromHost =
  | { type: 'ready'; adapter: AdapterSummary }
  | { type: 'failed'; error: WireError }
  | { type: 'result'; id: number; value: unknown }
  | { type: 'error'; id: number; error: WireError }
  /** The host's device was lost: it has no GPU any more and is about to exit. */
  | { type: 'lost'; reason: string; message: string };
