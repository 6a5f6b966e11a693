import { BatchNormError } from '../errors';
import { channelView, type ChannelView } from '../layout';
import { batchAfterFirstRun, CROSS_CLASS_RATIO, MIN_GAIN, noteRatios, READINGS, screenSlice, SCREEN_BYTES, sum, total, withinReach } from './autotune-policy';
import type { Layout } from '../types';
import { withTuning, type GpuContext } from './context';
import { withErrorScopes } from './gpu-errors';
import { GpuTimer, type EncodeWork, type TimedBatch } from './gpu-timer';
import { ScratchBuffers, ScratchTensors, viewShape } from './autotune-scratch';
import { planElementwiseWork } from './elementwise-plan';
import { dispatchCount } from './fused-small';
import { planReduction } from './statistics-plan';
import { candidatesFor, dispatchCandidates, kernelFamilies, restrictCandidate, sizeClassKey, sizeClassOf, type DispatchCounts, type KernelFamily, type TunedClasses } from './tuning-classes';
import type { TuningStore } from './tuning-store';
import type { KernelTuning } from './tuning';

/**
 * Runtime autotuning: for each kernel family and size class asked for, every declared candidate
 * (tuning-classes.ts) runs the family's kernels on scratch tensors of the class's shapes, timed on
 * the GPU with timestamp queries (gpu-timer.ts); the fastest is kept, in the engine and in its
 * store. Candidates change launch shapes only, never what is computed.
 */
export interface AutotuneShape {
  shape: readonly number[];
  layout?: Layout;
}

export interface AutotuneOptions {
  /** Families to tune (default all three). */
  families?: readonly KernelFamily[];
  /** Time the classes again even when the store has them (default false). */
  force?: boolean;
}

export interface CandidateTiming {
  tuning: Partial<KernelTuning>;
  /** Summed ms per call over the class's shapes; undefined when it was dropped before its timed runs. */
  ms: number | undefined;
  /**
   * Why it was not timed: far behind in a smaller class of the family and walk ('smallerClass', not
   * even built), on the screening slices ('screen'), or in its first run at full size ('firstRun').
   */
  dropped?: 'smallerClass' | 'screen' | 'firstRun';
  /**
   * Its time over the fastest candidate's, in the last round of runs it took part in that could judge
   * (timed runs; else its first run or the screening, when the fastest lasted a timing batch).
   * Launch profiles at CROSS_CLASS_RATIO or more are not run in the larger classes of its family
   * and walk. The one-dispatch choices (those with oneDispatch set) race the winning profile after
   * the others, and are compared with it alone.
   */
  ratio?: number;
}

/** A candidate's entry in the report, with `dropped` and `ratio` only where known. */
function candidateTiming(tuning: Partial<KernelTuning>, ms: number | undefined, dropped: CandidateTiming['dropped'], ratio: number | undefined): CandidateTiming {
  return { tuning, ms, ...(dropped ? { dropped } : {}), ...(ratio !== undefined ? { ratio } : {}) };
}

export interface ClassTuning {
  family: KernelFamily;
  /** e.g. 'forwardTrain/rows/4MiB' (see sizeClassKey). */
  sizeClass: string;
  /** The tensors timed, as the kernels see them: [outer, C, inner] (layout NCL). */
  shapes: number[][];
  /** The overrides now in use for the class ({}: the heuristic tuning). */
  chosen: Partial<KernelTuning>;
  /** 'timed' now, found in the 'store', or the 'heuristic' kept (no timestamp-query). */
  source: 'timed' | 'stored' | 'heuristic';
  candidates: CandidateTiming[];
  /** The slices ([outer, C, inner]) the candidates were screened on first: tensors above 2 MiB. */
  screenShapes?: number[][];
  /** Wall-clock ms spent timing this class. */
  tuningMs: number;
  /**
   * Where that went: scratch tensors, the screening runs on slices of large tensors (pipelines built
   * there), the launch profiles' first and timed runs at full size, the one-dispatch choices'
   * (against the winner), and saving to the store.
   */
  phases?: { setupMs: number; screenMs: number; launchRunsMs: number; dispatchRunsMs: number; saveMs: number };
}

