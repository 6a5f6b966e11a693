import type { ChannelView } from '../layout';
import { defaultTuning, softwareAdapterTuning, type KernelTuning } from './tuning';

/**
 * What autotuning tunes: per kernel family (the kernels of one call) and size class, a partial
 * KernelTuning that the engine lays over its heuristic tuning when it plans a call of that class.
 * Pure data and functions, unit-tested in Node; the timing loop is autotune.ts.
 */
export type KernelFamily = 'forwardTrain' | 'backward' | 'inference';
export const kernelFamilies: readonly KernelFamily[] = ['forwardTrain', 'backward', 'inference'];

/**
 * A size class: the family, how its reductions walk the tensor ('rows' when inner == 1, as NC and
 * channels-last layouts; 'runs' otherwise, as NCHW), and the power-of-4 byte bucket of the tensor
 * (bucket b holds [4^b, 4^(b+1)) bytes). Launch shapes that win at 4 MB usually win at 8 MB, rarely
 * at 64 KB, and the best walk-specific knobs (blockedRows, runSegments) differ between walks.
 */
export interface SizeClass {
  family: KernelFamily;
  walk: 'rows' | 'runs';
  bucket: number;
}

export function sizeClassOf(family: KernelFamily, view: ChannelView): SizeClass {
  const bytes = Math.max(1, view.size * 4);
  return { family, walk: view.inner === 1 ? 'rows' : 'runs', bucket: Math.floor(Math.log2(bytes) / 2) };
}

/** The stored name of a size class, e.g. 'forwardTrain/rows/4MiB' (the bucket's lower bound). */
export function sizeClassKey({ family, walk, bucket }: SizeClass): string {
  return `${family}/${walk}/${formatBytes(4 ** bucket)}`;
}

function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let unit = 0;
  while (bytes >= 1024 && unit < units.length - 1) {
    bytes /= 1024;
    unit++;
  }
  return `${bytes}${units[unit]}`;
}

/** The knobs of the kernels each family runs: a candidate sets only these. */
const reductionKnobs = ['workgroupSize', 'applyUnitsPerThread', 'statsBytesInFlight', 'statsTargetThreads', 'statsMinValuesPerThread', 'serialFinalizeMaxChunks', 'blockedRows', 'runSegments', 'contiguousUnitsPerThread'] as const;
// oneDispatch is no profile's: dispatchCandidates lays it over the winning one where it matters.
const familyKnobs: Record<KernelFamily, readonly (keyof KernelTuning)[]> = {
  forwardTrain: [...reductionKnobs, 'oneDispatch'],
  backward: [...reductionKnobs, 'oneDispatch'],
  inference: ['workgroupSize', 'applyUnitsPerThread', 'contiguousUnitsPerThread', 'oneDispatch'],
};

/**
 * The declared candidates, as partial overrides of KernelTuning (a knob added to KernelTuning
 * slots in by appearing in a profile and in familyKnobs). Each is a whole launch profile rather than
 * one knob at a time: the knobs interact (a software adapter wants few long threads, blocks of
 * rows, no workgroup sums and a serial finalize together), and a handful of profiles keeps tuning
 * within a couple of seconds on a CPU adapter. The engine's heuristic tuning is always candidate 0.
 */
export const launchProfiles: readonly Partial<KernelTuning>[] = [
  // Real-GPU profile: many short threads, strided rows, workgroup sums.
  pick(defaultTuning),
  // Real GPU with more loads in flight: four times the bytes, so up to four times the threads.
  { ...pick(defaultTuning), statsBytesInFlight: 4 * defaultTuning.statsBytesInFlight, statsMinValuesPerThread: 64 },
  // Software-adapter profile (a workgroup per CPU core).
  { ...pick(defaultTuning), ...softwareAdapterTuning },
  // Software adapter, fewer and longer threads still.
  { ...pick(defaultTuning), ...softwareAdapterTuning, statsTargetThreads: 512, statsMinValuesPerThread: 1024, applyUnitsPerThread: 64 },
];

