// The docs stay true: every error code is in the API reference's table, the
// README's quick start uses the real commands, the CLI reference documents
// the commands that exist, and the README stays a short entry that links
// every page of docs/.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ERROR_CODES } from '../engine/index.js';
import { buildProgram } from '../engine/cli/main.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const readme = readFileSync(`${root}/README.md`, 'utf8');
const apiDoc = readFileSync(`${root}/docs/api.md`, 'utf8');
const cliDoc = readFileSync(`${root}/docs/cli.md`, 'utf8');
const pkg = JSON.parse(readFileSync(`${root}/package.json`, 'utf8'));

test('every error code is in the API reference table with its meaning', () => {
  for (const [code, meaning] of Object.entries(ERROR_CODES)) {
    assert.ok(apiDoc.includes(`| \`${code}\` | ${meaning} |`), `docs/api.md row for ${code}`);
  }
});

test('quick start commands exist in package.json', () => {
  assert.match(readme, /npm install && npm start/);
  assert.match(readme, /npm test/);
  for (const s of ['build', 'start', 'test', 'coverage', 'bench']) assert.ok(pkg.scripts[s], `script ${s}`);
  assert.is(pkg.bin.cwasi, './bin/cwasi.js');
});

test('the documented CLI commands exist', () => {
  const names = buildProgram().commands.map((c) => c.name());
  for (const c of ['run', 'plan', 'validate', 'functions', 'bench', 'build', 'inspect', 'init']) {
    assert.ok(names.includes(c), c);
    assert.match(cliDoc, new RegExp(`cwasi ${c}`));
  }
});

test('the README links the guide for writing functions, which names every SDK export', () => {
  assert.match(readme, /\[docs\/writing-functions\.md\]\(docs\/writing-functions\.md\)/);
  const guide = readFileSync(`${root}/docs/writing-functions.md`, 'utf8');
  const sdk = readFileSync(`${root}/sdk/index.ts`, 'utf8');
  const exported = [...sdk.matchAll(/^export (?:class|function|namespace) (\w+)/gm)].map((m) => m[1]!);
  assert.ok(exported.length >= 7, exported.join(', '));
  for (const name of exported) assert.ok(guide.includes(`\`${name}`) || guide.includes(`class ${name}`) || guide.includes(`namespace ${name}`), `guide documents ${name}`);
});

test('the README is a short entry that links every page of docs/', () => {
  assert.ok(Buffer.byteLength(readme) < 25_000, `README.md is ${Buffer.byteLength(readme)} bytes`);
  for (const page of readdirSync(`${root}/docs`).filter((f) => f.endsWith('.md'))) {
    assert.ok(readme.includes(`](docs/${page})`), `README links docs/${page}`);
  }
});

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens. */
const slug = (heading: string) => heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
const anchors = (md: string) => new Set([...md.replace(/^```[\s\S]*?^```/gm, '').matchAll(/^#{1,6}\s+(.+)$/gm)].map((m) => slug(m[1]!)));

test('every relative link of the docs names a file that exists, and a heading in it', () => {
  const pages = ['README.md', 'CONTRIBUTING.md', 'SECURITY.md', ...readdirSync(`${root}/docs`).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
  const broken: string[] = [];
  for (const page of pages) {
    const text = readFileSync(join(root, page), 'utf8').replace(/^\s*```[\s\S]*?^\s*```/gm, '');
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target!)) continue;
      const [path, anchor] = target!.split('#') as [string, string | undefined];
      const file = path === '' ? join(root, page) : join(root, dirname(page), path);
      if (!existsSync(file)) broken.push(`${page}: ${target} (no such file)`);
      else if (anchor !== undefined && file.endsWith('.md') && !anchors(readFileSync(file, 'utf8')).has(anchor)) broken.push(`${page}: ${target} (no such heading)`);
    }
  }
  assert.equal(broken, [], 'broken links');
});

test.run();