export interface AutotuneReport {
  /** False when the device has no timestamp-query: nothing was timed and the heuristics stay. */
  timestamps: boolean;
  classes: ClassTuning[];
}

interface TunerSettings {
  store: TuningStore;
  key: string;
  /** The knobs the caller set explicitly: never tuned. */
  pinned: Partial<KernelTuning>;
}

/** The candidates a timed class found far behind (CROSS_CLASS_RATIO), by their JSON. */
interface ClassVerdict {
  bucket: number;
  farBehind: Set<string>;
}

/** One engine's autotuning: its store, what it has loaded and chosen, classes being timed. */
export class Autotuner {
  private loaded: Promise<void> | undefined;
  private readonly inFlight = new Map<string, Promise<ClassTuning>>();
  /** Per family and walk ('forwardTrain/rows'), what each class timed by this engine found. */
  private readonly verdicts = new Map<string, ClassVerdict[]>();

  constructor(
    private readonly context: GpuContext,
    private readonly settings: TunerSettings,
  ) {}

  get timestamps(): boolean {
    return this.context.device.features.has('timestamp-query');
  }

  /** Loads the store's results for this adapter once (an unusable entry is ignored). */
  load(): Promise<void> {
    this.loaded ??= (async () => {
      const stored = await this.settings.store.load(this.settings.key);
      for (const [classKey, override] of Object.entries(stored ?? {})) this.adopt(classKey, override);
    })();
    return this.loaded;
  }

  /** Tunes the classes of `shapes` (each shape × family), grouping shapes of one class. */
  async tune(shapes: readonly AutotuneShape[], options: AutotuneOptions = {}): Promise<AutotuneReport> {
    if (!Array.isArray(shapes)) throw new BatchNormError('invalid-option', 'autotune(shapes) needs an array of { shape, layout }');
    const families = options.families ?? kernelFamilies;
    for (const family of families) {
      if (!kernelFamilies.includes(family)) throw new BatchNormError('invalid-option', `autotune: unknown family ${JSON.stringify(family)} (${kernelFamilies.join(', ')})`);
    }
    // Every shape is checked before any GPU work.
    const views = shapes.map((entry) => {
      if (entry === null || typeof entry !== 'object') throw new BatchNormError('invalid-option', 'autotune(shapes): each entry is { shape, layout? }');
      const view = channelView(entry.shape, entry.layout);
      planElementwiseWork(this.context, view);
      planReduction(this.context, view, 'stats');
      return view;
    });
    const groups = new Map<string, { family: KernelFamily; bucket: number; views: ChannelView[] }>();
    for (const family of families) {
      for (const view of views) {
        const sizeClass = sizeClassOf(family, view);
        const classKey = sizeClassKey(sizeClass);
        const group = groups.get(classKey) ?? { family, bucket: sizeClass.bucket, views: [] };
        if (!group.views.some((v) => viewShape(v).join() === viewShape(view).join())) group.views.push(view);
        groups.set(classKey, group);
      }
    }
    await this.load();
    // Smaller classes first: what they find far behind is not run in the larger ones.
    const ordered = [...groups].sort(([, a], [, b]) => a.bucket - b.bucket);
    const byKey = new Map<string, ClassTuning>();
    const buffers = new ScratchBuffers(this.context.device);
    try {
      for (const [classKey, { family, views: classViews }] of ordered) byKey.set(classKey, await this.tuneClass(classKey, family, classViews, options.force ?? false, buffers));
    } finally {
      buffers.destroy();
    }
    // Reported in the order the shapes were given.
    return { timestamps: this.timestamps, classes: [...groups.keys()].map((classKey) => byKey.get(classKey)!) };
  }

  /** Before a host-array call (autotune: true): its class is tuned unless it already was. */
  async ensure(family: KernelFamily, view: ChannelView): Promise<void> {
    await this.load();
    const classKey = sizeClassKey(sizeClassOf(family, view));
    if (this.context.tuned?.get(classKey) !== undefined || !this.timestamps) return;
    await this.tuneClass(classKey, family, [view], false);
  }