function pick(tuning: KernelTuning): Partial<KernelTuning> {
  return Object.fromEntries(reductionKnobs.map((knob) => [knob, tuning[knob]]));
}

/** Only the knobs of `family`, leaving out those the caller set (explicit tuning always wins). */
export function restrictCandidate(family: KernelFamily, candidate: Partial<KernelTuning>, pinned: Partial<KernelTuning> = {}): Partial<KernelTuning> {
  const out: Partial<KernelTuning> = {};
  for (const knob of familyKnobs[family]) {
    if (candidate[knob] !== undefined && pinned[knob] === undefined) (out as Record<string, unknown>)[knob] = candidate[knob];
  }
  return out;
}

/**
 * The candidates of a family for an engine whose heuristic tuning is `base`: candidate 0 is the
 * base itself ({}), then every declared profile that would change it, without duplicates, and
 * without workgroups larger than the device allows.
 */
export function candidatesFor(family: KernelFamily, base: KernelTuning, pinned: Partial<KernelTuning> = {}, maxInvocations = Infinity): Partial<KernelTuning>[] {
  const out: Partial<KernelTuning>[] = [{}];
  const seen = new Set([JSON.stringify(effective(family, base, {}))]);
  for (const profile of launchProfiles) {
    const candidate = restrictCandidate(family, profile, pinned);
    if ((candidate.workgroupSize ?? base.workgroupSize) > maxInvocations) continue;
    const signature = JSON.stringify(effective(family, base, candidate));
    if (seen.has(signature)) continue;
    seen.add(signature);
    out.push(withoutUnchanged(candidate, base));
  }
  return out;
}

/** Dispatches each shape of a class takes with a tuning's own choice (`heuristic`), with oneDispatch false, and with it true. */
export interface DispatchCounts {
  heuristic: number[];
  off: number[];
  on: number[];
}

/**
 * Whether a call runs in one dispatch (tuning.oneDispatch, fused-small.ts), as choices laid over
 * the winning launch profile (autotune.ts races them against it), only where they change what the
 * class's shapes run: `{ oneDispatch: false }` when the profile takes one dispatch for some of
 * them (the multi-pass kernels instead), `{ oneDispatch: true }` when forcing it would take one
 * where the profile does not (on GPUs, tensors of fewer channel groups than FUSED_MIN_WORKGROUPS;
 * inference above CPU_FOLD_IN_APPLY_MAX_BYTES on a CPU adapter). The heuristic's limits were
 * measured on a few devices (SwiftShader, lavapipe, one H200 run); the device at hand settles
 * them. None when the caller set oneDispatch. `counts` are the profile's.
 */
export function dispatchCandidates(counts: DispatchCounts, pinned: Partial<KernelTuning> = {}): Partial<KernelTuning>[] {
  if (pinned.oneDispatch !== undefined) return [];
  const differs = (a: number[], b: number[]) => a.some((n, i) => n !== b[i]);
  const out: Partial<KernelTuning>[] = [];
  if (differs(counts.off, counts.heuristic)) out.push({ oneDispatch: false });
  if (differs(counts.on, counts.heuristic) && differs(counts.on, counts.off)) out.push({ oneDispatch: true });
  return out;
}

function effective(family: KernelFamily, base: KernelTuning, candidate: Partial<KernelTuning>): unknown[] {
  return familyKnobs[family].map((knob) => candidate[knob] ?? base[knob]);
}

function withoutUnchanged(candidate: Partial<KernelTuning>, base: KernelTuning): Partial<KernelTuning> {
  return Object.fromEntries(Object.entries(candidate).filter(([knob, value]) => base[knob as keyof KernelTuning] !== value)) as Partial<KernelTuning>;
}

/** Tuned overrides by size class key (what a TuningStore keeps per adapter). */
export type TunedClasses = Record<string, Partial<KernelTuning>>;
