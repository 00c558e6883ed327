#!/usr/bin/env node
// Prints the options reference table, written from the engine's description
// of its options (engine/options/spec.ts), from the built dist/.
//
//   node scripts/options-table.mjs [engine|map|close|net]   print one scope's table (default engine)
//   node scripts/options-table.mjs --write                  replace the engine table between
//       <!-- options-table:start --> and <!-- options-table:end --> in README.md or docs/*.md
//
// Run `node build.mjs` first; test/options-table.test.ts fails while the
// document and the description differ.

import { readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const built = join(root, 'dist', 'engine', 'options', 'index.js');
if (!existsSync(built)) {
  process.stderr.write('dist/ is missing: run node build.mjs first\n');
  process.exit(1);
}
const { optionsTable, SCOPES } = await import(new URL(`file://${built}`).href);

const START = '<!-- options-table:start -->';
const END = '<!-- options-table:end -->';
const args = process.argv.slice(2);

if (args.includes('--write')) {
  const candidates = ['README.md', ...(existsSync(join(root, 'docs')) ? readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`) : [])];
  const file = candidates.find((f) => readFileSync(join(root, f), 'utf8').includes(START));
  if (file === undefined) {
    process.stderr.write(`no file holds ${START}\n`);
    process.exit(1);
  }
  const text = readFileSync(join(root, file), 'utf8');
  const start = text.indexOf(START) + START.length;
  const end = text.indexOf(END, start);
  if (end < 0) {
    process.stderr.write(`${file}: ${START} without ${END}\n`);
    process.exit(1);
  }
  writeFileSync(join(root, file), `${text.slice(0, start)}\n${optionsTable('engine')}\n${text.slice(end)}`);
  process.stdout.write(`${file}: options table written\n`);
} else {
  const scope = args[0] ?? 'engine';
  if (!(scope in SCOPES)) {
    process.stderr.write(`unknown scope ${scope} (one of ${Object.keys(SCOPES).join(', ')})\n`);
    process.exit(2);
  }
  process.stdout.write(`${optionsTable(scope)}\n`);
}
