// Parses every ```mermaid block of every Markdown file in the repository
// with Mermaid itself and exits 1 if any does not parse, printing
// file:line and Mermaid's message for each. A diagram that does not parse
// renders on GitHub as an error box: this catches it before a reader does.
//
// Mermaid expects a browser; jsdom supplies the window and document it
// looks for. mermaid.parse only parses (no layout, no rendering), which is
// all the check needs and works without a real browser.
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { JSDOM } from 'jsdom';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(process.argv[2] ?? path.join(here, '../..'));

const dom = new JSDOM('<!doctype html><html><body></body></html>');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import('mermaid');
mermaid.initialize({ startOnLoad: false });

// markdownFiles lists *.md under dir, skipping dependencies and hidden or
// build directories (the same set docs/docs_test.go checks).
async function markdownFiles(dir) {
  const out = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name === 'node_modules' || entry.name.startsWith('.') || full === path.join(root, 'bin')) continue;
      out.push(...await markdownFiles(full));
    } else if (entry.name.toLowerCase().endsWith('.md')) {
      out.push(full);
    }
  }
  return out.sort();
}

// mermaidBlocks returns each ```mermaid fenced block with the line of its
// first diagram line.
function mermaidBlocks(text) {
  const blocks = [];
  const lines = text.split('\n');
  let fence = null;
  for (let i = 0; i < lines.length; i++) {
    const open = /^ {0,3}(`{3,}|~{3,})\s*([\w-]*)/.exec(lines[i]);
    if (fence === null) {
      if (open) fence = { marker: open[1], lang: open[2], start: i + 1, body: [] };
      continue;
    }
    const close = /^ {0,3}(`{3,}|~{3,})\s*$/.exec(lines[i]);
    if (close && close[1][0] === fence.marker[0] && close[1].length >= fence.marker.length) {
      if (fence.lang === 'mermaid') blocks.push({ line: fence.start + 1, source: fence.body.join('\n') });
      fence = null;
      continue;
    }
    fence.body.push(lines[i]);
  }
  return blocks;
}

let count = 0;
const failures = [];
for (const file of await markdownFiles(root)) {
  const shown = path.relative(process.cwd(), file);
  for (const block of mermaidBlocks(await readFile(file, 'utf8'))) {
    count++;
    try {
      await mermaid.parse(block.source);
    } catch (err) {
      const message = String(err?.message ?? err).split('\n').map((l) => '    ' + l).join('\n');
      failures.push(`${shown}:${block.line}: the Mermaid diagram does not parse:\n${message}`);
    }
  }
}
for (const f of failures) console.error(f);
if (failures.length > 0) {
  console.error(`${failures.length} of ${count} Mermaid diagrams do not parse`);
  process.exit(1);
}
console.log(`${count} Mermaid diagrams parse`);
