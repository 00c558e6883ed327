// Every type the public API mentions can be named by its users: walking the
// types of what `cwasi`, `cwasi/primitives` and `cwasi/workloads` export
// (members, parameters, return types, type arguments, the type names written
// in their declarations), each interface, type alias, class or enum declared
// in engine/ that is reached is exported by one of those entries. Private
// members and those marked @internal are not public and are not walked.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join, relative, sep } from 'node:path';
import ts from 'typescript';
import { root } from './helpers/cli.js';

const ENTRIES = ['engine/index.ts', 'engine/primitives.ts', 'engine/workloads.ts'];
const engineDir = join(root, 'engine') + sep;
const ambientDir = join(root, 'engine', 'types') + sep;

const config = ts.getParsedCommandLineOfConfigFile(join(root, 'engine', 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
assert.ok(config, 'engine/tsconfig.json parses');
const program = ts.createProgram(config!.fileNames, config!.options);
const checker = program.getTypeChecker();

const resolve = (s: ts.Symbol): ts.Symbol => (s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s);
const exportsOf = (entry: string): ts.Symbol[] => {
  const sf = program.getSourceFile(join(root, entry));
  assert.ok(sf, `${entry} is in the engine's program`);
  return checker.getExportsOfModule(checker.getSymbolAtLocation(sf!)!).map(resolve);
};
const exported = new Set(ENTRIES.flatMap(exportsOf));

const NAMED = ts.SymbolFlags.Interface | ts.SymbolFlags.TypeAlias | ts.SymbolFlags.Class | ts.SymbolFlags.Enum;
const isOurs = (d: ts.Node): boolean => {
  const f = d.getSourceFile().fileName;
  return f.startsWith(engineDir) && !f.startsWith(ambientDir);
};
const hidden = (d: ts.Node): boolean =>
  (ts.canHaveModifiers(d) && (ts.getModifiers(d) ?? []).some((m) => m.kind === ts.SyntaxKind.PrivateKeyword || m.kind === ts.SyntaxKind.ProtectedKeyword))
  || ts.getJSDocTags(d).some((t) => t.tagName.text === 'internal');

/** Declared in engine/ and not exported: name → where it is declared and the path that reached it. */
function unexportedTypes(entry: string, known: ReadonlySet<ts.Symbol> = exported): Map<string, string> {
  const missing = new Map<string, string>();
  const seen = new Set<ts.Type>();
  const named = (sym: ts.Symbol | undefined, via: string): void => {
    if (sym === undefined) return;
    sym = resolve(sym);
    const d = sym.declarations?.[0];
    if (!(sym.flags & NAMED) || d === undefined || !isOurs(d) || known.has(sym) || missing.has(sym.name)) return;
    missing.set(sym.name, `${relative(root, d.getSourceFile().fileName)}, reached by ${via}`);
  };
  // A union alias (`LocalTransport | undefined` of an optional field) is lost from the type: read the annotation too.
  const written = (decl: ts.Node, via: string): void => {
    const walk = (n: ts.Node): void => {
      if (ts.isTypeReferenceNode(n)) named(checker.getSymbolAtLocation(n.typeName), via);
      if (!ts.isBlock(n)) ts.forEachChild(n, walk);
    };
    ts.forEachChild(decl, walk);
  };
  const visit = (type: ts.Type, via: string): void => {
    if (seen.has(type)) return;
    seen.add(type);
    named(type.aliasSymbol, via);
    for (const a of type.aliasTypeArguments ?? []) visit(a, via);
    const sym = type.getSymbol();
    named(sym, via);
    if (type.isUnionOrIntersection()) for (const t of type.types) visit(t, via);
    if (type.flags & ts.TypeFlags.Object && (type as ts.ObjectType).objectFlags & ts.ObjectFlags.Reference) {
      for (const a of checker.getTypeArguments(type as ts.TypeReference)) visit(a, via);
    }
    // Promise<T>, Record<K, V>: their arguments are walked above, their members are not ours.
    const decl = sym?.declarations?.[0];
    if (decl !== undefined && !isOurs(decl) && !sym!.name.startsWith('__')) return;
    for (const p of checker.getPropertiesOfType(type)) {
      const pd = p.valueDeclaration ?? p.declarations?.[0];
      if (p.name.startsWith('__#') || (pd !== undefined && hidden(pd))) continue;
      if (pd !== undefined) written(pd, `${via}.${p.name}`);
      visit(checker.getTypeOfSymbol(p), `${via}.${p.name}`);
    }
    for (const kind of [ts.SignatureKind.Call, ts.SignatureKind.Construct]) {
      for (const sig of checker.getSignaturesOfType(type, kind)) {
        if (sig.declaration !== undefined && hidden(sig.declaration)) continue;
        for (const p of sig.getParameters()) visit(checker.getTypeOfSymbol(p), `${via}(${p.name})`);
        visit(sig.getReturnType(), `${via}()`);
        if (sig.declaration !== undefined) written(sig.declaration, `${via}()`);
      }
    }
    for (const info of checker.getIndexInfosOfType(type)) visit(info.type, `${via}[]`);
  };
  for (const s of exportsOf(entry)) {
    if (s.flags & ts.SymbolFlags.Value) visit(checker.getTypeOfSymbol(s), s.name);
    if (s.flags & NAMED) visit(checker.getDeclaredTypeOfSymbol(s), s.name);
  }
  return missing;
}

for (const entry of ENTRIES) {
  test(`every type ${entry} mentions is exported`, () => {
    const missing = unexportedTypes(entry);
    assert.equal([...missing].map(([n, where]) => `${n} (${where})`), []);
  });
}

test('the walk finds what it looks for: Engine reaches EngineOptions, GuestCallLimits and ClusterStats', () => {
  const missing = unexportedTypes('engine/index.ts', new Set());
  for (const name of ['EngineOptions', 'GuestCallLimits', 'LocalTransport', 'ClusterStats', 'NetStats', 'HeapStats']) {
    assert.ok(missing.has(name), `${name} is reached`);
  }
});

test.run();
