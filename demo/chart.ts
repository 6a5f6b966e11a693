/**
 * A small line chart on a canvas, sharp on high-DPI screens: a few series, each a line with
 * optional markers, on a grid with labelled axes. Just enough for the demo's live curves.
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

export interface ChartOptions {
  yMin?: number;
  yMax?: number;
  /** Formats a y tick label. */
  yFormat?: (v: number) => string;
  xLabel: string;
}

function niceStep(span: number, ticks: number): number {
  const raw = span / ticks;
  const power = 10 ** Math.floor(Math.log10(raw));
  const n = raw / power;
  return (n < 1.5 ? 1 : n < 3 ? 2 : n < 7 ? 5 : 10) * power;
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
  const xMax = Math.max(1, ...all.map((p) => p[0]));
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
  const yStep = niceStep(yMax - yMin, 4);
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (let v = Math.ceil(yMin / yStep) * yStep; v <= yMax + 1e-9; v += yStep) {
    const y = Math.round(py(v)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(pad.left, y);
    ctx.lineTo(width - pad.right, y);
    ctx.stroke();
    ctx.fillText((options.yFormat ?? ((n) => n.toFixed(1)))(v), pad.left - 8, y);
  }
  const xStep = niceStep(xMax, 5);
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  for (let v = 0; v <= xMax + 1e-9; v += xStep) {
    const x = Math.round(px(v)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(x, pad.top);
    ctx.lineTo(x, pad.top + plotH);
    ctx.stroke();
    ctx.fillText(v >= 1000 ? `${v / 1000}k` : String(v), x, pad.top + plotH + 7);
  }
  ctx.textAlign = 'right';
  ctx.fillText(options.xLabel, width - pad.right, pad.top + plotH + 18);

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
