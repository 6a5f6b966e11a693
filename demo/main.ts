/**
 * The demo page: trains the Keras batch-norm example model on real MNIST digits with TF.js's own
 * batch-norm layer, with ours, or both in a race (same initial weights, same batches, one step of
 * each in turn), for a chosen number of epochs, with live loss, accuracy and step-time curves.
 *
 * URL parameters: ?mode=race|stock|ours and ?epochs=N preset the controls; ?steps=N makes the run N
 * steps long instead of whole epochs (a short run, for scripts and tests, which then press Train
 * like anyone); ?timing=N runs measureStepTimes() first and sets window.stepTiming.
 * window.demoState() reports where the page is (see DemoState).
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import { loadMnist, splitMnist } from './mnist';
import { BATCH_SIZE, toTensors, type Impl } from './model';
import { measureStepTimes, type StepTimingReport } from './step-timing';
import { batchesPerEpoch, median, TrainingRun, type DemoData, type Mode } from './training-run';
import { $, DigitGrid, NAMES, renderCharts, renderTiming } from './view';

export type Phase = 'loading' | 'ready' | 'training' | 'paused' | 'done' | 'error';

/** The page's state as scripts and tests read it, plain JSON. */
export interface DemoState {
  phase: Phase;
  mode: Mode;
  totalSteps: number;
  steps: number;
  error?: string;
  models: {
    impl: Impl;
    steps: number;
    rawLoss: number[];
    testAccuracy?: number;
    msMedian: number;
    batchNormLayers: { name: string; className: string }[];
  }[];
}

declare global {
  interface Window {
    demoState?: () => DemoState;
    stepTiming?: StepTimingReport;
  }
}

/** Held-out accuracy and predictions are refreshed this often, and at the end of a run. */
const EVAL_EVERY = 50;
const MODES: Mode[] = ['race', 'stock', 'ours'];

const params = new URLSearchParams(location.search);
const shortRun = Number(params.get('steps')) > 0 ? Math.floor(Number(params.get('steps'))) : undefined;

let phase: Phase = 'loading';
let mode: Mode = MODES.includes(params.get('mode') as Mode) ? (params.get('mode') as Mode) : 'race';
let error: string | undefined;
let data: DemoData;
let digits: DigitGrid;
let run: TrainingRun | undefined;
/** The training loop in flight, awaited before its run is thrown away. */
let looping: Promise<void> | undefined;
let loopRunning = false;
let software = false;

const epochsInput = $<HTMLInputElement>('epochs');
if (Number(params.get('epochs')) >= 1) epochsInput.value = String(Math.floor(Number(params.get('epochs'))));

const MAX_EPOCHS = Number(epochsInput.max);

function epochs(): number {
  const n = Math.floor(Number(epochsInput.value));
  return Number.isFinite(n) ? Math.min(MAX_EPOCHS, Math.max(1, n)) : 1;
}

/** Steps the run takes: whole epochs, or the short run's count. */
function plannedSteps(): number {
  return shortRun ?? epochs() * batchesPerEpoch(data.train);
}

function state(): DemoState {
  return {
    phase,
    mode,
    totalSteps: data ? plannedSteps() : 0,
    steps: run?.steps ?? 0,
    error,
    models: (run?.histories ?? []).map((h) => ({
      impl: h.impl,
      steps: h.steps,
      rawLoss: h.rawLoss,
      testAccuracy: h.testAcc.at(-1)?.[1],
      msMedian: median(h.stepMs),
      batchNormLayers: h.model.layers.filter((l) => /Normalization/.test(l.getClassName())).map((l) => ({ name: l.name, className: l.getClassName() })),
    })),
  };
}

// ---------------------------------------------------------------- rendering

function render(): void {
  if (!data) return;
  const total = plannedSteps();
  renderCharts(run, total);
  renderTiming(run, software);
  const steps = run?.steps ?? 0;
  const fraction = Math.min(1, steps / total);
  $('progress-fill').style.width = `${fraction * 100}%`;
  $('progress').setAttribute('aria-valuenow', String(Math.round(fraction * 100)));
  $('status').textContent = statusText(steps, total);

  const train = $<HTMLButtonElement>('train');
  train.disabled = phase === 'error';
  train.textContent = { loading: 'Train', ready: 'Train', training: 'Pause', paused: 'Resume', done: 'Train again', error: 'Train' }[phase];
  $<HTMLButtonElement>('reset').disabled = !run || phase === 'training';
  // A run keeps its mode; the length of a run can change while it is paused (or running).
  document.querySelectorAll<HTMLButtonElement>('.switch button').forEach((button) => {
    const active = button.dataset.mode === mode;
    button.classList.toggle('active', active);
    button.setAttribute('aria-checked', String(active));
    button.disabled = phase === 'training' || phase === 'paused';
  });
  epochsInput.disabled = shortRun !== undefined;
}

