// Parse every ```mermaid block of the Markdown files given as arguments with
// the real Mermaid parser (mermaid.parse, no browser needed for parsing).
// Prints one line per block; exits 1 if any block does not parse, naming its
// file and line. Used by scripts/check-mermaid.sh.
import { readFileSync } from 'node:fs';
import DOMPurify from 'dompurify';

// Without a DOM, DOMPurify is only a factory (no addHook, no sanitize), and
// some parsers (stateDiagram-v2) sanitize their labels while parsing. Only
// the grammar is checked here, so the labels pass through unchanged; the
// stub goes in before mermaid is loaded, which shares this DOMPurify.
if (typeof DOMPurify.addHook !== 'function') {
  DOMPurify.addHook = () => {};
  DOMPurify.removeHook = () => {};
  DOMPurify.removeHooks = () => {};
  DOMPurify.sanitize = (s) => String(s);
}
const { default: mermaid } = await import('mermaid');

let failed = 0;
let blocks = 0;
for (const file of process.argv.slice(2)) {
  const lines = readFileSync(file, 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== '```mermaid') continue;
    const start = i + 1; // 1-based line of the fence is i+1; the text starts after it
    const body = [];
    for (i++; i < lines.length && lines[i].trim() !== '```'; i++) body.push(lines[i]);
    blocks++;
    try {
      const r = await mermaid.parse(body.join('\n'));
      console.log(`ok      ${file}:${start} ${r.diagramType}`);
    } catch (e) {
      failed++;
      const msg = String((e && e.message) || e).split('\n').slice(0, 3).join(' | ');
      console.log(`FAIL    ${file}:${start} ${msg}`);
    }
  }
}
console.log(`${blocks} mermaid blocks, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
