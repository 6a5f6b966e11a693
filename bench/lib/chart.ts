/**
 * latest.svg: one panel per op × layout (ops down, layouts across). Each panel has two plots
 * against tensor size (log scale): time as a multiple of the floor (1.0 = a vec4 copy's time for
 * the op's bytes) and effective bandwidth (the op's floor bytes / time). One line per
 * implementation; the y scales are shared by all panels so that panels compare at a glance.
 */
import { formatSize } from './cases';
import type { CaseRow, Report } from './report';
import { implOrder } from './groups';
import type { Impl, Op } from './types';

const style: Record<Impl, { color: string; width: number; dash?: string; label: string }> = {
  webgpu: { color: '#1f5fbf', width: 3, label: 'webgpu (ours, GPU-resident)' },
  cpu: { color: '#2e9e44', width: 2, label: 'cpu (ours, host arrays)' },
  'tfjs-webgpu': { color: '#e07b00', width: 2, label: 'tfjs-webgpu (TF.js 4.22)' },
  'tfjs-cpu': { color: '#b8325a', width: 2, label: 'tfjs-cpu (TF.js 4.22)' },
  copy: { color: '#666666', width: 1.5, dash: '5 4', label: 'copy (the floor kernel)' },
};

const PANEL_W = 430;
const PLOT_H = 150;
const PLOT_GAP = 34;
const MARGIN = { left: 58, right: 52, top: 34, bottom: 30 };
const PANEL_H = MARGIN.top + PLOT_H + PLOT_GAP + PLOT_H + MARGIN.bottom;
const HEADER_H = 104;

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function decadeRange(values: number[], floorMin: number, ceilMax: number): [number, number] {
  const positive = values.filter((v) => v > 0 && Number.isFinite(v));
  const lo = Math.floor(Math.log10(Math.min(floorMin, ...positive)));
  const hi = Math.ceil(Math.log10(Math.max(ceilMax, ...positive)));
  return [lo, Math.max(hi, lo + 1)];
}

function tickLabel(exponent: number, suffix: string): string {
  const value = 10 ** exponent;
  const text = exponent < 0 ? value.toFixed(-exponent) : String(value);
  return `${text}${suffix}`;
}

interface Plot {
  x: number;
  y: number;
  /** Decades shown: [lo, hi] as powers of ten. */
  decades: [number, number];
  sizes: [number, number];
  title: string;
  suffix: string;
}

function plotFrame(plot: Plot, sizes: number[], highlightOne: boolean): string[] {
  const out: string[] = [];
  const w = PANEL_W - MARGIN.left - MARGIN.right;
  out.push(`<rect x="${plot.x}" y="${plot.y}" width="${w}" height="${PLOT_H}" fill="#fafafa" stroke="#bbb"/>`);
  const [lo, hi] = plot.decades;
  for (let e = lo; e <= hi; e++) {
    const y = yOf(plot, 10 ** e);
    const one = highlightOne && e === 0;
    out.push(`<line x1="${plot.x}" x2="${plot.x + w}" y1="${y}" y2="${y}" stroke="${one ? '#222' : '#ddd'}" stroke-width="${one ? 1.5 : 1}"${one ? ' stroke-dasharray="2 2"' : ''}/>`);
    out.push(`<text x="${plot.x - 6}" y="${y + 4}" text-anchor="end" font-size="11" fill="#444">${tickLabel(e, plot.suffix)}</text>`);
  }
  // Size labels: on a second row where they would overlap the previous one (sizes an octave
  // apart, e.g. 64 MB … 512 MB, are closer than a label is wide).
  const rowEnds = [Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY];
  for (const bytes of sizes) {
    const x = xOf(plot, bytes);
    const label = formatSize(bytes).replace(' ', '');
    const half = (label.length * 5.8) / 2 + 2;
    const row = x - half >= rowEnds[0] ? 0 : x - half >= rowEnds[1] ? 1 : 0;
    rowEnds[row] = x + half;
    out.push(`<line x1="${x}" x2="${x}" y1="${plot.y}" y2="${plot.y + PLOT_H + (row ? 4 : 0)}" stroke="#eee"/>`);
    out.push(`<text x="${x}" y="${plot.y + PLOT_H + 14 + row * 11}" text-anchor="middle" font-size="10" fill="#444">${label}</text>`);
  }
  out.push(`<text x="${plot.x + 4}" y="${plot.y + 13}" font-size="11" fill="#222" font-weight="bold">${escape(plot.title)}</text>`);
  return out;
}

