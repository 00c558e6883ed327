// The API reference (docs/api.md) covers every export of the package entry
// (engine/index.ts) and of its subpath exports (`cwasi/primitives`,
// engine/primitives.ts; `cwasi/workloads`, engine/workloads.ts): each exported
// name, each public member of Engine, each EngineOptions and InvokeOptions
// field and each workloads helper appears in it, in any section.
// The lists come from the sources (parsed with the TypeScript compiler), so
// a new export without documentation fails here.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import * as api from '../engine/index.js';
import * as primitives from '../engine/primitives.js';
import * as workloads from '../engine/workloads.js';
import { root } from './helpers/cli.js';

const apiSection = readFileSync(join(root, 'docs', 'api.md'), 'utf8');

function source(path: string): ts.SourceFile {
  return ts.createSourceFile(path, readFileSync(join(root, path), 'utf8'), ts.ScriptTarget.ES2022, true);
}

/** Every name an entry module (engine/index.ts, engine/primitives.ts) exports, values and types. */
function exportedNames(entry: string): string[] {
  const names: string[] = [];
  for (const st of source(entry).statements) {
    if (!ts.isExportDeclaration(st) || st.exportClause === undefined) continue;
    if (ts.isNamedExports(st.exportClause)) for (const e of st.exportClause.elements) names.push(e.name.text);
    else names.push(st.exportClause.name.text);
  }
  return names;
}

function members(path: string, match: (node: ts.Node) => node is ts.ClassDeclaration | ts.InterfaceDeclaration, name: string): string[] {
  let found: ts.ClassDeclaration | ts.InterfaceDeclaration | undefined;
  const visit = (n: ts.Node) => {
    if (match(n) && n.name?.text === name) found = n;
    ts.forEachChild(n, visit);
  };
  visit(source(path));
  assert.ok(found, `${name} in ${path}`);
  const out: string[] = [];
  for (const m of found!.members) {
    const mods = ts.canHaveModifiers(m) ? ts.getModifiers(m) ?? [] : [];
    if (mods.some((x) => x.kind === ts.SyntaxKind.PrivateKeyword || x.kind === ts.SyntaxKind.ProtectedKeyword)) continue;
    if (ts.isConstructorDeclaration(m) || m.name === undefined || !ts.isIdentifier(m.name)) continue;
    const isStatic = mods.some((x) => x.kind === ts.SyntaxKind.StaticKeyword);
    out.push(`${isStatic ? 'static ' : ''}${m.name.text}`);
  }
  return out;
}

const code = (s: string) => apiSection.includes(`\`${s}`);

for (const [entry, mod] of [['engine/index.ts', api], ['engine/primitives.ts', primitives]] as const) {
  test(`every export of ${entry} is in the API reference`, () => {
    const names = exportedNames(entry);
    assert.ok(names.length > 20, `found ${names.length} exports`);
    // The parse agrees with the module's runtime values.
    for (const v of Object.keys(mod)) assert.ok(names.includes(v), `runtime export ${v} is parsed`);
    const missing = names.filter((n) => !code(n) && !apiSection.includes(`${n}\``));
    assert.equal(missing, [], `undocumented exports: ${missing.join(', ')}`);
  });
}

test('the subpath exports are named in the API reference', () => {
  for (const subpath of ['cwasi/primitives', 'cwasi/workloads']) assert.ok(code(subpath), `${subpath} is documented`);
});

test('every public member of Engine is in the API reference', () => {
  const ms = members('engine/engine.ts', ts.isClassDeclaration, 'Engine');
  assert.ok(ms.includes('static create') && ms.includes('invoke'));
  const missing = ms.filter((m) => (m.startsWith('static ') ? !code(`Engine.${m.slice(7)}(`) : !code(`engine.${m}(`) && !code(`engine.${m}\``)));
  assert.equal(missing, [], `undocumented Engine members: ${missing.join(', ')}`);
});

test('every EngineOptions and InvokeOptions field is in the API reference', () => {
  for (const [file, iface] of [['engine/engine.ts', 'EngineOptions'], ['engine/dispatch/types.ts', 'InvokeOptions']] as const) {
    // A bullet (`- \`field\``) or a table row (`| \`field\` |`).
    const missing = members(file, ts.isInterfaceDeclaration, iface).filter((f) => !apiSection.includes(`- \`${f}\``) && !apiSection.includes(`| \`${f}\` |`));
    assert.equal(missing, [], `undocumented ${iface} fields: ${missing.join(', ')}`);
  }
});

test('every workloads helper is in the API reference', () => {
  // Functions are documented with their call (`workloads.name(`), constants by name (`workloads.NAME`).
  const missing = Object.keys(workloads).filter((n) => !code(`workloads.${n}(`) && !apiSection.includes(`\`workloads.${n}\``));
  assert.equal(missing, [], `undocumented workloads helpers: ${missing.join(', ')}`);
});

test.run();
