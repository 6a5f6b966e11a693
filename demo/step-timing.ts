/**
 * Per-training-step time of the demo model (Dense 128 → BN → Dense 64 → BN → Dense 10, Adam, batch
 * 32, real MNIST digits), TF.js's stock batch-norm layer vs ours, on the current TF.js backend.
 *
 * Runs in a page (it needs WebGPU): `measureStepTimes()` from a Vite page, or `npm run demo:timing`
 * from a shell (headless Chromium, prints the result). One step is `model.trainOnBatch(x, y)`:
 * forward, backward and the Adam update, awaited to the end (it reads the loss back), as in
 * `model.fit`. Both models are warmed up, then timed in alternating rounds so that drift of the
 * machine affects both alike; the median is the number to quote.
 */
import * as tf from '@tensorflow/tfjs';
import { BATCH_SIZE, buildModel, toTensors, type Impl } from './model';
import { loadMnist, splitMnist, type DigitSet } from './mnist';

export interface StepTiming {
  impl: Impl;
  steps: number;
  msMedian: number;
  msMean: number;
  msMin: number;
  msMax: number;
}

export interface StepTimingReport {
  backend: string;
  batchSize: number;
  stock: StepTiming;
  ours: StepTiming;
  /** stock median / ours median: > 1 when our layer makes a step faster. */
  speedup: number;
}

export interface StepTimingOptions {
  /** Timed steps per implementation (default 60), split into `rounds` alternating rounds (default 4). */
  steps?: number;
  rounds?: number;
  /** Untimed steps first (default 10): pipeline compilation, buffer pools. */
  warmup?: number;
  /** Digits to train on (default: the first 8 000 of the demo's split, loaded here). */
  train?: DigitSet;
}

function summarize(impl: Impl, times: number[]): StepTiming {
  const sorted = [...times].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return {
    impl,
    steps: times.length,
    msMedian: sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2,
    msMean: times.reduce((a, b) => a + b, 0) / times.length,
    msMin: sorted[0],
    msMax: sorted[sorted.length - 1],
  };
}

export async function measureStepTimes(options: StepTimingOptions = {}): Promise<StepTimingReport> {
  const { steps = 60, rounds = 4, warmup = 10 } = options;
  const train = options.train ?? splitMnist(await loadMnist()).train;
  const { x, y } = toTensors(train);
  const batches = Math.floor(train.count / BATCH_SIZE);
  const batch = (i: number) => {
    const start = (i % batches) * BATCH_SIZE;
    return [x.slice([start, 0], [BATCH_SIZE, -1]), y.slice([start, 0], [BATCH_SIZE, -1])] as const;
  };
  const impls: Impl[] = ['stock', 'ours'];
  const models = Object.fromEntries(impls.map((impl) => [impl, buildModel(impl)])) as Record<Impl, tf.Sequential>;
  const times: Record<Impl, number[]> = { stock: [], ours: [] };
  const step = async (impl: Impl, i: number) => {
    const [xb, yb] = batch(i);
    const start = performance.now();
    await models[impl].trainOnBatch(xb, yb);
    const ms = performance.now() - start;
    tf.dispose([xb, yb]);
    return ms;
  };
  try {
    for (const impl of impls) for (let i = 0; i < warmup; i++) await step(impl, i);
    const perRound = Math.ceil(steps / rounds);
    for (let r = 0; r < rounds; r++) {
      for (const impl of r % 2 ? [...impls].reverse() : impls) {
        for (let i = 0; i < perRound && times[impl].length < steps; i++) times[impl].push(await step(impl, warmup + times[impl].length));
      }
    }
  } finally {
    for (const model of Object.values(models)) model.dispose();
    tf.dispose([x, y]);
  }
  const stock = summarize('stock', times.stock);
  const ours = summarize('ours', times.ours);
  return { backend: tf.getBackend(), batchSize: BATCH_SIZE, stock, ours, speedup: stock.msMedian / ours.msMedian };
}
