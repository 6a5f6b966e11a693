/**
 * The demo page: trains the Keras batch-norm example model on real MNIST digits with TF.js's own
 * batch-norm layer or ours, switchable at any time, with live loss and accuracy curves and the time
 * of each training step. Each implementation keeps its own model and history, so both curves stay
 * on the charts for comparison.
 *
 * URL parameters (for scripts): ?auto=N trains ours for N steps, then the stock layer for N, then
 * stops and sets window.demoDone; ?timing=1 runs measureStepTimes() and sets window.stepTiming.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import { drawChart, type Series } from './chart';
import { loadMnist, PIXELS, seededRandom, splitMnist, type DigitSet } from './mnist';
import { accuracy, BATCH_SIZE, buildModel, toTensors, type Impl } from './model';
import { measureStepTimes, type StepTimingReport } from './step-timing';

declare global {
  interface Window {
    demoDone?: boolean;
    demoError?: string;
    stepTiming?: StepTimingReport;
  }
}

const EVAL_EVERY = 50;
const SMOOTHING = 0.9;
const colors: Record<Impl, string> = { ours: '#2dd4bf', stock: '#f59e0b' };
const names: Record<Impl, string> = { ours: 'webgpu-batchnorm', stock: 'TF.js stock' };

interface Run {
  impl: Impl;
  model: tf.Sequential;
  steps: number;
  order: Uint32Array;
  random: () => number;
  loss: [number, number][];
  trainAcc: [number, number][];
  testAcc: [number, number][];
  smoothLoss?: number;
  smoothAcc?: number;
  stepMs: number[];
  /** [step, smoothed ms] for the step-time chart. */
  stepCurve: [number, number][];
  smoothMs?: number;
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);

let train: DigitSet;
let test: DigitSet;
let trainT: { x: tf.Tensor2D; y: tf.Tensor2D };
let testT: { x: tf.Tensor2D; y: tf.Tensor2D };
let runs: Record<Impl, Run>;
let current: Impl = 'ours';
let training = false;

