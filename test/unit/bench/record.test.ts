import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BENCHMARKS_FILE, benchmarkSection, flattenFigures, replaceBenchmarkSection } from '../../../bench/record';
import { projectRoot } from '../../../lib/paths';

const provenance = { date: '2026-11-29 10:00 UTC', commit: 'abc1234+dirty', machine: 'Test CPU, 2 cores, 7.8 GiB memory, GPU: none' };

describe('benchmark figures in docs/benchmarks.md', () => {
  it('flattens nested figures into dotted rows, lists joined', () => {
    assert.deepEqual(flattenFigures({ cores: 2, demo: { raw: 40220.5, load: { before: 1.3 } }, pairs: [1.007, 0.926], note: 'random weights' }), [
      ['cores', '2'],
      ['demo.raw', '40220.5'],
      ['demo.load.before', '1.3'],
      ['pairs', '1.007, 0.926'],
      ['note', 'random weights'],
    ]);
  });

  it('writes a section with its provenance and a row per figure', () => {
    const section = benchmarkSection('train', { activity_vs_direct_ratio: 0.997, note: 'a|b' }, provenance);
    assert.match(section, /^<!-- bench:train begin/);
    assert.match(section, /<!-- bench:train end -->$/);
    assert.match(section, /Last run: 2026-11-29 10:00 UTC, commit `abc1234\+dirty`, on Test CPU, 2 cores, 7\.8 GiB memory, GPU: none\./);
    assert.match(section, /\| `activity_vs_direct_ratio` \| 0\.997 \|/);
    assert.match(section, /\| `note` \| a\\\|b \|/);
  });

  it("replaces only that benchmark's section, keeping the text around it", () => {
    const old = benchmarkSection('embed', { rate: 1 }, provenance);
    const other = benchmarkSection('retrieval', { qps: 5 }, provenance);
    const markdown = `# Benchmarks\n\nHow embedding is measured.\n\n${old}\n\nWhat got it there.\n\n${other}\n`;
    const fresh = benchmarkSection('embed', { rate: 2 }, { ...provenance, commit: 'def5678' });
    const updated = replaceBenchmarkSection(markdown, 'embed', fresh);
    assert.equal(updated, `# Benchmarks\n\nHow embedding is measured.\n\n${fresh}\n\nWhat got it there.\n\n${other}\n`);
    assert.equal(replaceBenchmarkSection(updated, 'embed', fresh), updated);
  });

  it('appends the section when the page has none for that benchmark yet', () => {
    const section = benchmarkSection('retrieval', { qps: 5 }, provenance);
    assert.equal(replaceBenchmarkSection('# Benchmarks\n\nIntro.\n\n', 'retrieval', section), `# Benchmarks\n\nIntro.\n\n${section}\n`);
  });

  it('has a section for every benchmark script in the committed page', () => {
    const page = readFileSync(join(projectRoot, BENCHMARKS_FILE), 'utf8');
    for (const name of ['embed', 'train', 'retrieval'] as const) {
      const section = benchmarkSection(name, {}, provenance);
      const [begin, end] = [section.split('\n')[0], section.split('\n').at(-1)!];
      assert.ok(page.indexOf(begin) !== -1 && page.indexOf(end) > page.indexOf(begin), `${BENCHMARKS_FILE} lacks the bench:${name} markers`);
    }
  });
});
