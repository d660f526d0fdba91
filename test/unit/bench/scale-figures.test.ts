import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { perUnit, rssGrowth, scaleFigures, scaleTable, shortCount, slope, type StageMeasurement } from '../../../bench/scale-figures';

const at = (stage: string, units: number, seconds: number, peakRssMb: number, extra: Partial<StageMeasurement> = {}): StageMeasurement => ({
  stage,
  size: shortCount(units),
  units,
  unit: 'shard',
  seconds,
  peakRssMb,
  route: 'direct',
  ...extra,
});

describe('bench:scale figures', () => {
  it('reads a linear stage as slope 1 and a quadratic one as the growth of its size', () => {
    const measured = [at('linear', 1000, 2, 100), at('linear', 100_000, 200, 100), at('quadratic', 1000, 1, 100), at('quadratic', 10_000, 100, 400), at('quadratic', 100_000, 10_000, 1600)];
    assert.equal(slope(measured, 'linear'), 1);
    assert.equal(slope(measured, 'quadratic'), 100);
    assert.equal(rssGrowth(measured, 'linear'), 1);
    assert.equal(rssGrowth(measured, 'quadratic'), 16);
  });

  it('takes the smallest and the largest size whatever the order measured, and leaves failed sizes out', () => {
    const measured = [at('census', 10_000, 400, 300), at('census', 100, 1, 200), at('census', 100_000, 0, 900, { failed: 'payload over the limit' })];
    assert.equal(slope(measured, 'census'), 4);
    assert.equal(rssGrowth(measured, 'census'), 1.5);
  });

  it('compares the first and the last size measured where the units stay the same (a constant budget)', () => {
    const measured = [at('materialize', 8000, 4, 1000, { size: '100k pool' }), at('materialize', 8000, 20, 1500, { size: '1M pool' }), at('materialize', 8000, 36, 2000, { size: '200k pool x 100k targets' })];
    assert.equal(slope(measured, 'materialize'), 9);
    assert.equal(rssGrowth(measured, 'materialize'), 2);
  });

  it('has no slope or growth from fewer than two sizes', () => {
    const measured = [at('merge', 1000, 1, 100), at('merge', 5000, 0, 0, { failed: 'timed out' })];
    assert.equal(slope(measured, 'merge'), null);
    assert.equal(rssGrowth(measured, 'merge'), null);
    assert.equal(slope(measured, 'absent'), null);
  });

  it('writes slopes, growths, the largest payload and history, the context and every case', () => {
    const measured = [
      at('plan_read', 1000, 0.5, 100),
      at('plan_read', 100_000, 100, 150),
      at('embed', 100, 10, 500, { route: 'workflow', maxPayloadBytes: 4102, maxHistoryEvents: 144 }),
      at('embed', 1000, 90, 520, { route: 'workflow', maxPayloadBytes: 5000, maxHistoryEvents: 900, executions: 5, attempts: 1 }),
    ];
    const figures = scaleFigures(measured, { scale: 0.01 });
    assert.deepEqual(Object.keys(figures).slice(0, 6), ['slope_plan_read', 'slope_embed', 'rss_growth_plan_read', 'rss_growth_embed', 'max_payload_bytes', 'max_history_events']);
    assert.equal(figures.slope_plan_read, 2);
    assert.equal(figures.slope_embed, 0.9);
    assert.equal(figures.rss_growth_plan_read, 1.5);
    assert.equal(figures.rss_growth_embed, 1.04);
    assert.equal(figures.max_payload_bytes, 5000);
    assert.equal(figures.max_history_events, 900);
    assert.equal(figures.scale, 0.01);
    const cases = figures.cases as Record<string, Record<string, unknown>>;
    assert.deepEqual(cases['embed 1k'], { route: 'workflow', units: 1000, unit: 'shard', seconds: 90, ns_per_unit: 90_000_000, peak_rss_mb: 520, max_payload_bytes: 5000, max_history_events: 900, executions: 5, attempts: 1 });
    assert.deepEqual(cases['plan_read 1k'], { route: 'direct', units: 1000, unit: 'shard', seconds: 0.5, ns_per_unit: 500_000, peak_rss_mb: 100 });
  });

  it('names sizes and times per unit as people read them', () => {
    assert.deepEqual([999, 1000, 2500, 1_000_000, 12_345_678].map(shortCount), ['999', '1k', '2.5k', '1M', '12.3M']);
    assert.equal(perUnit(1, 1e10), '0.10 ns');
    assert.equal(perUnit(3, 1_000_000), '3.00 µs');
    assert.equal(perUnit(12, 1000), '12.00 ms');
    assert.equal(perUnit(30, 10), '3.00 s');
    assert.equal(perUnit(1, 0), 'n/a');
  });

  it('prints one aligned row per stage and size, then each stage’s slope and RSS growth', () => {
    const table = scaleTable([at('plan_write', 1000, 0.2, 100), at('plan_write', 100_000, 20, 300), at('census', 10_000, 0, 250, { route: 'workflow', failed: 'payload too large', maxPayloadBytes: 2_100_000, maxHistoryEvents: 25, executions: 1, attempts: 5 })]).split('\n');
    assert.match(table[0], /^stage\s+size\s+route\s+units\s+seconds\s+per unit\s+peak RSS MiB\s+max payload B\s+max events\s+executions\s+attempts$/);
    assert.match(table[1], /^-+( +-+){10}$/);
    assert.match(table[2], /^plan_write\s+1k\s+direct\s+1,000 shard\s+0\.20\s+200\.00 µs\s+100$/);
    assert.match(table[4], /^census\s+10k\s+workflow\s+10,000 shard\s+failed: payload too large\s+n\/a\s+250\s+2,100,000\s+25\s+1\s+5$/);
    assert.equal(table[5], '');
    assert.match(table[6], /^plan_write\s+slope \/ RSS growth\s+1\.00\s+3\.00$/);
    assert.match(table[7], /^census\s+slope \/ RSS growth\s+n\/a\s+n\/a$/);
    // Columns line up: every row's third column starts where the header's does.
    const routeColumn = table[0].indexOf('route');
    for (const row of [table[2], table[3], table[4]]) assert.match(row.slice(routeColumn), /^(direct|workflow)/);
  });
});
