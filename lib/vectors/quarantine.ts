import type { Connection } from '@lancedb/lancedb';
import { stringColumn } from './arrow';
import { openTable, tableNames } from './tables';

/** Quarantined samples of an encoder by reason, for run reports. */
export async function quarantineCounts(db: Connection, encoderId: string): Promise<Record<string, number>> {
  const table = await (await openTable(db, tableNames(encoderId).quarantine)).query().select(['reason']).toArrow();
  const counts: Record<string, number> = {};
  for (const reason of stringColumn(table, 'reason')) counts[reason] = (counts[reason] ?? 0) + 1;
  return counts;
}