function xOf(plot: Plot, bytes: number): number {
  const w = PANEL_W - MARGIN.left - MARGIN.right;
  const [a, b] = plot.sizes.map(Math.log2);
  const t = b === a ? 0.5 : (Math.log2(bytes) - a) / (b - a);
  return +(plot.x + 12 + t * (w - 24)).toFixed(1);
}

function yOf(plot: Plot, value: number): number {
  const [lo, hi] = plot.decades;
  const t = (Math.log10(value) - lo) / (hi - lo);
  return +(plot.y + PLOT_H - t * PLOT_H).toFixed(1);
}

function series(plot: Plot, rows: CaseRow[], value: (row: CaseRow) => number, label: (row: CaseRow) => string | undefined): string[] {
  const out: string[] = [];
  for (const impl of [...implOrder].reverse()) {
    const points = rows
      .filter((row) => row.impl === impl)
      .sort((a, b) => a.elements - b.elements)
      .map((row) => ({ row, x: xOf(plot, row.elements * 4), y: yOf(plot, value(row)) }));
    if (points.length === 0) continue;
    const s = style[impl];
    out.push(
      `<polyline fill="none" stroke="${s.color}" stroke-width="${s.width}"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''} points="${points.map((p) => `${p.x},${p.y}`).join(' ')}"/>`,
    );
    for (const p of points) out.push(`<circle cx="${p.x}" cy="${p.y}" r="${impl === 'webgpu' ? 3.5 : 2.5}" fill="${s.color}"/>`);
    const last = points[points.length - 1];
    const text = label(last.row);
    if (text) out.push(`<text x="${last.x + 6}" y="${last.y + 4}" font-size="11" font-weight="bold" fill="${s.color}">${escape(text)}</text>`);
  }
  return out;
}

