// A report is built once as blocks and rendered twice, to Markdown and to HTML, so the two files
// always say the same thing. Every piece of text is escaped by the renderer: source names, paths and
// config values come from users.
import { escapeXml } from './svg';

/** Text, or a literal (path, id, key) shown as code. */
export type Inline = string | { code: string };

export type Block =
  | { kind: 'heading'; level: 1 | 2 | 3; text: string }
  | { kind: 'paragraph'; text: Inline[] }
  | { kind: 'facts'; rows: [string, Inline][] }
  | { kind: 'table'; head: string[]; rows: Inline[][]; numeric?: boolean[] }
  | { kind: 'code'; language: string; text: string }
  /** `path` relative to the report; `svg` is inlined into the HTML, otherwise the HTML shows an image. */
  | { kind: 'figure'; path: string; caption: string; svg?: string };

// ---- Markdown ----

/** Backslash-escapes what Markdown (CommonMark + GFM tables) would read as syntax or raw HTML. */
export const escapeMarkdown = (s: string) => s.replace(/[\\`*_[\]<>|~&#]/g, '\\$&').replace(/\r?\n/g, ' ');

/** A code span fenced by more backticks than the literal contains. */
function codeSpan(s: string): string {
  const longest = Math.max(0, ...(s.match(/`+/g) ?? []).map((r) => r.length));
  const fence = '`'.repeat(longest + 1);
  const pad = s.startsWith('`') || s.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${s.replace(/\r?\n/g, ' ')}${pad}${fence}`;
}

const mdInline = (i: Inline) => (typeof i === 'string' ? escapeMarkdown(i) : codeSpan(i.code));
// GFM splits table rows on `|` even inside code spans, so it is escaped there too.
const mdCell = (i: Inline) => (typeof i === 'string' ? escapeMarkdown(i) : codeSpan(i.code).replace(/\|/g, '\\|'));

export function markdownTable(head: string[], rows: Inline[][], numeric: boolean[] = []): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [
    line(head.map(escapeMarkdown)),
    line(head.map((_, i) => (numeric[i] ? '---:' : '---'))),
    ...rows.map((r) => line(r.map(mdCell))),
  ].join('\n');
}

function mdBlock(b: Block): string {
  switch (b.kind) {
    case 'heading':
      return `${'#'.repeat(b.level)} ${escapeMarkdown(b.text)}`;
    case 'paragraph':
      return b.text.map(mdInline).join('');
    case 'facts':
      return b.rows.map(([k, v]) => `- **${escapeMarkdown(k)}**: ${mdInline(v)}`).join('\n');
    case 'table':
      return markdownTable(b.head, b.rows, b.numeric);
    case 'code': {
      const longest = Math.max(2, ...(b.text.match(/`+/g) ?? []).map((r) => r.length));
      const fence = '`'.repeat(longest + 1);
      return `${fence}${b.language}\n${b.text}\n${fence}`;
    }
    case 'figure':
      return `![${escapeMarkdown(b.caption)}](${encodeURI(b.path)})`;
  }
}

export function renderMarkdown(blocks: Block[]): string {
  return `${blocks.map(mdBlock).join('\n\n')}\n`;
}

// ---- HTML ----

const html = escapeXml;
const htmlInline = (i: Inline) => (typeof i === 'string' ? html(i) : `<code>${html(i.code)}</code>`);

function htmlBlock(b: Block): string {
  switch (b.kind) {
    case 'heading':
      return `<h${b.level}>${html(b.text)}</h${b.level}>`;
    case 'paragraph':
      return `<p>${b.text.map(htmlInline).join('')}</p>`;
    case 'facts':
      return `<dl>${b.rows.map(([k, v]) => `<dt>${html(k)}</dt><dd>${htmlInline(v)}</dd>`).join('')}</dl>`;
    case 'table': {
      const cls = (i: number) => (b.numeric?.[i] ? ' class="num"' : '');
      const head = b.head.map((h, i) => `<th${cls(i)}>${html(h)}</th>`).join('');
      const rows = b.rows.map((r) => `<tr>${r.map((c, i) => `<td${cls(i)}>${htmlInline(c)}</td>`).join('')}</tr>`).join('\n');
      return `<table>\n<thead><tr>${head}</tr></thead>\n<tbody>\n${rows}\n</tbody>\n</table>`;
    }
    case 'code':
      return `<pre><code class="language-${html(b.language)}">${html(b.text)}</code></pre>`;
    case 'figure':
      // SVGs are inlined so the HTML is one self-contained file; raster images stay beside it.
      return `<figure>${b.svg ?? `<img src="${html(encodeURI(b.path))}" alt="${html(b.caption)}">`}<figcaption>${html(b.caption)}</figcaption></figure>`;
  }
}

const STYLE = `
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; line-height: 1.45; }
h1, h2, h3 { line-height: 1.2; } h2 { margin-top: 2rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
table { border-collapse: collapse; margin: .5rem 0; } th, td { border: 1px solid #ccc; padding: .25rem .6rem; text-align: left; }
th { background: #f4f4f4; } td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
dl { display: grid; grid-template-columns: max-content auto; gap: .2rem 1rem; } dt { font-weight: 600; } dd { margin: 0; }
pre { background: #f6f8fa; padding: .8rem; overflow: auto; font-size: .85rem; } code { font-size: .9em; }
figure { margin: 1rem 0; } figure svg, figure img { max-width: 100%; height: auto; } figcaption { color: #555; font-size: .9rem; }
`.trim();

export function renderHtml(title: string, blocks: Block[]): string {
  return [
    '<!doctype html>',
    '<html lang="en">',
    `<head>\n<meta charset="utf-8">\n<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>${html(title)}</title>\n<style>\n${STYLE}\n</style>\n</head>`,
    '<body>',
    ...blocks.map(htmlBlock),
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
