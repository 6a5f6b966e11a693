import puppeteer, { type Browser, type Page } from 'puppeteer';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ticks } from '../../demo/chart';
import { demoPath, trainToDone, waitForDemo } from '../../demo/drive-page';
import type { DemoState } from '../../demo/main';
import { describeGpu } from '../support/browser';
import type { LayerNamingReport } from './page/layer-naming';

/*
 * The demo page as a user runs it: race mode, Train pressed, run to the end. A short run (?steps=)
 * keeps it fast on a software GPU; the page's code path is the one of a whole epoch.
 */
const STEPS = 12;
const gpu = inject('gpu');

/** A clean tick label: a number with at most two decimals, maybe "k" (thousands) or "%". */
const CLEAN_TICK = /^-?\d+(\.\d{1,2})?(k|%)?$/;

/*
 * Both models start from the same weights and take the same first batch, so their first losses
 * differ only by float32 rounding inside the two batch-norm layers (outputs agree to ~1e-6
 * relative, the loss, ~2.5, to a few ulp): 1e-4 leaves a wide margin. Later losses may drift apart
 * as training feeds the rounding back, yet stayed within 3e-7 over a dozen steps on SwiftShader:
 * 1e-3 leaves room for GPUs that round differently.
 * Batches that differed would show: at the initial weights, the losses of two batches of 32 of the
 * training split differ by 0.2 (median over pairs of its first 60 batches; fewer than 5 % of pairs
 * come within 0.02), so twelve steps on different batches cannot all stay within 1e-3.
 */
const FIRST_LOSS_ATOL = 1e-4;
const LOSS_ATOL = 1e-3;

describe("the demo charts' ticks", () => {
  it('are whole multiples of a 1-2-5 step with clean labels, on any range', () => {
    // The ranges the page draws (empty axes, a short run, an epoch, loss, accuracy, milliseconds),
    // then random ones.
    const ranges: [number, number, 'number' | 'percent', boolean][] = [
      [0, 1, 'number', false],
      [0, 1, 'number', true],
      [0, 16, 'number', true],
      [0, 8000, 'number', true],
      [0, 384, 'number', true],
      [0, 2.4255, 'number', false],
      [0, 0.6, 'number', false],
      [0.5, 1, 'percent', false],
      [0, 880.33, 'number', false],
    ];
    let seed = 12345;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 200; i++) {
      // Integer axes (steps, digits seen) start at 0 and reach 1 at least, as the page's do.
      const integer = random() < 0.3;
      const min = integer || random() < 0.5 ? 0 : random() * 10 ** Math.floor(random() * 6 - 3);
      const span = random() * 10 ** Math.floor(random() * 8 - 3);
      ranges.push([min, integer ? Math.max(1, span) : min + span, !integer && random() < 0.3 ? 'percent' : 'number', integer]);
    }
    for (const [min, max, format, integer] of ranges) {
      const t = ticks(min, max, 5, format, integer);
      const where = `[${min}, ${max}] ${format}${integer ? ' integer' : ''}: ${t.map((x) => x.label).join(' ')}`;
      expect(t.length, where).toBeGreaterThanOrEqual(1);
      for (const { value, label } of t) {
        expect(label, where).toMatch(/^-?\d+(\.\d+)?(k|%)?$/);
        expect(label.replace(/[k%]$/, '').split('.')[1]?.length ?? 0, where).toBeLessThanOrEqual(6);
        expect(value, where).toBeGreaterThanOrEqual(min - 1e-9 * Math.max(1, Math.abs(max)));
        expect(value, where).toBeLessThanOrEqual(max + 1e-9 * Math.max(1, Math.abs(max)));
        if (integer) expect(Number.isInteger(value), where).toBe(true);
      }
      expect(new Set(t.map((x) => x.label)).size, where).toBe(t.length);
    }
    expect(ticks(0, 1, 5).map((t) => t.label)).toEqual(['0.0', '0.2', '0.4', '0.6', '0.8', '1.0']);
    expect(ticks(0, 8000, 5, 'number', true).map((t) => t.label)).toEqual(['0', '2k', '4k', '6k', '8k']);
    expect(ticks(0, 3000, 5, 'number', true).map((t) => t.label)).toEqual(['0', '500', '1k', '1.5k', '2k', '2.5k', '3k']);
    expect(ticks(0.5, 1, 4, 'percent').map((t) => t.label)).toEqual(['50%', '60%', '70%', '80%', '90%', '100%']);
  });
});

