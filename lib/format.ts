// How septflow prints numbers: in reports, CLI lines, run summaries and the run details the Temporal
// UI shows. Fixed rules rather than toLocaleString: text must read, and byte-compare, the same on
// every worker whatever its locale. No node: imports, so workflows may print with it too.

export const NA = 'n/a';

const present = (v: number | null | undefined): v is number => typeof v === 'number' && Number.isFinite(v);
const two = (n: number) => String(n).padStart(2, '0');

/** 1234567 → `1,234,567`. */
export function count(n: number): string {
  const [int, frac] = String(Math.abs(n)).split('.');
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${n < 0 ? '-' : ''}${grouped}${frac ? `.${frac}` : ''}`;
}

/** A fraction in [0, 1] as a percentage: 0.9512 → `95.1%`. */
export function percent(fraction: number | null | undefined, decimals = 1): string {
  return present(fraction) ? `${percentPoints(fraction, decimals)}%` : NA;
}

/** The same without the sign, for tables whose heading says `(%)`: 0.9512 → `95.1`. */
export function percentPoints(fraction: number | null | undefined, decimals = 1): string {
  return fixed(present(fraction) ? fraction * 100 : null, decimals);
}

/** `part / whole`, or null where the whole is empty. */
export function share(part: number, whole: number): number | null {
  return whole > 0 ? part / whole : null;
}

export function fixed(v: number | null | undefined, decimals: number): string {
  return present(v) ? v.toFixed(decimals) : NA;
}

/** Seconds as a plain figure with its unit: 128.6 → `129 s`. */
export function seconds(v: number | null | undefined, decimals = 0): string {
  return present(v) ? `${v.toFixed(decimals)} s` : NA;
}

/** 3723.4 → `1h 02m 03s`; under a minute, with a decimal: `4.2s`. */
export function duration(seconds: number | null | undefined): string {
  if (!present(seconds)) return NA;
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const s = Math.round(seconds);
  const [h, m, sec] = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60];
  return h ? `${h}h ${two(m)}m ${two(sec)}s` : `${m}m ${two(sec)}s`;
}

/** Two units, no spaces, for a progress line: 288 → `4m48s`; from an hour on, 3725 → `1h02m`. */
export function shortDuration(seconds: number): string {
  const s = Math.round(seconds);
  return s >= 3600 ? `${Math.floor(s / 3600)}h${two(Math.floor((s % 3600) / 60))}m` : `${Math.floor(s / 60)}m${two(s % 60)}s`;
}

/** Epoch milliseconds as UTC ISO 8601, the same on every worker. */
export function timestamp(ms: number | null | undefined): string {
  return present(ms) ? new Date(ms).toISOString() : NA;
}
