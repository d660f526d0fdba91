// The three charts of a run report, as standalone SVG documents (see svg.ts for why hand-written).
import {
  type Plot,
  chartTitle,
  colorOf,
  coord,
  el,
  legend,
  niceScale,
  noData,
  project,
  svgDocument,
  text,
  tickLabel,
  truncate,
  xAxis,
  yAxis,
} from './svg';

export interface Point {
  x: number;
  y: number;
}

export interface LineSeries {
  name: string;
  points: Point[];
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: LineSeries[];
  width?: number;
  height?: number;
}

/** Min and max without spreading: a long run's series can exceed the engine's argument limit. */
function extent(values: number[]): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  return [lo, hi];
}

/** More points than pixels only bloat the file: keep an evenly spaced subset, always with the last point. */
const MAX_POINTS = 2000;
function thin(points: Point[]): Point[] {
  if (points.length <= MAX_POINTS) return points;
  const stride = Math.ceil(points.length / MAX_POINTS);
  return points.filter((_, i) => i % stride === 0 || i === points.length - 1);
}

/** Lines over a shared numeric x axis (loss by step). Points are drawn in x order; non-finite ones are dropped. */
export function lineChart(o: LineChartOptions): string {
  const width = o.width ?? 640;
  const height = o.height ?? 360;
  const plot: Plot = { left: 64, top: 48, width: width - 64 - 20, height: height - 48 - 48 };
  const series = o.series.map((s) => ({
    name: s.name,
    points: thin(s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y)).sort((a, b) => a.x - b.x)),
  }));
  const all = series.flatMap((s) => s.points);
  const xs = niceScale(...extent(all.map((p) => p.x)));
  const ys = niceScale(...extent(all.map((p) => p.y)));
  const body = [chartTitle(width, o.title), ...xAxis(plot, xs, o.xLabel), ...yAxis(plot, ys, o.yLabel)];
  const at = (p: Point) => `${coord(project(p.x, xs, plot.left, plot.width))},${coord(plot.top + plot.height - project(p.y, ys, 0, plot.height))}`;
  series.forEach((s, i) => {
    if (s.points.length > 1) body.push(el('polyline', { points: s.points.map(at).join(' '), fill: 'none', stroke: colorOf(i), 'stroke-width': 1.5 }));
    if (s.points.length === 1) {
      const [cx, cy] = at(s.points[0]).split(',').map(Number);
      body.push(el('circle', { cx, cy, r: 3, fill: colorOf(i) }));
    }
  });
  if (!all.length) body.push(noData(plot));
  body.push(...legend(width - 20, 38, series.map((s) => s.name)));
  return svgDocument(width, height, o.title, body);
}

export interface BarChartOptions {
  title: string;
  categories: string[];
  /** One value per category in each series; the series' bars sit side by side within a category. */
  series: { name: string; values: number[] }[];
  valueLabel: string;
  /** Appended to the value printed at the end of each bar, e.g. `%`. */
  unit?: string;
  decimals?: number;
  width?: number;
}

/** Grouped horizontal bars: category names stay readable on the left whatever their length. */
export function barChart(o: BarChartOptions): string {
  const width = o.width ?? 640;
  const bar = 14;
  const band = o.series.length * bar + 12;
  const maxChars = 24;
  const labelWidth = Math.min(maxChars, Math.max(4, ...o.categories.map((c) => c.length))) * 7 + 12;
  const plot: Plot = { left: labelWidth, top: 48, width: width - labelWidth - 64, height: Math.max(1, o.categories.length) * band };
  const height = plot.top + plot.height + 48;
  const values = o.series.flatMap((s) => s.values).filter(Number.isFinite);
  const scale = niceScale(0, Math.max(0, ...values) || 1);
  const body = [chartTitle(width, o.title), ...xAxis(plot, scale, o.valueLabel)];
  o.categories.forEach((category, c) => {
    const top = plot.top + c * band + 6;
    body.push(text(plot.left - 8, top + (o.series.length * bar) / 2 + 4, truncate(category, maxChars), { 'text-anchor': 'end' }));
    o.series.forEach((s, i) => {
      const v = s.values[c];
      if (!Number.isFinite(v)) return;
      const w = project(v, scale, 0, plot.width);
      body.push(el('rect', { x: plot.left, y: top + i * bar, width: w, height: bar - 2, fill: colorOf(i) }));
      body.push(text(plot.left + w + 4, top + i * bar + bar - 4, `${v.toFixed(o.decimals ?? 1)}${o.unit ?? ''}`, { 'font-size': 10 }));
    });
  });
  body.push(el('line', { x1: plot.left, y1: plot.top, x2: plot.left, y2: plot.top + plot.height, stroke: '#333' }));
  if (!o.categories.length) body.push(noData(plot));
  body.push(...legend(width - 20, 38, o.series.map((s) => s.name)));
  return svgDocument(width, height, o.title, body);
}

export interface HistogramOptions {
  title: string;
  /** Bin `i` covers [i * binWidth, (i + 1) * binWidth). */
  binWidth: number;
  counts: number[];
  xLabel: string;
  yLabel: string;
  width?: number;
  height?: number;
}

/** Adjacent bars over equal-width bins starting at 0 (selection distances). */
export function histogram(o: HistogramOptions): string {
  const width = o.width ?? 640;
  const height = o.height ?? 320;
  const plot: Plot = { left: 64, top: 40, width: width - 64 - 20, height: height - 40 - 48 };
  const binWidth = o.binWidth > 0 ? o.binWidth : 1;
  const xs = niceScale(0, Math.max(1, o.counts.length) * binWidth);
  const ys = niceScale(0, Math.max(1, ...o.counts));
  // Counts are whole numbers: no fractional ticks even when the largest count is small.
  const yFormat = (v: number) => (Number.isInteger(v) ? tickLabel(v, 0) : '');
  const body = [chartTitle(width, o.title), ...xAxis(plot, xs, o.xLabel), ...yAxis(plot, ys, o.yLabel, yFormat)];
  o.counts.forEach((count, i) => {
    if (!(count > 0)) return;
    const x0 = project(i * binWidth, xs, plot.left, plot.width);
    const x1 = project((i + 1) * binWidth, xs, plot.left, plot.width);
    const h = project(count, ys, 0, plot.height);
    body.push(el('rect', { x: x0, y: plot.top + plot.height - h, width: Math.max(0.5, x1 - x0 - 1), height: h, fill: colorOf(0) }, el('title', {}, `${count}`)));
  });
  if (!o.counts.some((c) => c > 0)) body.push(noData(plot));
  return svgDocument(width, height, o.title, body);
}