  /** `buffers`: scratch shared with the other classes of one tune() call (default: the class's own). */
  private tuneClass(classKey: string, family: KernelFamily, views: ChannelView[], force: boolean, buffers?: ScratchBuffers): Promise<ClassTuning> {
    const shapes = views.map(viewShape);
    const known = this.context.tuned?.get(classKey);
    if (known !== undefined && !force) return Promise.resolve({ family, sizeClass: classKey, shapes, chosen: known, source: 'stored', candidates: [], tuningMs: 0 });
    if (!this.timestamps) return Promise.resolve({ family, sizeClass: classKey, shapes, chosen: known ?? {}, source: 'heuristic', candidates: [], tuningMs: 0 });
    // Two calls for one class share one timing.
    let pending = this.inFlight.get(classKey);
    if (!pending) {
      pending = this.timeClass(classKey, family, views, buffers).finally(() => this.inFlight.delete(classKey));
      this.inFlight.set(classKey, pending);
    }
    return pending;
  }

  private async timeClass(classKey: string, family: KernelFamily, views: ChannelView[], shared: ScratchBuffers | undefined): Promise<ClassTuning> {
    const started = performance.now();
    const { device } = this.context;
    const candidates = candidatesFor(family, this.context.tuning, this.settings.pinned, device.limits.maxComputeInvocationsPerWorkgroup);
    const { walk, bucket } = sizeClassOf(family, views[0]);
    const farBehind = this.farBehindBelow(`${family}/${walk}`, bucket);
    const dropped: CandidateTiming['dropped'][] = candidates.map((candidate) => (farBehind.has(JSON.stringify(candidate)) ? 'smallerClass' : undefined));
    // Each candidate's time over the best's, from the last measurement it took part in that can judge.
    const ratios: (number | undefined)[] = candidates.map(() => undefined);
    const timer = new GpuTimer(device, 'BatchNorm.autotune');
    const buffers = shared ?? new ScratchBuffers(device);
    const tensors = views.map((view) => new ScratchTensors(device, family, view, buffers));
    const slices = views.some((view) => view.size * 4 > 2 * SCREEN_BYTES) ? views.map((view) => new ScratchTensors(device, family, screenSlice(view), buffers)) : [];
    try {
      const worksOn = (scratch: ScratchTensors[], tunings: Partial<KernelTuning>[]) =>
        tunings.map((candidate): EncodeWork[] | undefined => {
          try {
            const context = withTuning(this.context, candidate);
            return scratch.map((t) => t.work(context));
          } catch (error) {
            // A plan this device cannot run (e.g. too many partials): not a candidate here.
            if (error instanceof BatchNormError) return undefined;
            throw error;
          }
        });
      const plannable = worksOn(tensors, candidates);
      const works = plannable.map((work, c): EncodeWork[] | undefined => (dropped[c] ? undefined : work));
      // Should every candidate left be one this class cannot plan, the heuristic tuning runs after all.
      if (!works.some(Boolean)) {
        works[0] = plannable[0];
        dropped[0] = undefined;
      }
      const setupDone = performance.now();
      // Screening on the slices: candidates far behind there are not run at full size.
      if (slices.length > 0) {
        const screenWorks = worksOn(slices, candidates);
        const screened = await this.firstRuns(timer, candidates.map((_, c) => (works[c] ? screenWorks[c] : undefined)));
        const kept = withinReach(screened.map(total));
        noteRatios(ratios, screened.map(total), false);
        for (const c of candidates.keys()) {
          // A candidate the slice could not plan keeps its chance at full size.
          if (screened[c] && !kept[c]) {
            works[c] = undefined;
            dropped[c] = 'screen';
          }
        }
      }
      const screenDone = performance.now();
      const { totals, chosen } = await this.race(timer, works, ratios, dropped);
      const timedDone = performance.now();
      // Then one dispatch or several, on top of the winner, where that changes what the class runs
      // (dispatchCandidates): against the winner at full size, never screened (a slice may take one
      // dispatch where the tensor does not) nor judged across classes (a dispatch's fixed cost
      // weighs less the larger the tensor).
      const winner = candidates[chosen];
      const choices = dispatchCandidates(this.dispatchCounts(family, views, winner), this.settings.pinned).map((choice) => ({ ...winner, ...choice }));
      let final = winner;
      const dispatchTimings: CandidateTiming[] = [];
      if (choices.length > 0) {
        const dispatchRatios: (number | undefined)[] = [undefined, ...choices.map(() => undefined)];
        const dispatchDropped: CandidateTiming['dropped'][] = dispatchRatios.map(() => undefined);
        const race = await this.race(timer, [works[chosen], ...worksOn(tensors, choices)], dispatchRatios, dispatchDropped);
        if (race.chosen > 0) final = choices[race.chosen - 1];
        for (const [i, tuning] of choices.entries()) dispatchTimings.push(candidateTiming(tuning, race.totals[i + 1], dispatchDropped[i + 1], dispatchRatios[i + 1]));
      }
      const dispatchDone = performance.now();
      const result: ClassTuning = {
        family,
        sizeClass: classKey,
        shapes: views.map(viewShape),
        chosen: final,
        source: 'timed',
        candidates: [
          ...candidates.map((tuning, c) => candidateTiming(tuning, totals[c], dropped[c], ratios[c])),
          ...dispatchTimings,
        ],
        tuningMs: performance.now() - started,
        ...(slices.length > 0 ? { screenShapes: slices.map((t) => viewShape(t.view)) } : {}),
      };
      this.context.tuned?.set(classKey, final);
      this.remember(`${family}/${walk}`, {
        bucket,
        farBehind: new Set(candidates.filter((_, c) => dropped[c] === 'smallerClass' || (ratios[c] ?? 0) >= CROSS_CLASS_RATIO).map((c) => JSON.stringify(c))),
      });
      await this.save(classKey, final);
      const saved = performance.now();
      result.tuningMs = saved - started;
      result.phases = {
        setupMs: setupDone - started,
        screenMs: screenDone - setupDone,
        launchRunsMs: timedDone - screenDone,
        dispatchRunsMs: dispatchDone - timedDone,
        saveMs: saved - dispatchDone,
      };
      return result;
    } finally {
      timer.destroy();
      if (!shared) buffers.destroy();
    }
  }

