// A node:test reporter (test/run.ts adds it beside the usual one): one `file<TAB>seconds` line per
// test file, the sum of its top-level tests' durations, for test/support/file-seconds.ts. Plain
// JavaScript: node:test loads reporters before any TypeScript loader.
export default async function* fileSeconds(source) {
  const seconds = new Map();
  for await (const { type, data } of source) {
    if ((type !== 'test:pass' && type !== 'test:fail') || data.nesting !== 0 || !data.file) continue;
    seconds.set(data.file, (seconds.get(data.file) ?? 0) + (data.details?.duration_ms ?? 0) / 1000);
  }
  for (const [file, s] of seconds) yield `${file}\t${s.toFixed(1)}\n`;
}