function shuffled(n: number, random: () => number): Uint32Array {
  const order = new Uint32Array(n).map((_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

function newRun(impl: Impl): Run {
  const random = seededRandom(11);
  // The first epoch takes the split's own (seeded, shuffled) order, as the tests' model.fit does.
  const order = new Uint32Array(train.count).map((_, i) => i);
  return { impl, model: buildModel(impl), steps: 0, order, random, loss: [], trainAcc: [], testAcc: [], stepMs: [], stepCurve: [] };
}

function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** One training step of a run: a batch of the epoch's shuffled order, model.trainOnBatch, timed. */
async function step(run: Run): Promise<void> {
  const batchesPerEpoch = Math.floor(train.count / BATCH_SIZE);
  const b = run.steps % batchesPerEpoch;
  if (b === 0 && run.steps > 0) run.order = shuffled(train.count, run.random);
  const indices = tf.tensor1d(Int32Array.from(run.order.subarray(b * BATCH_SIZE, (b + 1) * BATCH_SIZE)), 'int32');
  const xb = tf.gather(trainT.x, indices);
  const yb = tf.gather(trainT.y, indices);
  const start = performance.now();
  const [loss, acc] = (await run.model.trainOnBatch(xb, yb)) as number[];
  const ms = performance.now() - start;
  tf.dispose([indices, xb, yb]);
  run.steps++;
  // The first steps compile pipelines; they are not what a step costs.
  if (run.steps > 3) {
    run.stepMs.push(ms);
    if (run.stepMs.length > 200) run.stepMs.shift();
    run.smoothMs = run.smoothMs === undefined ? ms : 0.8 * run.smoothMs + 0.2 * ms;
    run.stepCurve.push([run.steps, run.smoothMs]);
  }
  run.smoothLoss = run.smoothLoss === undefined ? loss : SMOOTHING * run.smoothLoss + (1 - SMOOTHING) * loss;
  run.smoothAcc = run.smoothAcc === undefined ? acc : SMOOTHING * run.smoothAcc + (1 - SMOOTHING) * acc;
  const seen = run.steps * BATCH_SIZE;
  run.loss.push([seen, run.smoothLoss]);
  run.trainAcc.push([seen, run.smoothAcc]);
  if (run.steps % EVAL_EVERY === 0) await evaluate(run);
}

async function evaluate(run: Run): Promise<void> {
  const acc = await accuracy(run.model, testT.x, test.labels);
  run.testAcc.push([run.steps * BATCH_SIZE, acc]);
  await showDigits(run);
}

// ---------------------------------------------------------------- rendering

const SAMPLE = 24;
const digitCells: { root: HTMLDivElement; label: HTMLDivElement }[] = [];

function buildDigits(): void {
  const grid = $('digits');
  for (let i = 0; i < SAMPLE; i++) {
    const root = document.createElement('div');
    root.className = 'digit';
    const canvas = document.createElement('canvas');
    canvas.width = canvas.height = 28;
    const image = canvas.getContext('2d')!.createImageData(28, 28);
    for (let p = 0; p < PIXELS; p++) {
      const v = test.images[i * PIXELS + p];
      // Ink in the page's accent, paper in the card's colour.
      image.data[p * 4] = 11 + v * (226 - 11);
      image.data[p * 4 + 1] = 18 + v * (232 - 18);
      image.data[p * 4 + 2] = 34 + v * (240 - 34);
      image.data[p * 4 + 3] = 255;
    }
    canvas.getContext('2d')!.putImageData(image, 0, 0);
    const label = document.createElement('div');
    label.className = 'label';
    label.textContent = '·';
    root.append(canvas, label);
    grid.append(root);
    digitCells.push({ root, label });
  }
}

async function showDigits(run: Run): Promise<void> {
  const predicted = tf.tidy(() => (run.model.predict(testT.x.slice([0, 0], [SAMPLE, -1])) as tf.Tensor).argMax(-1));
  const classes = await predicted.data();
  predicted.dispose();
  digitCells.forEach((cell, i) => {
    const ok = classes[i] === test.labels[i];
    cell.root.className = `digit ${ok ? 'good' : 'bad'}`;
    cell.label.textContent = ok ? String(classes[i]) : `${classes[i]} ≠ ${test.labels[i]}`;
  });
  $('pred-hint').textContent = `predictions of the ${names[run.impl]} model after ${run.steps} steps`;
}

function legend(id: string, value: (run: Run) => string, note = ''): void {
  $(id).innerHTML =
    (['stock', 'ours'] as Impl[]).map((impl) => `<span><i class="dot ${impl}"></i>${names[impl]} <b>${value(runs[impl])}</b></span>`).join('') +
    (note ? `<span class="aside">${note}</span>` : '');
}

function render(): void {
  const lossSeries: Series[] = [];
  const accSeries: Series[] = [];
  const timeSeries: Series[] = [];
  // Ours first, the stock layer dashed on top: with the same initial weights and batches the two
  // curves coincide, and the dashes let both show.
  for (const impl of ['ours', 'stock'] as Impl[]) {
    const run = runs[impl];
    const dashed = impl === 'stock';
    lossSeries.push({ label: impl, color: colors[impl], points: run.loss, width: 2.2, dashed });
    accSeries.push({ label: impl, color: colors[impl], points: run.trainAcc, width: 1.4, alpha: 0.55, dashed });
    accSeries.push({ label: impl, color: colors[impl], points: run.testAcc, markers: true, width: 2.2, dashed });
    timeSeries.push({ label: impl, color: colors[impl], points: run.stepCurve, width: 2 });
  }
  const maxLoss = Math.max(0.5, ...Object.values(runs).flatMap((r) => r.loss.slice(2).map((p) => p[1])));
  drawChart($('loss-chart'), lossSeries, { yMin: 0, yMax: Math.min(2.5, maxLoss * 1.05), xLabel: 'digits seen', yFormat: (v) => v.toFixed(1) });
  drawChart($('acc-chart'), accSeries, { yMin: 0.5, yMax: 1, xLabel: 'digits seen', yFormat: (v) => `${Math.round(v * 100)}%` });
  legend('loss-legend', (r) => (r.smoothLoss === undefined ? '—' : r.smoothLoss.toFixed(3)), 'same initial weights and batches: the curves coincide');
  legend('acc-legend', (r) => (r.testAcc.length ? `${(r.testAcc[r.testAcc.length - 1][1] * 100).toFixed(1)}%` : '—'));

  const ms = { stock: median(runs.stock.stepMs), ours: median(runs.ours.stepMs) };
  const msTop = Math.max(50, ...timeSeries.flatMap((t) => t.points.map((p) => p[1])));
  drawChart($('time-chart'), timeSeries, { yMin: 0, yMax: msTop * 1.1, xLabel: 'training step', yFormat: (v) => `${v.toFixed(0)}` });
  const top = Math.max(...Object.values(ms).filter(Number.isFinite), 1);
  $('timing').innerHTML = (['stock', 'ours'] as Impl[])
    .map(
      (impl) => `<div class="trow"><div class="name"><i class="dot ${impl}"></i>${names[impl]}</div>
        <div class="track"><div class="fill ${impl}" style="width:${Number.isFinite(ms[impl]) ? (100 * ms[impl]) / top : 0}%"></div></div>
        <div class="ms">${Number.isFinite(ms[impl]) ? `${ms[impl].toFixed(0)} ms` : '—'}</div></div>`,
    )
    .join('');
  $('timing-note').innerHTML =
    Number.isFinite(ms.stock) && Number.isFinite(ms.ours)
      ? `A whole training step is <b>${(ms.stock / ms.ours).toFixed(2)}×</b> faster with webgpu-batchnorm: each of its layers runs 3 fused dispatches forward and 3 backward, where TF.js's stock layer runs about 50 generic kernels. Both on ${tf.getBackend()}${isSoftware() ? ' (SwiftShader, a software GPU: absolute times are CPU times)' : ''}.`
      : 'Train both implementations (switch above) to compare their step times.';

  const run = runs[current];
  const epoch = (run.steps * BATCH_SIZE) / train.count;
  $('status').textContent = `${names[current]}: step ${run.steps} · epoch ${epoch.toFixed(2)} · ${run.steps * BATCH_SIZE} digits seen${training ? '' : ' · paused'}`;
  $<HTMLDivElement>('progress-fill').style.width = `${Math.min(100, (epoch % 1 || (run.steps ? 1 : 0)) * 100)}%`;
  document.querySelectorAll<HTMLButtonElement>('.switch button').forEach((b) => b.classList.toggle('active', b.dataset.impl === current));
  $('train').textContent = training ? 'Pause' : run.steps ? 'Resume' : 'Train';
}

function isSoftware(): boolean {
  const info = (tf.backend() as unknown as { adapterInfo?: { architecture?: string; vendor?: string } }).adapterInfo;
  return /swiftshader/i.test(`${info?.architecture ?? ''} ${info?.vendor ?? ''}`);
}

function chips(): void {
  const backend = tf.getBackend();
  const info = (tf.backend() as unknown as { adapterInfo?: { vendor?: string; architecture?: string } }).adapterInfo;
  const adapter = [info?.vendor, info?.architecture].filter(Boolean).join(' / ');
  $('chips').innerHTML = [
    `TF.js <b>${tf.version.tfjs}</b>`,
    `backend <b>${backend}</b>`,
    adapter ? `adapter <b>${adapter}</b>` : '',
    `<b>${train.count.toLocaleString('en')}</b> train · <b>${test.count.toLocaleString('en')}</b> held-out digits`,
  ]
    .filter(Boolean)
    .map((c) => `<span class="chip">${c}</span>`)
    .join('');
}

// ---------------------------------------------------------------- control

let frame = 0;
async function loop(stopAfter?: { impl: Impl; steps: number }): Promise<void> {
  while (training) {
    const run = runs[current];
    await step(run);
    if (++frame % 2 === 0 || !training) render();
    if (stopAfter && run.steps >= stopAfter.steps) break;
  }
  render();
}

function setTraining(on: boolean): void {
  if (training === on) return;
  training = on;
  if (on) void loop().catch(fail);
  render();
}

function fail(error: unknown): void {
  training = false;
  const message = error instanceof Error ? error.message : String(error);
  window.demoError = message;
  $('status').textContent = `Error: ${message}`;
  console.error(error);
}

async function autoRun(steps: number): Promise<void> {
  for (const impl of ['ours', 'stock'] as Impl[]) {
    current = impl;
    training = true;
    await loop({ impl, steps });
    if (runs[impl].steps % EVAL_EVERY !== 0) await evaluate(runs[impl]);
  }
  training = false;
  current = 'ours';
  await showDigits(runs.ours);
  render();
  window.demoDone = true;
}

async function main(): Promise<void> {
  const backend = (await tf.setBackend('webgpu').catch(() => false)) ? 'webgpu' : (await tf.setBackend('webgl')) ? 'webgl' : 'cpu';
  if (tf.getBackend() !== backend) await tf.setBackend(backend);
  await tf.ready();
  const all = await loadMnist((n) => ($('status').textContent = `Loading MNIST digits… ${n}/10 classes`));
  ({ train, test } = splitMnist(all));
  trainT = toTensors(train);
  testT = toTensors(test);
  if (params.has('timing')) {
    $('status').textContent = 'Measuring step times…';
    window.stepTiming = await measureStepTimes({ train, steps: Number(params.get('timing')) || undefined });
  }
  runs = { stock: newRun('stock'), ours: newRun('ours') };
  chips();
  buildDigits();
  document.querySelectorAll<HTMLButtonElement>('.switch button').forEach((button) =>
    button.addEventListener('click', () => {
      current = button.dataset.impl as Impl;
      render();
    }),
  );
  $('train').addEventListener('click', () => setTraining(!training));
  $('reset').addEventListener('click', () => {
    training = false;
    // Let a step in flight finish with the old models before they are disposed.
    setTimeout(() => {
      for (const run of Object.values(runs)) run.model.dispose();
      runs = { stock: newRun('stock'), ours: newRun('ours') };
      digitCells.forEach((c) => ((c.root.className = 'digit'), (c.label.textContent = '·')));
      render();
    }, 500);
  });
  window.addEventListener('resize', render);
  render();
  $('status').textContent = `Ready: ${train.count} training digits loaded on ${backend}. Press Train.`;
  const auto = Number(params.get('auto'));
  if (auto > 0) await autoRun(auto);
}

main().catch(fail);
