/**
 * A small line chart on a canvas, sharp on high-DPI screens: a few series, each a line with
 * optional markers, on a grid with labelled axes. Just enough for the demo's live curves.
 *
 * The tick labels it drew are also written to the canvas's data-x-ticks and data-y-ticks attributes
 * (JSON arrays) and summed up in its aria-label, for screen readers and for the page's test.
 */
export interface Series {
  label: string;
  color: string;
  points: [number, number][];
  /** Draw a dot on every point (for sparse series such as held-out accuracy). */
  markers?: boolean;
  dashed?: boolean;
  width?: number;
  alpha?: number;
}

/** How tick values are written: plain numbers (1.5, 2k) or fractions as percentages (0.9 → 90%). */
export type TickFormat = 'number' | 'percent';

export interface ChartOptions {
  /** Name of the chart, for its aria-label. */
  title: string;
  xLabel: string;
  /** The x axis spans at least [0, xMax], so a planned run fills the chart from its start. */
  xMax?: number;
  yMin?: number;
  yMax?: number;
  yFormat?: TickFormat;
  /** Ticks only on whole numbers (steps, digits seen). */
  xInteger?: boolean;
}

export interface Tick {
  value: number;
  label: string;
}

/** 1, 2 or 5 times a power of ten, so that about `count` steps span `span`. */
function niceStep(span: number, count: number, integer: boolean): number {
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const n = raw / power;
  const step = (n < 1.5 ? 1 : n < 3 ? 2 : n < 7 ? 5 : 10) * power;
  return integer ? Math.max(1, Math.round(step)) : step;
}

/** Digits after the decimal point that a multiple of `step` needs (step 0.25 → 2, step 5 → 0). */
function decimalsOf(step: number): number {
  for (let d = 0; d < 6; d++) if (Math.abs(step * 10 ** d - Math.round(step * 10 ** d)) < 1e-9 * 10 ** d) return d;
  return 6;
}

/**
 * Ticks at whole multiples of a nice step inside [min, max]. Each value is `i × step`, never a
 * running sum (0.2 + 0.2 + 0.2 is 0.6000000000000001), and each label is written with exactly the
 * decimals the step needs, so labels are always short, clean numbers.
 */
export function ticks(min: number, max: number, count: number, format: TickFormat = 'number', integer = false): Tick[] {
  const step = niceStep(max - min, count, integer);
  const out: Tick[] = [];
  for (let i = Math.ceil(min / step - 1e-9); i * step <= max + step * 1e-9; i++) {
    const value = i * step;
    out.push({ value, label: tickLabel(value, step, format) });
  }
  return out;
}

function tickLabel(value: number, step: number, format: TickFormat): string {
  if (format === 'percent') return `${(value * 100).toFixed(decimalsOf(step * 100))}%`;
  // Thousands as "k" once the step is a whole number of hundreds: 2k, 2.5k.
  if (step >= 100 && Math.abs(value) >= 1000) return `${Number((value / 1000).toFixed(decimalsOf(step / 1000)))}k`;
  const label = value.toFixed(decimalsOf(step));
  return label === '-0' ? '0' : label;
}

export function drawChart(canvas: HTMLCanvasElement, series: Series[], options: ChartOptions): void {
  const dpr = window.devicePixelRatio || 1;
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  if (canvas.width !== Math.round(width * dpr) || canvas.height !== Math.round(height * dpr)) {
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
  }
  const ctx = canvas.getContext('2d')!;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, width, height);

  const pad = { left: 46, right: 14, top: 12, bottom: 30 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const all = series.flatMap((s) => s.points);
  const xMax = Math.max(1, options.xMax ?? 0, ...all.map((p) => p[0]));
  let yMin = options.yMin ?? Math.min(...all.map((p) => p[1]));
  let yMax = options.yMax ?? Math.max(...all.map((p) => p[1]));
  if (!Number.isFinite(yMin) || !Number.isFinite(yMax)) [yMin, yMax] = [0, 1];
  if (yMax - yMin < 1e-9) yMax = yMin + 1;
  const px = (x: number) => pad.left + (x / xMax) * plotW;
  const py = (y: number) => pad.top + (1 - (y - yMin) / (yMax - yMin)) * plotH;

  ctx.font = '11px ui-sans-serif, system-ui, sans-serif';
  ctx.strokeStyle = 'rgba(148, 163, 184, 0.14)';
  ctx.fillStyle = 'rgba(148, 163, 184, 0.85)';
  ctx.lineWidth = 1;
  const yTicks = ticks(yMin, yMax, 4, options.yFormat);
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (const tick of yTicks) {
    const y = Math.round(py(tick.value)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(pad.left, y);
    ctx.lineTo(width - pad.right, y);
    ctx.stroke();
    ctx.fillText(tick.label, pad.left - 8, y);
  }
  const xTicks = ticks(0, xMax, 5, 'number', options.xInteger);
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  for (const tick of xTicks) {
    const x = Math.round(px(tick.value)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(x, pad.top);
    ctx.lineTo(x, pad.top + plotH);
    ctx.stroke();
    ctx.fillText(tick.label, x, pad.top + plotH + 7);
  }
  ctx.textAlign = 'right';
  ctx.fillText(options.xLabel, width - pad.right, pad.top + plotH + 18);
  describe(canvas, options, xTicks, yTicks);

  ctx.save();
  ctx.beginPath();
  ctx.rect(pad.left, pad.top - 4, plotW + 4, plotH + 8);
  ctx.clip();
  for (const s of series) {
    if (s.points.length === 0) continue;
    ctx.globalAlpha = s.alpha ?? 1;
    ctx.strokeStyle = s.color;
    ctx.lineWidth = s.width ?? 2;
    ctx.lineJoin = 'round';
    ctx.setLineDash(s.dashed ? [5, 4] : []);
    ctx.beginPath();
    s.points.forEach(([x, y], i) => (i === 0 ? ctx.moveTo(px(x), py(y)) : ctx.lineTo(px(x), py(y))));
    ctx.stroke();
    if (s.markers) {
      ctx.fillStyle = s.color;
      for (const [x, y] of s.points) {
        ctx.beginPath();
        ctx.arc(px(x), py(y), 3.2, 0, Math.PI * 2);
        ctx.fill();
      }
    }
  }
  ctx.restore();
  ctx.globalAlpha = 1;
  ctx.setLineDash([]);
}

function describe(canvas: HTMLCanvasElement, options: ChartOptions, xTicks: Tick[], yTicks: Tick[]): void {
  const x = xTicks.map((t) => t.label);
  const y = yTicks.map((t) => t.label);
  canvas.dataset.xTicks = JSON.stringify(x);
  canvas.dataset.yTicks = JSON.stringify(y);
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', `${options.title}: ${y[0]} to ${y[y.length - 1]} against ${options.xLabel}, 0 to ${x[x.length - 1]}`);
}
