import { readLocationText } from '../storage/location';

export interface LossPoint {
  step: number;
  loss: number;
}

interface Line {
  attempt: number;
  order: number;
  step: number;
  loss: number;
}

function progressLine(raw: string, order: number): Line | undefined {
  let e: unknown;
  try {
    e = JSON.parse(raw);
  } catch {
    // A torn line: the activity was killed mid-write. Its event is lost, the rest still counts.
    return undefined;
  }
  if (typeof e !== 'object' || e === null) return undefined;
  const { event, step, loss, attempt } = e as Record<string, unknown>;
  // Evaluate passes report progress with a null loss: they are not training curves.
  if (event !== 'progress' || typeof step !== 'number' || typeof loss !== 'number' || !Number.isFinite(loss)) return undefined;
  return { attempt: typeof attempt === 'number' ? attempt : 1, order, step, loss };
}

/**
 * The training loss curve of one trainer job's `events.jsonl` (every attempt appends to it).
 *
 * A retried attempt resumes from its last checkpoint and logs again the steps after it; what the
 * earlier attempt logged from there on was rolled back, so a step that does not advance drops every
 * point kept at or past it. Lines are taken by attempt, then in file order, because a zombie attempt
 * and its retry may interleave their writes.
 */
export function lossCurve(jsonl: string): LossPoint[] {
  const lines = jsonl
    .split('\n')
    .map((raw, order) => (raw.trim() ? progressLine(raw, order) : undefined))
    .filter((l): l is Line => l !== undefined)
    .sort((a, b) => a.attempt - b.attempt || a.order - b.order);
  const kept: LossPoint[] = [];
  for (const { step, loss } of lines) {
    while (kept.length && kept[kept.length - 1].step >= step) kept.pop();
    kept.push({ step, loss });
  }
  return kept;
}

/** A job that never started has no events file: its curve is empty, not an error. */
export async function readLossCurve(path: string): Promise<LossPoint[]> {
  const events = await readLocationText(path);
  return events === undefined ? [] : lossCurve(events);
}