  /**
   * Times candidates 0… (undefined: not run) at full size: a first run of each (pipelines built,
   * buffers touched) sizes its batches and drops the slow ('firstRun' in `dropped`), then the others
   * are timed READINGS times, interleaved so that all see the same background load. Notes `ratios`;
   * the fastest is chosen unless candidate 0 is within MIN_GAIN of it.
   */
  private async race(timer: GpuTimer, works: (EncodeWork[] | undefined)[], ratios: (number | undefined)[], dropped: CandidateTiming['dropped'][]): Promise<{ totals: (number | undefined)[]; chosen: number }> {
    const best = await this.firstRuns(timer, works);
    const batches = best.map((single) => single?.map(batchAfterFirstRun));
    const kept = withinReach(best.map(total));
    noteRatios(ratios, best.map(total), false);
    for (const c of works.keys()) if (best[c] && !kept[c]) dropped[c] = 'firstRun';
    const timed = new Set([...works.keys()].filter((c) => kept[c]));
    const totals: (number | undefined)[] = works.map(() => undefined);
    if (timed.size > 1) {
      const mins = works.map((_, c) => best[c]?.map((ms, s) => (batches[c]![s].runs < READINGS ? ms : Infinity)));
      for (let run = 0; run < READINGS; run++) {
        // A round's batches in one submit, candidates in turn, so that all see the same background load.
        const round = [...timed].flatMap((c) => works[c]!.flatMap((encode, s) => (run < batches[c]![s].runs ? [{ c, s, encode, k: batches[c]![s].calls }] : [])));
        const readings = await this.time(timer, round);
        for (const [i, { c, s }] of round.entries()) mins[c]![s] = Math.min(mins[c]![s], readings[i]);
      }
      for (const c of timed) totals[c] = sum(mins[c]!);
      // Batches of at least TARGET_BATCH_MS: their ratios are sound even for tiny tensors.
      noteRatios(ratios, totals.map((t) => t ?? Infinity), true);
    } else {
      for (const c of timed) totals[c] = total(best[c]);
    }
    let chosen = [...timed].reduce((a, b) => (totals[b]! < totals[a]! ? b : a));
    if (timed.has(0) && totals[chosen]! >= totals[0]! * (1 - MIN_GAIN)) chosen = 0;
    return { totals, chosen };
  }

