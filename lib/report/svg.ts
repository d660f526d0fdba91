// SVG primitives for the report's charts. Hand-written rather than a charting library: the report
// runs inside an activity on any worker, must not pull in a browser or canvas, and must produce the
// same bytes for the same input so that a retried report activity leaves identical files.

export type Attrs = Record<string, string | number | undefined>;

/** Text and attribute values are escaped for XML: source names and labels come from user config. */
export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** Coordinates rounded to 2 decimals: smaller files, and no platform-dependent float noise in the output. */
export function coord(n: number): string {
  const r = Math.round(n * 100) / 100;
  return Object.is(r, -0) ? '0' : String(r);
}

function attrs(a: Attrs): string {
  return Object.entries(a)
    .filter((e): e is [string, string | number] => e[1] !== undefined)
    .map(([k, v]) => ` ${k}="${typeof v === 'number' ? coord(v) : escapeXml(v)}"`)
    .join('');
}

/** An element; children are markup already built by these functions (never raw user text). */
export function el(name: string, a: Attrs, ...children: string[]): string {
  return children.length ? `<${name}${attrs(a)}>${children.join('')}</${name}>` : `<${name}${attrs(a)}/>`;
}

export function text(x: number, y: number, content: string, a: Attrs = {}): string {
  return `<text${attrs({ x, y, ...a })}>${escapeXml(content)}</text>`;
}

/** Categorical colours, distinguishable in print and for the common colour-vision deficiencies (Okabe-Ito). */
export const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#D55E00', '#CC79A7', '#56B4E9', '#F0E442', '#000000'];

export const colorOf = (i: number) => PALETTE[i % PALETTE.length];

/** The root element; `<title>` names the chart for screen readers and as a tooltip. */
export function svgDocument(width: number, height: number, title: string, body: string[]): string {
  return (
    el(
      'svg',
      { xmlns: 'http://www.w3.org/2000/svg', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'font-family': 'sans-serif', 'font-size': 12 },
      el('title', {}, escapeXml(title)),
      el('rect', { x: 0, y: 0, width, height, fill: '#fff' }),
      ...body,
    ) + '\n'
  );
}

export interface Scale {
  min: number;
  max: number;
  ticks: number[];
  /** Decimals that tell the ticks apart. */
  decimals: number;
}

/** Removes float noise such as 0.30000000000000004 from tick values. */
const clean = (v: number) => Number(v.toPrecision(12));

/** An axis range widened to round tick values (1, 2, 2.5 or 5 times a power of ten), about `count` intervals. */
export function niceScale(lo: number, hi: number, count = 5): Scale {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) [lo, hi] = [0, 1];
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi === lo) {
    // A constant series still needs a visible range around its value.
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    [lo, hi] = [lo - pad, hi + pad];
  }
  const raw = (hi - lo) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const f = raw / magnitude;
  const step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * magnitude;
  const min = clean(Math.floor(lo / step + 1e-9) * step);
  const max = clean(Math.ceil(hi / step - 1e-9) * step);
  const ticks: number[] = [];
  for (let i = 0; i <= Math.round((max - min) / step); i++) ticks.push(clean(min + i * step));
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9) + (f > 2 && f <= 2.5 ? 1 : 0));
  return { min, max, ticks, decimals };
}

export const tickLabel = (v: number, decimals: number) => {
  const s = v.toFixed(decimals);
  return /^-0(\.0*)?$/.test(s) ? s.slice(1) : s;
};

/** The drawing area inside the margins. */
export interface Plot {
  left: number;
  top: number;
  width: number;
  height: number;
}

export const project = (v: number, s: Pick<Scale, 'min' | 'max'>, from: number, length: number) =>
  from + ((v - s.min) / (s.max - s.min || 1)) * length;

/** A horizontal value axis under the plot: gridlines, ticks, labels and the axis title. */
export function xAxis(plot: Plot, scale: Scale, label: string, format = (v: number) => tickLabel(v, scale.decimals)): string[] {
  const bottom = plot.top + plot.height;
  const out = [el('line', { x1: plot.left, y1: bottom, x2: plot.left + plot.width, y2: bottom, stroke: '#333' })];
  for (const t of scale.ticks) {
    const x = project(t, scale, plot.left, plot.width);
    out.push(el('line', { x1: x, y1: plot.top, x2: x, y2: bottom, stroke: '#eee' }));
    out.push(el('line', { x1: x, y1: bottom, x2: x, y2: bottom + 4, stroke: '#333' }));
    out.push(text(x, bottom + 16, format(t), { 'text-anchor': 'middle' }));
  }
  out.push(text(plot.left + plot.width / 2, bottom + 34, label, { 'text-anchor': 'middle' }));
  return out;
}

/** A vertical value axis left of the plot: gridlines, ticks, labels and the rotated axis title. */
export function yAxis(plot: Plot, scale: Scale, label: string, format = (v: number) => tickLabel(v, scale.decimals)): string[] {
  const bottom = plot.top + plot.height;
  const out = [el('line', { x1: plot.left, y1: plot.top, x2: plot.left, y2: bottom, stroke: '#333' })];
  for (const t of scale.ticks) {
    const y = bottom - project(t, scale, 0, plot.height);
    out.push(el('line', { x1: plot.left, y1: y, x2: plot.left + plot.width, y2: y, stroke: '#eee' }));
    out.push(el('line', { x1: plot.left - 4, y1: y, x2: plot.left, y2: y, stroke: '#333' }));
    out.push(text(plot.left - 7, y + 4, format(t), { 'text-anchor': 'end' }));
  }
  const x = 16;
  const y = plot.top + plot.height / 2;
  out.push(text(x, y, label, { 'text-anchor': 'middle', transform: `rotate(-90 ${coord(x)} ${coord(y)})` }));
  return out;
}

export function chartTitle(width: number, title: string): string {
  return text(width / 2, 20, title, { 'text-anchor': 'middle', 'font-size': 14, 'font-weight': 'bold' });
}

/** A one-row legend right-aligned under the title; it names series by colour. */
export function legend(right: number, y: number, names: string[]): string[] {
  // Width is estimated (no font metrics here): about 7 px per character at 12 px.
  const widths = names.map((n) => 24 + n.length * 7);
  let x = right - widths.reduce((a, b) => a + b, 0);
  return names.flatMap((name, i) => {
    const item = [el('rect', { x, y: y - 9, width: 12, height: 10, fill: colorOf(i) }), text(x + 16, y, name)];
    x += widths[i];
    return item;
  });
}

/** Shortens a label that would not fit; the full name stays in the report's tables. */
export function truncate(label: string, maxChars: number): string {
  return label.length <= maxChars ? label : `${label.slice(0, maxChars - 1)}…`;
}

export function noData(plot: Plot, message = 'no data'): string {
  return text(plot.left + plot.width / 2, plot.top + plot.height / 2, message, { 'text-anchor': 'middle', fill: '#888' });
}