describeGpu('the demo page (demo/index.html)', () => {
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    if (!gpu.available) throw new Error(`GPU tests cannot run: ${gpu.reason}`);
    browser = await puppeteer.connect({ browserWSEndpoint: gpu.wsEndpoint });
    page = await browser.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console.error: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`uncaught: ${error instanceof Error ? error.message : String(error)}`));
    page.on('response', (response) => {
      if (response.status() >= 400) problems.push(`HTTP ${response.status()} for ${response.url()}`);
    });
    await page.setViewport({ width: 1240, height: 1000 });
    await page.goto(`${gpu.baseUrl}${demoPath}?mode=race&steps=${STEPS}`, { timeout: 120_000 });
  });

  afterAll(async () => {
    await page?.close();
    // Disconnect, not close: the browser belongs to the whole run.
    await browser?.disconnect();
  });

  const tickLabels = () =>
    page.$$eval('canvas[data-x-ticks]', (canvases) =>
      canvases.map((c) => ({ id: c.id, x: JSON.parse(c.dataset.xTicks!) as string[], y: JSON.parse(c.dataset.yTicks!) as string[] })),
    );

  function expectCleanTicks(charts: Awaited<ReturnType<typeof tickLabels>>): void {
    expect(charts.map((c) => c.id).sort()).toEqual(['acc-chart', 'loss-chart', 'time-chart']);
    for (const chart of charts) {
      for (const labels of [chart.x, chart.y]) {
        expect(labels.length, `${chart.id} ticks`).toBeGreaterThanOrEqual(2);
        for (const label of labels) expect(label, `${chart.id} tick`).toMatch(CLEAN_TICK);
        expect(new Set(labels).size, `${chart.id}: distinct ticks`).toBe(labels.length);
      }
    }
  }

  it('races both layers to done on the same batches: both trained, losses fall, clean axes, no console errors', async () => {
    const ready = await waitForDemo(page, (s) => s.phase === 'ready', 120_000);
    expect(ready.mode).toBe('race');
    expect(ready.totalSteps).toBe(STEPS);
    // Empty axes already span the planned run (before any point was drawn the x axis went 0, 0.2,
    // 0.4, 0.6000000000000001…).
    expectCleanTicks(await tickLabels());

    const started = Date.now();
    const done: DemoState = await trainToDone(page, 240_000);
    const losses = done.models.map((m) => `${m.impl} ${m.rawLoss[0].toFixed(3)} → ${m.rawLoss.at(-1)!.toFixed(3)}`).join(', ');
    console.log(`demo race: ${STEPS} steps of both models in ${((Date.now() - started) / 1000).toFixed(1)} s; loss ${losses}`);

    expect(done.steps).toBe(STEPS);
    expect(done.models.map((m) => m.impl).sort()).toEqual(['ours', 'stock']);
    const model = (impl: string) => done.models.find((m) => m.impl === impl)!;
    for (const m of done.models) {
      expect(m.steps, m.impl).toBe(STEPS);
      expect(m.rawLoss).toHaveLength(STEPS);
      // Mean of the last quarter below the mean of the first: a few Adam steps take ~2.3 well down.
      const quarter = STEPS / 4;
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      expect(mean(m.rawLoss.slice(-quarter)), `${m.impl} loss`).toBeLessThan(mean(m.rawLoss.slice(0, quarter)) - 0.2);
      expect(m.testAccuracy, `${m.impl} held-out accuracy`).toBeGreaterThan(0.2);
      expect(m.msMedian, `${m.impl} step time`).toBeGreaterThan(0);
      // Default names, like the stock layer's, unique across both models (one shared counter).
      expect(m.batchNormLayers).toHaveLength(2);
      for (const layer of m.batchNormLayers) expect(layer.name).toMatch(/^batch_normalization_BatchNormalization\d+$/);
    }
    expect(model('stock').batchNormLayers.map((l) => l.className)).toEqual(['BatchNormalization', 'BatchNormalization']);
    expect(model('ours').batchNormLayers.map((l) => l.className)).toEqual(['WebGpuBatchNormalization', 'WebGpuBatchNormalization']);
    expect(new Set(done.models.flatMap((m) => m.batchNormLayers.map((l) => l.name))).size).toBe(4);
    const [stockLoss, ourLoss] = [model('stock').rawLoss, model('ours').rawLoss];
    expect(Math.abs(stockLoss[0] - ourLoss[0])).toBeLessThanOrEqual(FIRST_LOSS_ATOL);
    const apart = Math.max(...stockLoss.map((l, i) => Math.abs(l - ourLoss[i])));
    console.log(`demo race: largest loss difference between the two models over ${STEPS} steps: ${apart.toExponential(1)}`);
    expect(apart).toBeLessThanOrEqual(LOSS_ATOL);

    expectCleanTicks(await tickLabels());
    const page_ = await page.evaluate(() => ({
      progress: document.getElementById('progress')!.getAttribute('aria-valuenow'),
      status: document.getElementById('status')!.textContent,
      times: Array.from(document.querySelectorAll('#timing .ms'), (e) => e.textContent),
      train: document.getElementById('train')!.textContent,
    }));
    expect(page_.progress).toBe('100');
    expect(page_.status).toMatch(/^Done: Race/);
    expect(page_.train).toBe('Train again');
    for (const time of page_.times) expect(time).toMatch(/^\d+ ms$/);
    expect(problems).toEqual([]);
  }, 300_000);

  it('draws the model diagram on one line, and a narrow window wraps it between stages only', async () => {
    const lines = () =>
      page.$$eval('.diagram li', (items) =>
        items.map((li) => {
          const [arrow, box] = [li.querySelector('i'), li.querySelector('span')!];
          const middle = (e: Element) => (e.getBoundingClientRect().top + e.getBoundingClientRect().bottom) / 2;
          return { box: middle(box), arrow: arrow ? middle(arrow) : undefined };
        }),
      );
    const wide = await lines();
    expect(wide).toHaveLength(6);
    expect(new Set(wide.map((l) => Math.round(l.box))).size).toBe(1);
    await page.setViewport({ width: 420, height: 1000 });
    try {
      const narrow = await lines();
      expect(new Set(narrow.map((l) => Math.round(l.box))).size).toBeGreaterThan(1);
      // Each arrow sits on the line of the box it points to (same middle): none ends a line.
      for (const l of narrow) if (l.arrow !== undefined) expect(Math.abs(l.arrow - l.box)).toBeLessThan(4);
    } finally {
      await page.setViewport({ width: 1240, height: 1000 });
    }
    expect(problems).toEqual([]);
  });

  it("names the drop-in layer like the stock one, on the stock layer's counter, through config and save/load", async () => {
    // A string, not a function: the test runner would rewrite a function's import() for Node.
    const r = (await page.evaluate(`import('/test/gpu/page/layer-naming.ts').then((m) => m.layerNaming())`)) as LayerNamingReport;
    const number = (name: string) => Number(/^batch_normalization_BatchNormalization(\d+)$/.exec(name)?.[1]);
    expect(r.built.map((l) => l.className)).toEqual(['BatchNormalization', 'WebGpuBatchNormalization', 'WebGpuBatchNormalization', 'BatchNormalization', 'WebGpuBatchNormalization']);
    const first = number(r.built[0].name);
    expect(first).toBeGreaterThan(0);
    expect(r.built.slice(0, 4).map((l) => number(l.name))).toEqual([first, first + 1, first + 2, first + 3]);
    expect(r.built[4].name).toBe('mine');

    expect(r.mixedModel).toHaveLength(4);
    expect(new Set(r.mixedModel).size).toBe(4);
    for (const name of r.mixedModel.slice(1)) expect(name).toMatch(/^batch_normalization_BatchNormalization\d+$/);
    expect(r.fromConfig.className).toBe('WebGpuBatchNormalization');
    expect(r.fromConfig.name).toMatch(/^batch_normalization_BatchNormalization\d+$/);
    expect(r.fromConfig.configMatches).toBe(true);
    expect(r.loaded.map((l) => l.name)).toEqual(r.mixedModel);
    expect(r.loaded.map((l) => l.className)).toEqual(['Dense', 'WebGpuBatchNormalization', 'BatchNormalization', 'WebGpuBatchNormalization']);
    expect(problems).toEqual([]);
  });
});
