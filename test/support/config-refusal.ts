import assert from 'node:assert/strict';
import { ConfigError } from '../../lib/config/validate';

/** The ConfigError's issues, or a failure when `f` throws none. */
export function refusal(f: () => unknown): string[] {
  try {
    f();
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.issues;
  }
  assert.fail('expected a ConfigError');
}
