/**
 * One training run of the demo: a fixed number of steps of one model, or of two in a race. In a
 * race both models, TF.js's stock batch-norm layer and ours, start from the same weights and train
 * on the very same batch tensors in the same order, one step each in turn, so their curves and step
 * times compare like for like. No DOM here: the page renders what a run records.
 */
import * as tf from '@tensorflow/tfjs';
import { seededRandom, type DigitSet } from './mnist';
import { BATCH_SIZE, buildModel, fractionCorrect, predictClasses, type Impl } from './model';

/** Both layers side by side, or one of them alone. */
export type Mode = 'race' | Impl;

export const IMPLS: readonly Impl[] = ['stock', 'ours'];

export function implsOf(mode: Mode): Impl[] {
  return mode === 'race' ? [...IMPLS] : [mode];
}

/** Steps before a step's time counts: the first ones compile pipelines and fill buffer pools. */
const WARMUP_STEPS = 3;
const SMOOTHING = 0.9;
const TIME_SMOOTHING = 0.8;

/** The MNIST split as the page holds it: host copies (labels, pixels) and tensors. */
export interface DemoData {
  train: DigitSet;
  test: DigitSet;
  trainT: { x: tf.Tensor2D; y: tf.Tensor2D };
  testT: { x: tf.Tensor2D; y: tf.Tensor2D };
}

/** What one model has done so far. Curves are [digits seen or step, value] points. */
export interface History {
  impl: Impl;
  model: tf.Sequential;
  steps: number;
  /** The loss of every step as trainOnBatch returned it. */
  rawLoss: number[];
  /** Smoothed loss and training accuracy against digits seen. */
  loss: [number, number][];
  trainAcc: [number, number][];
  /** Held-out accuracy against digits seen. */
  testAcc: [number, number][];
  /** The latest predictions for the held-out digits. */
  testClasses?: Int32Array;
  /** Milliseconds of each step after the warm-up. */
  stepMs: number[];
  /** [step, smoothed ms] for the step-time chart. */
  stepCurve: [number, number][];
  smoothLoss?: number;
  smoothAcc?: number;
  smoothMs?: number;
}

export function batchesPerEpoch(train: DigitSet): number {
  return Math.floor(train.count / BATCH_SIZE);
}

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function shuffled(n: number, random: () => number): Uint32Array {
  const order = new Uint32Array(n).map((_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

export class TrainingRun {
  readonly mode: Mode;
  readonly histories: History[];
  /** The run stops when every model has done this many steps; the page may move it. */
  totalSteps: number;
  private readonly data: DemoData;
  private readonly random = seededRandom(11);
  // The first epoch takes the split's own (seeded, shuffled) order, as the tests' model.fit does;
  // each later one a seeded shuffle. One order for the run: every model sees the same batches.
  private order: Uint32Array;
  private epoch = 0;

  constructor(mode: Mode, data: DemoData, totalSteps: number) {
    this.mode = mode;
    this.data = data;
    this.totalSteps = totalSteps;
    this.order = new Uint32Array(data.train.count).map((_, i) => i);
    this.histories = implsOf(mode).map((impl) => ({
      impl,
      model: buildModel(impl),
      steps: 0,
      rawLoss: [],
      loss: [],
      trainAcc: [],
      testAcc: [],
      stepMs: [],
      stepCurve: [],
    }));
    // The models' initializers are seeded alike already; copying makes "same start" hold whatever
    // the initializers do.
    const [first, ...others] = this.histories;
    for (const other of others) other.model.setWeights(first.model.getWeights());
  }

  /** Steps done by every model of the run. */
  get steps(): number {
    return Math.min(...this.histories.map((h) => h.steps));
  }

  get done(): boolean {
    return this.steps >= this.totalSteps;
  }

  history(impl: Impl): History | undefined {
    return this.histories.find((h) => h.impl === impl);
  }

  /** One batch, then one trainOnBatch of every model on it; the order of the models alternates. */
  async step(): Promise<void> {
    const perEpoch = batchesPerEpoch(this.data.train);
    const step = this.steps;
    const epoch = Math.floor(step / perEpoch);
    if (epoch !== this.epoch) {
      this.order = shuffled(this.data.train.count, this.random);
      this.epoch = epoch;
    }
    const b = step % perEpoch;
    const indices = tf.tensor1d(Int32Array.from(this.order.subarray(b * BATCH_SIZE, (b + 1) * BATCH_SIZE)), 'int32');
    const xb = tf.gather(this.data.trainT.x, indices);
    const yb = tf.gather(this.data.trainT.y, indices);
    try {
      // Neither model always runs right after the other: what one leaves behind (a busy queue, a
      // warm cache) falls on both alike.
      const turn = step % 2 ? [...this.histories].reverse() : this.histories;
      for (const history of turn) await this.trainOn(history, xb, yb);
    } finally {
      tf.dispose([indices, xb, yb]);
    }
  }

  private async trainOn(h: History, xb: tf.Tensor2D, yb: tf.Tensor2D): Promise<void> {
    const start = performance.now();
    const [loss, acc] = (await h.model.trainOnBatch(xb, yb)) as number[];
    const ms = performance.now() - start;
    h.steps++;
    if (h.steps > WARMUP_STEPS) {
      h.stepMs.push(ms);
      h.smoothMs = h.smoothMs === undefined ? ms : TIME_SMOOTHING * h.smoothMs + (1 - TIME_SMOOTHING) * ms;
      h.stepCurve.push([h.steps, h.smoothMs]);
    }
    h.rawLoss.push(loss);
    h.smoothLoss = h.smoothLoss === undefined ? loss : SMOOTHING * h.smoothLoss + (1 - SMOOTHING) * loss;
    h.smoothAcc = h.smoothAcc === undefined ? acc : SMOOTHING * h.smoothAcc + (1 - SMOOTHING) * acc;
    const seen = h.steps * BATCH_SIZE;
    h.loss.push([seen, h.smoothLoss]);
    h.trainAcc.push([seen, h.smoothAcc]);
  }

  /** Held-out accuracy of every model (inference mode: moving statistics), once per step count. */
  async evaluate(): Promise<void> {
    for (const h of this.histories) {
      const seen = h.steps * BATCH_SIZE;
      if (h.testAcc.at(-1)?.[0] === seen) continue;
      h.testClasses = await predictClasses(h.model, this.data.testT.x);
      h.testAcc.push([seen, fractionCorrect(h.testClasses, this.data.test.labels)]);
    }
  }

  dispose(): void {
    for (const h of this.histories) h.model.dispose();
  }
}
