/** Names sorted with numeric ones first in numeric order (class labels: `2` before `10`), the rest by code point, not by locale. */
export function byName(a: string, b: string): number {
  const numeric = (s: string) => s.trim() !== '' && Number.isFinite(Number(s));
  const [na, nb] = [numeric(a), numeric(b)];
  if (na !== nb) return na ? -1 : 1;
  if (na && Number(a) !== Number(b)) return Number(a) - Number(b);
  return a < b ? -1 : a > b ? 1 : 0;
}