function statusText(steps: number, total: number): string {
  const who = mode === 'race' ? 'Race' : NAMES[mode];
  const length = shortRun ? `a short run of ${total} steps` : `${epochs()} epoch${epochs() > 1 ? 's' : ''}, ${total} steps`;
  switch (phase) {
    case 'loading':
      return 'Loading MNIST digits…';
    case 'ready':
      return `Ready: ${data.train.count.toLocaleString('en')} training digits on ${tf.getBackend()}. Press Train for ${length}.`;
    case 'error':
      return `Error: ${error}`;
    case 'done': {
      const accuracies = run!.histories.map((h) => `${NAMES[h.impl]} ${((h.testAcc.at(-1)?.[1] ?? 0) * 100).toFixed(1)}%`);
      return `Done: ${who}, ${length}. Held-out accuracy: ${accuracies.join(', ')}.`;
    }
    default: {
      const perEpoch = batchesPerEpoch(data.train);
      const epoch = Math.min(Math.floor(steps / perEpoch) + 1, Math.ceil(total / perEpoch));
      return `${who}: step ${steps} of ${total} · epoch ${epoch} of ${Math.ceil(total / perEpoch)} · ${(steps * BATCH_SIZE).toLocaleString('en')} digits seen${phase === 'paused' ? ' · paused' : ''}`;
    }
  }
}

function chips(): void {
  const info = (tf.backend() as unknown as { adapterInfo?: { vendor?: string; architecture?: string } }).adapterInfo;
  const adapter = [info?.vendor, info?.architecture].filter(Boolean).join(' / ');
  software = /swiftshader/i.test(adapter);
  $('chips').innerHTML = [
    `TF.js <b>${tf.version.tfjs}</b>`,
    `backend <b>${tf.getBackend()}</b>`,
    adapter ? `adapter <b>${adapter}</b>` : '',
    `<b>${data.train.count.toLocaleString('en')}</b> train · <b>${data.test.count.toLocaleString('en')}</b> held-out digits`,
  ]
    .filter(Boolean)
    .map((c) => `<span class="chip">${c}</span>`)
    .join('');
}

// ---------------------------------------------------------------- control

async function trainLoop(current: TrainingRun): Promise<void> {
  loopRunning = true;
  try {
    while (phase === 'training' && run === current) {
      current.totalSteps = plannedSteps();
      if (current.done) break;
      await current.step();
      if (current.steps % EVAL_EVERY === 0) await refreshPredictions(current);
      render();
    }
  } finally {
    // Set before any await: from here on, a Resume needs a new loop.
    loopRunning = false;
  }
  if (run !== current) return;
  if (current.done) {
    await refreshPredictions(current);
    phase = 'done';
  }
  render();
}

async function refreshPredictions(current: TrainingRun): Promise<void> {
  await current.evaluate();
  digits.show(current);
}

function startLoop(): void {
  phase = 'training';
  // Paused and resumed within one step: the loop still running goes on (a second loop would
  // train the models on two batches at once).
  if (!loopRunning) looping = trainLoop(run!).catch(fail);
  render();
}

/** Stops the loop, waits for its step in flight, and frees the run's models. */
async function discardRun(): Promise<void> {
  const old = run;
  if (phase === 'training') phase = 'paused';
  await looping;
  if (run !== old) return;
  run = undefined;
  old?.dispose();
  digits.clear();
  if (phase !== 'error') phase = 'ready';
}

async function onTrain(): Promise<void> {
  if (phase === 'training') {
    phase = 'paused';
    render();
    return;
  }
  if (phase === 'paused' && run) return startLoop();
  if (phase === 'done') await discardRun();
  run = new TrainingRun(mode, data, plannedSteps());
  startLoop();
}

async function onMode(next: Mode): Promise<void> {
  if (phase === 'training' || phase === 'paused' || next === mode) return;
  if (phase === 'done') await discardRun();
  mode = next;
  render();
}

function fail(cause: unknown): void {
  phase = 'error';
  error = cause instanceof Error ? cause.message : String(cause);
  console.error(cause);
  render();
  $('status').textContent = `Error: ${error}`;
}

async function main(): Promise<void> {
  window.demoState = state;
  const backend = (await tf.setBackend('webgpu').catch(() => false)) ? 'webgpu' : (await tf.setBackend('webgl')) ? 'webgl' : 'cpu';
  if (tf.getBackend() !== backend) await tf.setBackend(backend);
  await tf.ready();
  const all = await loadMnist((n) => ($('status').textContent = `Loading MNIST digits… ${n}/10 classes`));
  const { train, test } = splitMnist(all);
  data = { train, test, trainT: toTensors(train), testT: toTensors(test) };
  if (params.has('timing')) {
    $('status').textContent = 'Measuring step times…';
    window.stepTiming = await measureStepTimes({ train, steps: Number(params.get('timing')) || undefined });
  }
  chips();
  digits = new DigitGrid($('digits'), test);
  document.querySelectorAll<HTMLButtonElement>('.switch button').forEach((button) =>
    button.addEventListener('click', () => void onMode(button.dataset.mode as Mode).catch(fail)),
  );
  $('train').addEventListener('click', () => void onTrain().catch(fail));
  $('reset').addEventListener('click', () => void discardRun().then(render).catch(fail));
  epochsInput.addEventListener('input', () => {
    // A finished run made longer can resume where it stopped.
    if (run && !shortRun) run.totalSteps = plannedSteps();
    if (run && phase === 'done' && !run.done) phase = 'paused';
    render();
  });
  window.addEventListener('resize', render);
  phase = 'ready';
  render();
}

main().catch(fail);
