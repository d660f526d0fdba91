// How the reports print numbers. Fixed rules rather than toLocaleString: a report must read, and
// byte-compare, the same on every worker whatever its locale.

export const NA = 'n/a';

const present = (v: number | null | undefined): v is number => typeof v === 'number' && Number.isFinite(v);

/** 1234567 → `1,234,567`. */
export function count(n: number): string {
  const [int, frac] = String(Math.abs(n)).split('.');
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${n < 0 ? '-' : ''}${grouped}${frac ? `.${frac}` : ''}`;
}

/** A fraction in [0, 1] as a percentage: 0.9512 → `95.1%`. */
export function percent(fraction: number | null | undefined, decimals = 1): string {
  return present(fraction) ? `${(fraction * 100).toFixed(decimals)}%` : NA;
}

/** `part / whole`, or null where the whole is empty. */
export function share(part: number, whole: number): number | null {
  return whole > 0 ? part / whole : null;
}

export function fixed(v: number | null | undefined, decimals: number): string {
  return present(v) ? v.toFixed(decimals) : NA;
}

/** 3723.4 → `1h 02m 03s`; under a minute, with a decimal: `4.2s`. */
export function duration(seconds: number | null | undefined): string {
  if (!present(seconds)) return NA;
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const s = Math.round(seconds);
  const [h, m, sec] = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60];
  const two = (n: number) => String(n).padStart(2, '0');
  return h ? `${h}h ${two(m)}m ${two(sec)}s` : `${m}m ${two(sec)}s`;
}

/** Epoch milliseconds as UTC ISO 8601, the same on every worker. */
export function timestamp(ms: number | null | undefined): string {
  return present(ms) ? new Date(ms).toISOString() : NA;
}

/** Names sorted with numeric ones first in numeric order (class labels: `2` before `10`), the rest by code point, not by locale. */
export function byName(a: string, b: string): number {
  const numeric = (s: string) => s.trim() !== '' && Number.isFinite(Number(s));
  const [na, nb] = [numeric(a), numeric(b)];
  if (na !== nb) return na ? -1 : 1;
  if (na && Number(a) !== Number(b)) return Number(a) - Number(b);
  return a < b ? -1 : a > b ? 1 : 0;
}
