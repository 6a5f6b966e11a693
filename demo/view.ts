/**
 * What the demo page shows of a training run: loss, accuracy and step-time charts with their
 * legends, the step-time bars, and the grid of held-out digits with the models' predictions.
 */
import * as tf from '@tensorflow/tfjs';
import { drawChart, type Series } from './chart';
import { PIXELS, type DigitSet } from './mnist';
import { BATCH_SIZE, type Impl } from './model';
import { IMPLS, median, type History, type TrainingRun } from './training-run';

export const NAMES: Record<Impl, string> = { ours: 'webgpu-batchnorm', stock: 'TF.js stock' };
const COLORS: Record<Impl, string> = { ours: '#2dd4bf', stock: '#f59e0b' };

export const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** The curves of a run (or empty axes before one), the x axes spanning `totalSteps`. */
export function renderCharts(run: TrainingRun | undefined, totalSteps: number): void {
  const histories = run?.histories ?? [];
  const lossSeries: Series[] = [];
  const accSeries: Series[] = [];
  const timeSeries: Series[] = [];
  // Ours first, the stock layer dashed on top: with the same initial weights and batches the two
  // curves nearly coincide, and the dashes let both show.
  for (const h of [...histories].sort((a, b) => (a.impl === 'ours' ? -1 : b.impl === 'ours' ? 1 : 0))) {
    const dashed = h.impl === 'stock' && histories.length > 1;
    const color = COLORS[h.impl];
    lossSeries.push({ label: h.impl, color, points: h.loss, width: 2.2, dashed });
    accSeries.push({ label: h.impl, color, points: h.trainAcc, width: 1.4, alpha: 0.55, dashed });
    accSeries.push({ label: h.impl, color, points: h.testAcc, markers: true, width: 2.2, dashed });
    timeSeries.push({ label: h.impl, color, points: h.stepCurve, width: 2 });
  }
  const digits = totalSteps * BATCH_SIZE;
  const maxLoss = Math.max(0.5, ...histories.flatMap((h) => h.loss.slice(2).map((p) => p[1])));
  drawChart($('loss-chart'), lossSeries, { title: 'Training loss', xLabel: 'digits seen', xMax: digits, xInteger: true, yMin: 0, yMax: Math.min(2.5, maxLoss * 1.05) });
  drawChart($('acc-chart'), accSeries, { title: 'Accuracy', xLabel: 'digits seen', xMax: digits, xInteger: true, yMin: 0.5, yMax: 1, yFormat: 'percent' });
  const msTop = Math.max(50, ...timeSeries.flatMap((t) => t.points.map((p) => p[1])));
  drawChart($('time-chart'), timeSeries, { title: 'Time per training step in ms', xLabel: 'training step', xMax: totalSteps, xInteger: true, yMin: 0, yMax: msTop * 1.1 });

  const race = histories.length > 1;
  legend('loss-legend', histories, (h) => (h.smoothLoss === undefined ? '—' : h.smoothLoss.toFixed(3)), race ? 'same initial weights, same batches' : '');
  legend('acc-legend', histories, (h) => {
    const last = h.testAcc.at(-1);
    return last ? `${(last[1] * 100).toFixed(1)}%` : '—';
  });
}

function legend(id: string, histories: History[], value: (h: History) => string, note = ''): void {
  $(id).innerHTML =
    histories.map((h) => `<span><i class="dot ${h.impl}"></i>${NAMES[h.impl]} <b>${value(h)}</b></span>`).join('') +
    (note ? `<span class="aside">${note}</span>` : '');
}

/** Median step time of each model as bars, and what the two medians say when both are known. */
export function renderTiming(run: TrainingRun | undefined, software: boolean): void {
  const ms = Object.fromEntries(IMPLS.map((impl) => [impl, median(run?.history(impl)?.stepMs ?? [])])) as Record<Impl, number>;
  const top = Math.max(...Object.values(ms).filter(Number.isFinite), 1);
  $('timing').innerHTML = IMPLS.map((impl) => {
    const known = Number.isFinite(ms[impl]);
    return `<div class="trow"><div class="name"><i class="dot ${impl}"></i>${NAMES[impl]}</div>
        <div class="track"><div class="fill ${impl}" style="width:${known ? (100 * ms[impl]) / top : 0}%"></div></div>
        <div class="ms">${known ? `${ms[impl].toFixed(0)} ms` : '—'}</div></div>`;
  }).join('');
  const where = `Both on TF.js's ${tf.getBackend()} backend${software ? ' (SwiftShader, a software GPU: absolute times are CPU times)' : ''}.`;
  let note: string;
  if (Number.isFinite(ms.stock) && Number.isFinite(ms.ours)) {
    const ratio = ms.stock / ms.ours;
    const verdict = ratio >= 1 ? `<b>${ratio.toFixed(2)}×</b> faster` : `<b>${(1 / ratio).toFixed(2)}×</b> slower`;
    note = `A whole training step is ${verdict} with webgpu-batchnorm's layers than with TF.js's own, on the same batches. ${where}`;
  } else {
    note = `Race both layers to compare their step times on the same batches. ${where}`;
  }
  $('timing-note').innerHTML = note;
}

const SAMPLE = 24;

/** The first held-out digits, each labelled with a model's prediction once there is one. */
export class DigitGrid {
  private readonly cells: { root: HTMLDivElement; label: HTMLDivElement }[] = [];
  private readonly test: DigitSet;

  constructor(container: HTMLElement, test: DigitSet) {
    this.test = test;
    for (let i = 0; i < SAMPLE; i++) {
      const root = document.createElement('div');
      const canvas = document.createElement('canvas');
      canvas.width = canvas.height = 28;
      const image = canvas.getContext('2d')!.createImageData(28, 28);
      for (let p = 0; p < PIXELS; p++) {
        const v = test.images[i * PIXELS + p];
        // Ink in the page's text colour, paper in the card's.
        image.data[p * 4] = 11 + v * (226 - 11);
        image.data[p * 4 + 1] = 18 + v * (232 - 18);
        image.data[p * 4 + 2] = 34 + v * (240 - 34);
        image.data[p * 4 + 3] = 255;
      }
      canvas.getContext('2d')!.putImageData(image, 0, 0);
      const label = document.createElement('div');
      label.className = 'label';
      root.append(canvas, label);
      container.append(root);
      this.cells.push({ root, label });
    }
    this.clear();
  }

  clear(): void {
    for (const cell of this.cells) {
      cell.root.className = 'digit';
      cell.label.textContent = '·';
    }
    $('pred-hint').textContent = 'predictions appear as the model learns';
  }

  /** Labels the digits with the latest predictions of ours (or of the run's only model). */
  show(run: TrainingRun): void {
    const shown = run.history('ours') ?? run.histories[0];
    const classes = shown.testClasses;
    if (!classes) return;
    const other = run.histories.length > 1 ? run.history('stock')?.testClasses : undefined;
    this.cells.forEach((cell, i) => {
      const ok = classes[i] === this.test.labels[i];
      cell.root.className = `digit ${ok ? 'good' : 'bad'}`;
      cell.label.textContent = ok ? String(classes[i]) : `${classes[i]} ≠ ${this.test.labels[i]}`;
    });
    let agree = 0;
    for (let i = 0; i < SAMPLE; i++) if (other && other[i] === classes[i]) agree++;
    $('pred-hint').textContent = `${NAMES[shown.impl]} after ${shown.steps} steps${other ? ` · the stock model agrees on ${agree} of ${SAMPLE}` : ''}`;
  }
}
