import type { Census } from '../lib/census';

/** The census as a table: one row per source, one column per label. */
export function formatCensus(census: Census): string {
  const labels = [...new Set(Object.values(census.sources).flatMap((s) => Object.keys(s.perLabel)))].sort((a, b) => Number(a) - Number(b));
  const header = ['source', ...labels, 'unlabeled', 'total'];
  const rows = Object.entries(census.sources).map(([name, s]) => [name, ...labels.map((l) => String(s.perLabel[l] ?? 0)), String(s.unlabeled), String(s.samples)]);
  rows.push(['all', ...labels.map(() => ''), '', String(census.total)]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
