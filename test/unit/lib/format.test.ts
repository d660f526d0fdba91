import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { count, duration, fixed, NA, percent, percentPoints, seconds, share, shortDuration, timestamp } from '../../../lib/format';

/** One `it` per row, named by its input and expected text. */
function table<A extends unknown[]>(name: string, format: (...args: A) => string, rows: [A, string][]): void {
  describe(name, () => {
    for (const [args, expected] of rows) {
      it(`${JSON.stringify(args)} → ${expected}`, () => assert.equal(format(...args), expected));
    }
  });
}

describe('number formats', () => {
  table('count', count, [
    [[0], '0'],
    [[999], '999'],
    [[1000], '1,000'],
    [[8000], '8,000'],
    [[1234567], '1,234,567'],
    [[-1234567], '-1,234,567'],
    [[1234.5], '1,234.5'],
  ]);

  it('counts integers as en-US does, on every worker whatever its locale', () => {
    for (const n of [0, 7, 12, 999, 1000, 10_000, 448_512, 1_234_567, 70_000_000]) assert.equal(count(n), n.toLocaleString('en-US'));
  });

  table('percent', percent, [
    [[0.9512], '95.1%'],
    [[1], '100.0%'],
    [[0], '0.0%'],
    [[0.001], '0.1%'],
    [[0.12345, 2], '12.35%'],
    [[null], NA],
    [[undefined], NA],
    [[Number.NaN], NA],
    [[Number.POSITIVE_INFINITY], NA],
  ]);

  table('percentPoints', percentPoints, [
    [[0.6], '60.0'],
    [[0.14142], '14.1'],
    [[0.5, 0], '50'],
    [[null], NA],
  ]);

  table('fixed', fixed, [
    [[0.87654, 4], '0.8765'],
    [[3.41234, 3], '3.412'],
    [[2, 2], '2.00'],
    [[null, 1], NA],
    [[Number.NaN, 1], NA],
  ]);

  it('shares a part of a whole, or null for an empty whole', () => {
    assert.equal(share(1, 4), 0.25);
    assert.equal(share(3, 0), null);
    assert.equal(percent(share(90, 100)), '90.0%');
    assert.equal(percent(share(3, 0)), NA);
  });
});

describe('time formats', () => {
  table('seconds', seconds, [
    [[129.4], '129 s'],
    [[0], '0 s'],
    [[17.25, 1], '17.3 s'],
    [[undefined], NA],
  ]);

  table('duration', duration, [
    [[4.23], '4.2s'],
    [[59.94], '59.9s'],
    [[60], '1m 00s'],
    [[65.4], '1m 05s'],
    [[3599.6], '1h 00m 00s'],
    [[3723.4], '1h 02m 03s'],
    [[90061], '25h 01m 01s'],
    [[null], NA],
  ]);

  table('shortDuration', shortDuration, [
    [[0], '0m00s'],
    [[48.4], '0m48s'],
    [[205], '3m25s'],
    [[288], '4m48s'],
    [[3599.4], '59m59s'],
    [[3599.5], '1h00m'],
    [[3725], '1h02m'],
    [[36000], '10h00m'],
  ]);

  table('timestamp', timestamp, [
    [[0], '1970-01-01T00:00:00.000Z'],
    [[Date.UTC(2025, 10, 28, 18, 0, 0)], '2025-11-28T18:00:00.000Z'],
    [[null], NA],
  ]);
});