export function renderChart(report: Report): string {
  const ops = [...new Set(report.cases.map((row) => row.op))] as Op[];
  const layouts = [...new Set(report.cases.map((row) => row.layout))];
  const sizes = [...new Set(report.cases.map((row) => row.elements * 4))].sort((a, b) => a - b);
  const sizeRange: [number, number] = [sizes[0], sizes[sizes.length - 1]];
  const ratioDecades = decadeRange(report.cases.map((row) => row.ratioToFloor), 0.5, 10);
  const gbpsDecades = decadeRange(report.cases.map((row) => row.gbps), 1, 1);
  const adapter = `${report.adapter.vendor || '?'} / ${report.adapter.architecture || '?'}${report.adapter.isFallbackAdapter ? ' (software)' : ''}`;
  const limits = report.deviceLimits ? ` · storage binding ≤ ${formatSize(report.deviceLimits.maxStorageBufferBindingSize)} (${report.deviceLimits.requested} limits)` : '';
  const subtitle = `${report.browser} · adapter ${adapter} · ${report.machine.cpus} CPU cores · ${report.generated.slice(0, 16).replace('T', ' ')} UTC · timer ${report.timer}${limits}`;
  const explanation =
    'x: size of one float32 tensor. Upper plot: time ÷ floor (floor = op bytes ÷ vec4-copy bandwidth, same device, same size; 1 is the limit, lower is better). Lower: op bytes ÷ time in GB/s (higher is better).';
  const legendWidth = implOrder.reduce((w, impl) => w + 40 + style[impl].label.length * 6.4, 14);
  // Wide enough for the header lines and the legend, whatever the number of panels (~6.2 px per character at 12 px).
  const width = Math.ceil(Math.max(layouts.length * PANEL_W + 20, 28 + 6.2 * Math.max(subtitle.length, explanation.length), legendWidth + 14));
  const height = HEADER_H + ops.length * PANEL_H + 40;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif">`);
  out.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  out.push(`<text x="14" y="26" font-size="18" font-weight="bold">webgpu-batchnorm benchmark${report.quick ? ' (--quick)' : ''}</text>`);
  out.push(`<text x="14" y="46" font-size="12" fill="#333">${escape(subtitle)}</text>`);
  out.push(`<text x="14" y="64" font-size="12" fill="#333">${escape(explanation)}</text>`);
  let lx = 14;
  for (const impl of implOrder) {
    const s = style[impl];
    out.push(`<line x1="${lx}" x2="${lx + 28}" y1="86" y2="86" stroke="${s.color}" stroke-width="${s.width}"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`);
    out.push(`<text x="${lx + 34}" y="90" font-size="12">${escape(s.label)}</text>`);
    lx += 40 + s.label.length * 6.4;
  }
  ops.forEach((op, row) => {
    layouts.forEach((layout, col) => {
      const x0 = 10 + col * PANEL_W;
      const y0 = HEADER_H + row * PANEL_H;
      const rows = report.cases.filter((r) => r.op === op && r.layout === layout);
      // The norm ops run in one layout each (layer, RMS: NC; group: NCHW): no empty panels for the others.
      if (rows.length === 0) return;
      const shapeAtMax = rows.find((r) => r.elements * 4 === Math.max(...rows.map((q) => q.elements * 4)))?.shape ?? [];
      out.push(`<text x="${x0 + MARGIN.left}" y="${y0 + 20}" font-size="14" font-weight="bold">${escape(`${op} · ${layout}`)}</text>`);
      out.push(`<text x="${x0 + PANEL_W - MARGIN.right}" y="${y0 + 20}" font-size="11" text-anchor="end" fill="#555">${escape(`largest [${shapeAtMax.join(', ')}]`)}</text>`);
      const ratioPlot: Plot = { x: x0 + MARGIN.left, y: y0 + MARGIN.top, decades: ratioDecades, sizes: sizeRange, title: '× floor', suffix: '×' };
      const gbpsPlot: Plot = { x: x0 + MARGIN.left, y: y0 + MARGIN.top + PLOT_H + PLOT_GAP, decades: gbpsDecades, sizes: sizeRange, title: 'GB/s', suffix: '' };
      out.push(...plotFrame(ratioPlot, sizes, true));
      out.push(...series(ratioPlot, rows, (r) => r.ratioToFloor, (r) => (r.impl === 'webgpu' ? `${r.ratioToFloor.toFixed(2)}×` : undefined)));
      out.push(...plotFrame(gbpsPlot, sizes, false));
      out.push(...series(gbpsPlot, rows, (r) => r.gbps, (r) => (r.impl === 'webgpu' ? r.gbps.toFixed(2) : undefined)));
    });
  });
  const capped = [...new Set(report.skipped.filter((s) => s.reason.startsWith('capped')).map((s) => s.reason.slice('capped: '.length)))];
  const missing = [...new Set(report.skipped.filter((s) => !s.reason.startsWith('capped')).map((s) => `${s.impl} ${s.op}: ${s.reason}`))];
  const foot = [capped.length ? `Not run above their cap: ${capped.join('; ')}.` : '', missing.length ? `Missing: ${missing.join('; ')}.` : ''].filter(Boolean).join(' ');
  if (foot) out.push(`<text x="14" y="${height - 16}" font-size="11" fill="#555">${escape(foot.length > 260 ? foot.slice(0, 257) + '…' : foot)}</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
