/**
 * The bench page: measures one case at a time for the Node runner (bench/run.ts), which calls
 * `window.bench.*` through puppeteer and assembles the report. Every implementation runs in this
 * one page, on the same inputs; the GPU ones on one device created here.
 */
import type { AutotuneReport, KernelFamily, KernelTuning, Layout } from '../../src/index';
import type { CaseSpec, DeviceLimitsMode, PageEnvironment, PageResult, PrepareOptions, TimingPlan } from '../lib/types';
import { computeReference, makeCase, type CaseData } from './case-data';
import { createBenchDevice } from './gpu-device';
import { Ours } from './ours';

let ours: Ours | undefined;
let current: CaseData | undefined;
let tfjs: typeof import('./tfjs') | undefined;

function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what} first`);
  return value;
}

const bench = {
  /** Creates the bench device with the run's storage limits (`--device-limits`). */
  async init(limits: DeviceLimitsMode = 'adapter'): Promise<PageEnvironment> {
    const device = await createBenchDevice(limits);
    ours = await Ours.create(device);
    // TF.js is loaded only now, so that a page without it still measures ours.
    tfjs = await import('./tfjs');
    return {
      userAgent: navigator.userAgent,
      adapter: device.adapter,
      features: device.features,
      limits: device.limits,
      timer: ours.timer.method,
      tfjsVersion: tfjs.tfjsVersion,
      tfjsWebgpu: '4.22.0',
    };
  },

  /** The engine's starting tuning (`--tuning`): the adapter's, or a real GPU's defaults. */
  useTuning(tuning: 'adapter' | 'gpu-defaults'): KernelTuning {
    return need(ours, 'bench.init()').useTuning(tuning);
  },

  /** `--autotune`: tunes one op's family on the run's shapes; the report says what and how long. */
  async autotune(family: KernelFamily, shapes: { shape: number[]; layout: Layout }[]): Promise<AutotuneReport> {
    return need(ours, 'bench.init()').gpu.autotune(shapes, { families: [family] });
  },

  /**
   * Makes the inputs of a case and its reference (untimed); returns the reference time. Without
   * `host`, x and dy get no host arrays (see case-data.ts).
   */
  async prepare(spec: CaseSpec, options: PrepareOptions = { host: true }): Promise<{ referenceMs: number; referenceSource: string }> {
    const o = need(ours, 'bench.init()');
    current = undefined;
    const data = makeCase(spec, options.host);
    const start = performance.now();
    await computeReference(data, o.cpuEngine);
    current = data;
    return { referenceMs: performance.now() - start, referenceSource: data.referenceSource };
  },

  async gpu(plan: TimingPlan): Promise<PageResult> {
    return need(ours, 'bench.init()').measureGpu(need(current, 'bench.prepare()'), plan);
  },

  async cpu(plan: TimingPlan): Promise<PageResult> {
    return need(ours, 'bench.init()').measureCpu(need(current, 'bench.prepare()'), plan);
  },

  async tfjs(backend: 'webgpu' | 'cpu', plan: TimingPlan): Promise<PageResult> {
    return need(tfjs, 'bench.init()').measureTfjs(need(current, 'bench.prepare()'), backend, plan);
  },

  release(): void {
    current = undefined;
  },

  /**
   * Per-training-step time of the demo model (Dense 128 → BN → Dense 64 → BN → Dense 10, Adam,
   * batch 32, MNIST digits) on TF.js's WebGPU backend, stock batch-norm layer vs ours.
   */
  async trainingStep(steps: number, warmup: number) {
    await need(tfjs, 'bench.init()').useBackend('webgpu');
    const { measureStepTimes } = await import('../../demo/step-timing');
    return measureStepTimes({ steps, rounds: 2, warmup });
  },

  /** Diagnosis (bench/analyze.ts): our kernels one by one against the copy and a read-only pass. */
  async analyze(layout: Layout, shape: number[], tunings: Partial<KernelTuning>[], plan: TimingPlan) {
    const o = need(ours, 'bench.init()');
    const { analyze } = await import('./analyze');
    return analyze(o.bench.device, o.bench.adapter.isFallbackAdapter, o.timer, layout, shape, tunings, plan);
  },

  async analyzeCopy(elements: number, shapes: { workgroupSize: number; unitsPerThread: number }[], plan: TimingPlan) {
    const o = need(ours, 'bench.init()');
    const { analyzeCopy } = await import('./analyze');
    return analyzeCopy(o.bench.device, o.timer, elements, shapes, plan);
  },
};

export type BenchApi = typeof bench;

declare global {
  interface Window {
    bench: BenchApi;
    benchReady: boolean;
  }
}

window.bench = bench;
window.benchReady = true;
