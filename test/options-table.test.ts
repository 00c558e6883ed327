// The options reference in the documentation is the table written from the
// engine's one description of its options (engine/options/spec.ts), and that
// description has a row for every key of the option types: a new option
// without its row, or a default changed in code but not in the docs, fails here.
// Regenerate the document's table with `node scripts/options-table.mjs --write`.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { SCOPES, optionsTable, type ScopeName } from '../engine/options/index.js';
import { root } from './helpers/cli.js';

const START = '<!-- options-table:start -->';
const END = '<!-- options-table:end -->';

/** README.md, or the page of docs/ that holds the table's markers. */
function documentWithTable(): { file: string; text: string } {
  const docs = existsSync(join(root, 'docs')) ? readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`) : [];
  for (const file of ['README.md', ...docs]) {
    const text = readFileSync(join(root, file), 'utf8');
    if (text.includes(START)) return { file, text };
  }
  assert.unreachable(`no document holds ${START}`);
  throw new Error('unreachable');
}

test('the documented options table is the one written from the description', () => {
  const { file, text } = documentWithTable();
  const start = text.indexOf(START) + START.length;
  const end = text.indexOf(END, start);
  assert.ok(end > start, `${file}: ${END} after ${START}`);
  assert.is(text.slice(start, end).trim(), optionsTable('engine'), `${file}'s options table differs: run node scripts/options-table.mjs --write`);
});

function interfaceMembers(path: string, name: string): string[] {
  const sf = ts.createSourceFile(path, readFileSync(join(root, path), 'utf8'), ts.ScriptTarget.ES2022, true);
  let found: ts.InterfaceDeclaration | undefined;
  const visit = (n: ts.Node) => {
    if (ts.isInterfaceDeclaration(n) && n.name.text === name) found = n;
    ts.forEachChild(n, visit);
  };
  visit(sf);
  assert.ok(found, `${name} in ${path}`);
  return found!.members.flatMap((m) => (m.name !== undefined && ts.isIdentifier(m.name) ? [m.name.text] : [])).sort();
}

const TYPES: Array<[ScopeName, string, string, string]> = [
  ['engine', '', 'engine/engine.ts', 'EngineOptions'],
  ['engine', 'cluster', 'engine/cluster/member.ts', 'ClusterOptions'],
  ['engine', 'cluster.natsAuth', 'engine/cluster/nats-auth.ts', 'NatsAuthOptions'],
  ['engine', 'cluster.tls', 'engine/net/options.ts', 'NetTlsOptions'],
  ['map', '', 'engine/batch/map.ts', 'MapOptions'],
  ['close', '', 'engine/close.ts', 'CloseOptions'],
  ['net', '', 'engine/net/options.ts', 'NetTransportOptions'],
];

for (const [scope, parent, file, iface] of TYPES) {
  test(`${iface}: every key has its row in the ${scope} description, and no row is without its key`, () => {
    const described = SCOPES[scope].specs.map((s) => s.path)
      .filter((p) => (parent === '' ? !p.includes('.') : p.startsWith(`${parent}.`) && !p.slice(parent.length + 1).includes('.')))
      .map((p) => (parent === '' ? p : p.slice(parent.length + 1))).sort();
    assert.equal(described, interfaceMembers(file, iface));
  });
}

test('the table script prints the same table', async () => {
  const { execFileSync } = await import('node:child_process');
  const out = execFileSync(process.execPath, [join(root, 'scripts', 'options-table.mjs'), 'map'], { encoding: 'utf8' });
  assert.is(out.trim(), optionsTable('map'));
  assert.match(out, /\| `concurrency` \|/);
});

test.run();
