/**
 * The per-case calls every bench runtime makes, in order: `init` (the bench device), then per case
 * `prepare`, `gpu`, `cpu`, `release`. The browser page (main.ts) exposes them to bench/run.ts
 * through puppeteer; the Node bench (bench/node/bench-gpu.ts) calls them in its own process on
 * Dawn. Both measure with the same code (ours.ts, timing.ts, copy-kernel.ts, case-data.ts).
 */
import { normOf, type CaseSpec, type DeviceLimitsMode, type PageResult, type PrepareOptions, type TimingPlan } from '../lib/types';
import { computeReference, makeCase, type CaseData } from './case-data';
import { createBenchDevice, type BenchDevice } from './gpu-device';
import { Ours } from './ours';
import { measureNormCpu, measureNormGpu } from './ours-norms';

function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what} first`);
  return value;
}

export interface CaseRunner {
  /** Creates the bench device (on `gpu`) with the run's storage limits (`--device-limits`) and our engines on it. */
  init(limits?: DeviceLimitsMode): Promise<BenchDevice>;
  /** Makes a case's inputs and reference (untimed); without `host`, x and dy get no host arrays (see case-data.ts). */
  prepare(spec: CaseSpec, options?: PrepareOptions): Promise<{ referenceMs: number; referenceSource: string }>;
  gpu(plan: TimingPlan): Promise<PageResult>;
  cpu(plan: TimingPlan): Promise<PageResult>;
  release(): void;
  /** Our engines and timer, once init() has run (the analysis reuses them). */
  readonly ours: Ours;
  /** The prepared case (TF.js measures the same inputs). */
  readonly current: CaseData;
}

export function createCaseRunner(gpu: () => GPU): CaseRunner {
  let ours: Ours | undefined;
  let current: CaseData | undefined;
  return {
    async init(limits = 'adapter') {
      const device = await createBenchDevice(limits, gpu());
      ours = await Ours.create(device);
      return device;
    },
    async prepare(spec, options = { host: true }) {
      const o = need(ours, 'init()');
      current = undefined;
      const data = makeCase(spec, options.host);
      const start = performance.now();
      await computeReference(data, o.cpuEngine);
      current = data;
      return { referenceMs: performance.now() - start, referenceSource: data.referenceSource };
    },
    gpu(plan) {
      const [o, data] = [need(ours, 'init()'), need(current, 'prepare()')];
      const norm = normOf(data.spec.op);
      return norm ? measureNormGpu(o, data, norm, plan) : o.measureGpu(data, plan);
    },
    cpu(plan) {
      const [o, data] = [need(ours, 'init()'), need(current, 'prepare()')];
      const norm = normOf(data.spec.op);
      return norm ? measureNormCpu(o.cpuEngine, data, norm, plan) : o.measureCpu(data, plan);
    },
    release() {
      current = undefined;
    },
    get ours() {
      return need(ours, 'init()');
    },
    get current() {
      return need(current, 'prepare()');
    },
  };
}
