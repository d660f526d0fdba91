// How a benchmark reports its figures: the JSON object on the last stdout line (what scripts and
// people parse), and the same figures as that benchmark's section of docs/benchmarks.md, with
// when, at which commit and on what machine they were measured, so the docs never state a figure
// without its provenance.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../lib/paths';

export type BenchmarkName = 'embed' | 'train' | 'retrieval' | 'scale';

export const BENCHMARKS_FILE = 'docs/benchmarks.md';

/** Where and when figures were measured. */
export interface Provenance {
  date: string;
  commit: string;
  machine: string;
}

const beginMarker = (name: BenchmarkName) => `<!-- bench:${name} begin: written by \`npm run bench:${name}\` (bench/record.ts) up to the end marker -->`;
const endMarker = (name: BenchmarkName) => `<!-- bench:${name} end -->`;

/** Nested figures as `a.b.c` rows, in the order the benchmark wrote them. */
export function flattenFigures(figures: object, prefix = ''): [string, string][] {
  return Object.entries(figures).flatMap(([key, value]): [string, string][] => {
    const path = `${prefix}${key}`;
    if (value && typeof value === 'object' && !Array.isArray(value)) return flattenFigures(value, `${path}.`);
    if (Array.isArray(value)) return [[path, value.map((v) => (typeof v === 'object' ? JSON.stringify(v) : String(v))).join(', ')]];
    return [[path, String(value)]];
  });
}

/** One benchmark's section, markers included: provenance, then a table of every figure. */
export function benchmarkSection(name: BenchmarkName, figures: object, provenance: Provenance): string {
  const rows = flattenFigures(figures).map(([key, value]) => `| \`${key}\` | ${value.replace(/\|/g, '\\|')} |`);
  return [
    beginMarker(name),
    `Last run: ${provenance.date}, commit \`${provenance.commit}\`, on ${provenance.machine}.`,
    '',
    '| figure | value |',
    '| --- | --- |',
    ...rows,
    endMarker(name),
  ].join('\n');
}

/** The markdown with this benchmark's section replaced, or appended when it has none yet. */
export function replaceBenchmarkSection(markdown: string, name: BenchmarkName, section: string): string {
  const begin = markdown.indexOf(beginMarker(name));
  const end = markdown.indexOf(endMarker(name));
  if (begin === -1 || end < begin) return `${markdown.trimEnd()}\n\n${section}\n`;
  return markdown.slice(0, begin) + section + markdown.slice(end + endMarker(name).length);
}

function git(args: string[]): string | undefined {
  const res = spawnSync('git', args, { cwd: projectRoot, encoding: 'utf8' });
  return res.status === 0 ? res.stdout.trim() : undefined;
}

function gpus(): string {
  const res = spawnSync('nvidia-smi', ['--query-gpu=name,memory.total', '--format=csv,noheader'], { encoding: 'utf8' });
  const names = res.status === 0 ? res.stdout.trim().split('\n').filter(Boolean) : [];
  return names.length ? names.join('; ') : 'none';
}

function provenanceNow(): Provenance {
  const head = git(['rev-parse', '--short', 'HEAD']);
  const dirty = git(['status', '--porcelain']);
  const gib = (totalmem() / 2 ** 30).toFixed(1);
  return {
    date: `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    commit: head === undefined ? 'unknown' : `${head}${dirty ? '+dirty' : ''}`,
    machine: `${cpus()[0]?.model ?? 'unknown CPU'}, ${availableParallelism()} cores, ${gib} GiB memory, GPU: ${gpus()}`,
  };
}

/** A benchmark's last act: its section of docs/benchmarks.md, then its figures as the last stdout line. */
export function recordBenchmark(name: BenchmarkName, figures: object): void {
  const file = join(projectRoot, BENCHMARKS_FILE);
  const markdown = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  writeFileSync(file, replaceBenchmarkSection(markdown, name, benchmarkSection(name, figures, provenanceNow())));
  console.error(`[bench:${name}] figures written to ${BENCHMARKS_FILE}`);
  console.log(JSON.stringify(figures));
}
