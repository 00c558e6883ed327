// Checking an options object against its scope's description (spec.ts): every
// key must be one the scope knows, and every value of the kind its option
// takes. A misspelt key (`thread` for `threads`) would otherwise be ignored
// without a word, leaving the default the caller meant to change, so it is
// refused naming the nearest known option.

import { CwasiError } from '../errors.js';
import { checkKind } from './kinds.js';
import { SCOPES, type OptionSpec, type ScopeName } from './spec.js';

interface ScopeIndex {
  readonly prefix: string;
  readonly byPath: ReadonlyMap<string, OptionSpec>;
  /** The keys each object of options takes, by the object's path ('' for the top). */
  readonly keys: ReadonlyMap<string, readonly string[]>;
}

function indexOf(scope: ScopeName): ScopeIndex {
  const { prefix, specs } = SCOPES[scope];
  const byPath = new Map<string, OptionSpec>();
  const keys = new Map<string, string[]>([['', []]]);
  for (const s of specs) {
    byPath.set(s.path, s);
    const dot = s.path.lastIndexOf('.');
    const parent = dot < 0 ? '' : s.path.slice(0, dot);
    const list = keys.get(parent) ?? [];
    list.push(s.path.slice(dot + 1));
    keys.set(parent, list);
  }
  return { prefix, byPath, keys };
}

const indexes = new Map<ScopeName, ScopeIndex>();
function scopeIndex(scope: ScopeName): ScopeIndex {
  let ix = indexes.get(scope);
  if (ix === undefined) indexes.set(scope, (ix = indexOf(scope)));
  return ix;
}

/** Edit distance between two short names, ignoring case (for "did you mean"). */
export function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1)));
    prev = row;
  }
  return prev[b.length]!;
}

/** Nearest of `names` to `key`, when near enough to be a misspelling. */
function nearestOf(key: string, names: readonly string[]): string | undefined {
  const best = [...names].sort((x, y) => distance(key, x) - distance(key, y))[0];
  return best !== undefined && distance(key, best) <= Math.max(2, key.length >> 2) ? best : undefined;
}

function unknownKey(ix: ScopeIndex, parent: string, key: string): CwasiError {
  const join = (p: string, k: string) => (p === '' ? k : `${p}.${k}`);
  const known = ix.keys.get(parent) ?? [];
  const option = ix.prefix + join(parent, key);
  // A sibling first; else an option of that name elsewhere (`ringBytes` given at the top for `local.ringBytes`).
  const sibling = nearestOf(key, known);
  const elsewhere = sibling === undefined ? [...ix.byPath.keys()].find((p) => p.split('.').pop()!.toLowerCase() === key.toLowerCase()) : undefined;
  const nearestPath = sibling !== undefined ? join(parent, sibling) : elsewhere;
  const hint = nearestPath !== undefined ? `; did you mean ${ix.prefix}${nearestPath}?` : '';
  return new CwasiError('E_CONFIG', `unknown option ${option}${hint} (the options: ${known.join(', ')})`,
    { option, ...(nearestPath !== undefined ? { nearest: sibling ?? nearestPath } : {}) });
}

/** Plain objects of options are walked; arrays, byte arrays, signals and functions are values. */
function isOptionsObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * Throws E_CONFIG for the first key of `options` (or of an options object
 * inside it) that the scope has no option for, naming the nearest that it
 * has, and for the first value not of its option's kind.
 */
export function checkOptions(options: unknown, scope: ScopeName): void {
  const ix = scopeIndex(scope);
  if (options === undefined) return;
  if (!isOptionsObject(options)) {
    throw new CwasiError('E_INVALID_ARG', `the ${SCOPES[scope].title} options must be an object, got ${options === null ? 'null' : typeof options}`, { argument: 'options' });
  }
  walk(ix, options, '');
}

function walk(ix: ScopeIndex, o: Record<string, unknown>, parent: string): void {
  const known = ix.keys.get(parent) ?? [];
  for (const key of Object.keys(o)) {
    if (!known.includes(key)) throw unknownKey(ix, parent, key);
    const path = parent === '' ? key : `${parent}.${key}`;
    const value = o[key];
    checkKind(ix.prefix + path, ix.byPath.get(path)!.kind, value);
    if (ix.keys.has(path) && isOptionsObject(value)) walk(ix, value, path);
  }
}
