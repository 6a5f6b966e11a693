/**
 * The bench page: measures one case at a time for the browser runner (bench/run.ts), which calls
 * `window.bench.*` through puppeteer and assembles the report. Every implementation runs in this
 * one page, on the same inputs; the GPU ones on one device created here. Our rows and the floor
 * come from case-runner.ts, which the Node bench (bench/node/bench-gpu.ts) runs on Dawn too; TF.js,
 * the demo's training step and the analysis are the page's own.
 */
import type { AutotuneReport, KernelFamily, Layout } from '../../src/index';
import type { KernelTuning } from '../../src/advanced';
import type { CaseSpec, DeviceLimitsMode, PageEnvironment, PageResult, PrepareOptions, TimingPlan } from '../lib/types';
import type { AnalysisTuning } from '../lib/analysis';
import type { CopyShape } from './copy-kernel';
import { createCaseRunner } from './case-runner';

const runner = createCaseRunner(() => navigator.gpu);
let tfjs: typeof import('./tfjs') | undefined;

function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what} first`);
  return value;
}

const bench = {
  /** Creates the bench device with the run's storage limits (`--device-limits`). */
  async init(limits: DeviceLimitsMode = 'adapter'): Promise<PageEnvironment> {
    const device = await runner.init(limits);
    // TF.js is loaded only now, so that a page without it still measures ours.
    tfjs = await import('./tfjs');
    return {
      runtime: navigator.userAgent,
      adapter: device.adapter,
      features: device.features,
      limits: device.limits,
      timer: runner.ours.timer.method,
      tfjsVersion: tfjs.tfjsVersion,
    };
  },

  prepare: (spec: CaseSpec, options?: PrepareOptions) => runner.prepare(spec, options),
  gpu: (plan: TimingPlan): Promise<PageResult> => runner.gpu(plan),
  cpu: (plan: TimingPlan): Promise<PageResult> => runner.cpu(plan),

  /** The engine's starting tuning (`--tuning`): the adapter's, or a real GPU's defaults. */
  useTuning: (tuning: 'adapter' | 'gpu-defaults'): KernelTuning => runner.ours.useTuning(tuning),

  /** `--autotune`: tunes one op's family on the run's shapes; the report says what and how long. */
  autotune: (family: KernelFamily, shapes: { shape: number[]; layout: Layout }[]): Promise<AutotuneReport> => runner.ours.gpu.autotune(shapes, { families: [family] }),

  async tfjs(backend: 'webgpu' | 'cpu', plan: TimingPlan): Promise<PageResult> {
    return need(tfjs, 'bench.init()').measureTfjs(runner.current, backend, plan);
  },

  /** JavaScript µs per encode… call on a warm shape (host-cost.ts). */
  async hostMicros() {
    const { measureHostMicros } = await import('./host-cost');
    return measureHostMicros(runner.ours.gpu);
  },

  release: () => runner.release(),

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
  async analyze(layout: Layout, shape: number[], tunings: AnalysisTuning[], plan: TimingPlan) {
    const o = runner.ours;
    const { analyze } = await import('./analyze');
    return analyze(o.bench.device, o.bench.adapter.isFallbackAdapter, o.timer, layout, shape, tunings, plan);
  },

  async analyzeCopy(elements: number, shapes: CopyShape[], plan: TimingPlan) {
    const o = runner.ours;
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
