// Draw every ```mermaid block of the Markdown files given as arguments into
// an SVG file with the real renderer (@mermaid-js/mermaid-cli, in the
// system's chromium), or check that the SVG files already there are what
// the renderer draws from the current source. Used by
// scripts/check-mermaid.sh and scripts/render-mermaid.sh.
//
//   node render.mjs write|check OUTDIR FILE.md...
//
// Block n (1, 2, ...) of docs/X.md is OUTDIR/X-n.svg. Each SVG begins with
// a comment recording the SHA-256 of the block's source. "check" draws
// every block again and fails when a file is missing, when its recorded
// hash is not the source's (the diagram was edited, the SVG was not), or
// when what it draws differs from the file in anything but the numbers of
// the layout (coordinates and sizes depend on the fonts installed; the
// text, the elements and their order do not), and when OUTDIR holds a
// drawing of a block that no longer exists.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync, readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import puppeteer from 'puppeteer';
import { renderMermaid } from '@mermaid-js/mermaid-cli';

const [mode, outDir, ...files] = process.argv.slice(2);
if (!['write', 'check'].includes(mode) || !outDir || files.length === 0) {
  console.error('usage: node render.mjs write|check OUTDIR FILE.md...');
  process.exit(2);
}
const executablePath = process.env.HOTDEPLOY_CHROMIUM;
if (!executablePath) {
  console.error('render.mjs: HOTDEPLOY_CHROMIUM must name the system chromium (puppeteer downloads none)');
  process.exit(2);
}

const sha256 = (s) => createHash('sha256').update(s).digest('hex');
const header = (file, n, hash) =>
  `<!-- Drawn by scripts/render-mermaid.sh from diagram ${n} of ${file}; do not edit. ` +
  `source sha256 ${hash} -->\n`;
// The layout's numbers (in attributes and in the style sheet) depend on
// the fonts; the rest of the drawing does not.
const normalize = (svg) =>
  svg.replace(/^<!--[^]*?-->\n/, '')
    .replace(/="[^"]*"/g, (a) => a.replace(/-?\d+(\.\d+)?(e[-+]?\d+)?/g, 'N'))
    .replace(/<style>[^]*?<\/style>/g, (s) => s.replace(/-?\d+(\.\d+)?(px|em)?/g, 'N'));

const browser = await puppeteer.launch({
  executablePath,
  headless: true,
  // Root in a container has no user namespace sandbox; the pages drawn are
  // our own diagrams, from local files only.
  args: ['--no-sandbox'],
});
let failed = 0;
const expected = new Set();
try {
  for (const file of files) {
    const base = path.basename(file, '.md');
    const lines = readFileSync(file, 'utf8').split('\n');
    let n = 0;
    for (let i = 0; i < lines.length; i++) {
      if (lines[i].trim() !== '```mermaid') continue;
      const body = [];
      for (i++; i < lines.length && lines[i].trim() !== '```'; i++) body.push(lines[i]);
      n++;
      const source = body.join('\n');
      const out = path.join(outDir, `${base}-${n}.svg`);
      expected.add(path.basename(out));
      const { data } = await renderMermaid(browser, source, 'svg', {
        svgId: `${base}-${n}`.replace(/\./g, '-'),
        backgroundColor: 'white',
      });
      const svg = header(file, n, sha256(source)) + Buffer.from(data).toString('utf8') + '\n';
      if (mode === 'write') {
        writeFileSync(out, svg);
        console.log(`drawn   ${out} (${file}, diagram ${n})`);
        continue;
      }
      if (!existsSync(out)) {
        failed++;
        console.log(`FAIL    ${out} missing: draw it with scripts/render-mermaid.sh`);
        continue;
      }
      const have = readFileSync(out, 'utf8');
      if (!have.startsWith(header(file, n, sha256(source)))) {
        failed++;
        console.log(`FAIL    ${out} was not drawn from the current ${file}, diagram ${n}: run scripts/render-mermaid.sh`);
      } else if (normalize(have) !== normalize(svg)) {
        failed++;
        console.log(`FAIL    ${out} differs from what the renderer draws from ${file}, diagram ${n}: run scripts/render-mermaid.sh`);
      } else {
        console.log(`ok      ${out} (${file}, diagram ${n})`);
      }
    }
  }
} finally {
  await browser.close();
}
if (mode === 'check') {
  const stems = new Set(files.map((f) => path.basename(f, '.md')));
  for (const f of readdirSync(outDir)) {
    const m = f.match(/^(.*)-\d+\.svg$/);
    if (m && stems.has(m[1]) && !expected.has(f)) {
      failed++;
      console.log(`FAIL    ${path.join(outDir, f)} draws no diagram of the docs any more: remove it`);
    }
  }
  console.log(`${expected.size} diagrams checked, ${failed} failed`);
}
process.exit(failed > 0 ? 1 : 0);