  /** Dispatches of each view's call with `tuning`'s choice, and with one dispatch ruled out and forced. */
  private dispatchCounts(family: KernelFamily, views: ChannelView[], tuning: Partial<KernelTuning>): DispatchCounts {
    const counts = (override: Partial<KernelTuning>) => {
      const context = withTuning(this.context, override);
      return views.map((view) => dispatchCount(context, view, family));
    };
    return { heuristic: counts(tuning), off: counts({ ...tuning, oneDispatch: false }), on: counts({ ...tuning, oneDispatch: true }) };
  }

  /** The candidates the largest class below `bucket` of this family and walk found far behind. */
  private farBehindBelow(familyWalk: string, bucket: number): Set<string> {
    const below = (this.verdicts.get(familyWalk) ?? []).filter((v) => v.bucket < bucket);
    return below.length === 0 ? new Set() : below.reduce((a, b) => (b.bucket > a.bucket ? b : a)).farBehind;
  }

  private remember(familyWalk: string, verdict: ClassVerdict): void {
    const verdicts = (this.verdicts.get(familyWalk) ?? []).filter((v) => v.bucket !== verdict.bucket);
    this.verdicts.set(familyWalk, [...verdicts, verdict]);
  }

  /** One run of each candidate's work (undefined: not run), ms per shape: all in one submit. */
  private async firstRuns(timer: GpuTimer, works: (EncodeWork[] | undefined)[]): Promise<(number[] | undefined)[]> {
    const runs = works.flatMap((work, c) => (work ?? []).map((encode, s) => ({ c, s, encode, k: 1 })));
    const readings = await this.time(timer, runs);
    const out: (number[] | undefined)[] = works.map((work) => work?.map(() => Infinity));
    for (const [i, { c, s }] of runs.entries()) out[c]![s] = readings[i];
    return out;
  }

  /**
   * GPU ms per call of each batch, timed one after the other in one submit (gpu-timer.ts), or one
   * per GpuTimer.maxBatches for a class of very many shapes, each in its own error scopes.
   */
  private async time(timer: GpuTimer, batches: TimedBatch[]): Promise<number[]> {
    const out: number[] = [];
    for (let first = 0; first < batches.length; first += GpuTimer.maxBatches) {
      const part = batches.slice(first, first + GpuTimer.maxBatches);
      out.push(...(await withErrorScopes(this.context.device, 'autotune', () => timer.batches(part))));
    }
    return out;
  }

  /** Adds one class to the store's entry for this adapter (re-read first: other engines may share it). */
  private async save(classKey: string, override: Partial<KernelTuning>): Promise<void> {
    const { store, key } = this.settings;
    const classes: TunedClasses = { ...((await store.load(key)) ?? {}), [classKey]: override };
    await store.save(key, classes);
  }

  private adopt(classKey: string, override: Partial<KernelTuning>): void {
    const family = classKey.split('/')[0] as KernelFamily;
    if (!kernelFamilies.includes(family) || this.context.tuned === undefined) return;
    const restricted = restrictCandidate(family, override, this.settings.pinned);
    try {
      withTuning(this.context, restricted);
    } catch {
      return; // Values this device cannot take (e.g. a larger workgroup than it allows).
    }
    this.context.tuned.set(classKey, restricted);
  }
}
