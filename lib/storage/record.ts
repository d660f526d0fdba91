import { log } from '../log';
import { readLocationText } from './location';

/**
 * A record read back: a JSON file or object that stands for work done (a stage's result, the pool's
 * shard plan, a labeled split's index), written whole by writeLocation. A record that is there but
 * does not parse, or that `parse` rejects, reads as absent, with a warning that names it, and the
 * work it stood for is done again: a torn record (a disk that lost what it acknowledged, a copy cut
 * short, an older layout) must never fail every later run of that name. Nothing there is absent
 * too, silently; a store that cannot be read is an error.
 */
export async function readRecord<T>(location: string, parse: (text: string) => T): Promise<T | undefined> {
  return recordOf(location, await readLocationText(location), parse);
}

/** readRecord for text already read (`undefined`: nothing there), where the reader must be synchronous. */
export function recordOf<T>(location: string, text: string | undefined, parse: (text: string) => T): T | undefined {
  if (text === undefined) return undefined;
  try {
    return parse(text);
  } catch (err) {
    log.warn({ record: location }, `record ${location} is torn or unreadable (${(err as Error).message}): treated as absent, its work is done again`);
    return undefined;
  }
}
