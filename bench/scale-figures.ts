// What `npm run bench:scale` makes of its measurements: each stage's slope (time per unit of work at
// its largest size over that at its smallest: 1.0 is linear), the growth of its peak RSS, the table
// people read and the figures scripts parse. Pure: no I/O, so the unit tier checks it.
import { count, fixed, NA } from '../lib/format';

/** One stage measured at one size. */
export interface StageMeasurement {
  /** search, merge, select_plan, plan_write, plan_read, embed, census. */
  stage: string;
  /** The size, as people read it: `1M pool x 10k targets`, `10k shards`. */
  size: string;
  /** Units of work done (target x pool row, hit, shard, ...) and what one is. */
  units: number;
  unit: string;
  seconds: number;
  /** Peak RSS of the process doing the work while the stage ran, MiB. */
  peakRssMb: number;
  /** How the stage ran: through a workflow on the dev server, or its activities or lib functions called directly. */
  route: 'workflow' | 'direct';
  /** The largest payload and the most events of any execution, where the stage ran as a workflow. */
  maxPayloadBytes?: number;
  maxHistoryEvents?: number;
  /** Executions the workflow ran as (its continued-as-new runs and children included). */
  executions?: number;
  /** The most attempts any of the stage's activities took: more than one means timeouts or failures. */
  attempts?: number;
  /** Why the stage did not complete at this size (a payload over the server's limit, say). */
  failed?: string;
}

/** `1000` → `1k`, `2500000` → `2.5M`: sizes in labels and figure keys. */
export function shortCount(n: number): string {
  const [unit, value] = n >= 1e9 ? ['G', n / 1e9] : n >= 1e6 ? ['M', n / 1e6] : n >= 1e3 ? ['k', n / 1e3] : ['', n];
  return `${Number(value.toPrecision(3))}${unit}`;
}

/**
 * The measurements of one stage that completed, smallest size first: fewest units, and among equal
 * units (a stage whose unit count the bench holds constant, such as the subset's budget) the order
 * measured, which is the order of growing sizes.
 */
function completed(measurements: StageMeasurement[], stage: string): StageMeasurement[] {
  return measurements.filter((m) => m.stage === stage && !m.failed && m.units > 0).sort((a, b) => a.units - b.units);
}

/**
 * Time per unit at the stage's largest size over time per unit at its smallest: 1.0 is linear, 2.0
 * means each unit cost twice as much at the largest size. Null with fewer than two sizes.
 */
export function slope(measurements: StageMeasurement[], stage: string): number | null {
  const done = completed(measurements, stage);
  if (done.length < 2 || done[0].seconds <= 0) return null;
  const [small, large] = [done[0], done[done.length - 1]];
  return large.seconds / large.units / (small.seconds / small.units);
}

/** Peak RSS at the stage's largest size over that at its smallest. Null with fewer than two sizes. */
export function rssGrowth(measurements: StageMeasurement[], stage: string): number | null {
  const done = completed(measurements, stage);
  if (done.length < 2 || done[0].peakRssMb <= 0) return null;
  return done[done.length - 1].peakRssMb / done[0].peakRssMb;
}

const maxOf = (values: (number | undefined)[]) => values.reduce<number>((m, v) => Math.max(m, v ?? 0), 0);

/** Four significant digits: figures read as measurements, not as noise. */
const rounded = (v: number | null) => (v === null ? null : Number(v.toPrecision(4)));

/**
 * The figures of the last stdout line: `slope_<stage>` and `rss_growth_<stage>` per stage, the
 * largest payload and the most history events of any execution, then `context` as given (scale,
 * load, durations) and every measurement under `cases`, keyed `<stage> <size>`.
 */
export function scaleFigures(measurements: StageMeasurement[], context: Record<string, unknown>): Record<string, unknown> {
  const stages = [...new Set(measurements.map((m) => m.stage))];
  const cases = Object.fromEntries(
    measurements.map((m) => [
      `${m.stage} ${m.size}`,
      {
        route: m.route,
        units: m.units,
        unit: m.unit,
        seconds: rounded(m.seconds),
        ns_per_unit: rounded(m.units > 0 ? (m.seconds / m.units) * 1e9 : null),
        peak_rss_mb: Math.round(m.peakRssMb),
        ...(m.maxPayloadBytes !== undefined ? { max_payload_bytes: m.maxPayloadBytes } : {}),
        ...(m.maxHistoryEvents !== undefined ? { max_history_events: m.maxHistoryEvents } : {}),
        ...(m.executions !== undefined ? { executions: m.executions } : {}),
        ...(m.attempts !== undefined ? { attempts: m.attempts } : {}),
        ...(m.failed ? { failed: m.failed } : {}),
      },
    ]),
  );
  return {
    ...Object.fromEntries(stages.map((s) => [`slope_${s}`, rounded(slope(measurements, s))])),
    ...Object.fromEntries(stages.map((s) => [`rss_growth_${s}`, rounded(rssGrowth(measurements, s))])),
    max_payload_bytes: maxOf(measurements.map((m) => m.maxPayloadBytes)),
    max_history_events: maxOf(measurements.map((m) => m.maxHistoryEvents)),
    ...context,
    cases,
  };
}

/** Time per unit in the unit that reads best: `12.3 ns`, `4.56 µs`, `7.89 ms`. */
export function perUnit(seconds: number, units: number): string {
  if (units <= 0) return NA;
  const s = seconds / units;
  if (s < 1e-6) return `${fixed(s * 1e9, 2)} ns`;
  if (s < 1e-3) return `${fixed(s * 1e6, 2)} µs`;
  if (s < 1) return `${fixed(s * 1e3, 2)} ms`;
  return `${fixed(s, 2)} s`;
}

/** The measurements as an aligned text table, one row per stage and size, then a row of slopes and growths per stage. */
export function scaleTable(measurements: StageMeasurement[]): string {
  const header = ['stage', 'size', 'route', 'units', 'seconds', 'per unit', 'peak RSS MiB', 'max payload B', 'max events', 'executions', 'attempts'];
  const rows = measurements.map((m) => [
    m.stage,
    m.size,
    m.route,
    `${count(m.units)} ${m.unit}`,
    m.failed ? `failed: ${m.failed}` : fixed(m.seconds, 2),
    m.failed ? NA : perUnit(m.seconds, m.units),
    String(Math.round(m.peakRssMb)),
    m.maxPayloadBytes === undefined ? '' : count(m.maxPayloadBytes),
    m.maxHistoryEvents === undefined ? '' : count(m.maxHistoryEvents),
    m.executions === undefined ? '' : count(m.executions),
    m.attempts === undefined ? '' : count(m.attempts),
  ]);
  const growth = [...new Set(measurements.map((m) => m.stage))].map((s) => [s, 'slope / RSS growth', '', '', '', fixed(slope(measurements, s), 2), fixed(rssGrowth(measurements, s), 2), '', '', '', '']);
  const all = [header, ...rows, ...growth];
  const widths = header.map((_, c) => Math.max(...all.map((r) => r[c].length)));
  const line = (r: string[]) => r.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line), '', ...growth.map(line)].join('\n');
}
