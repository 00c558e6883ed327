// What a valid option value is: one Kind per shape of value (a whole number
// in a range, a positive number, one of a few words...). A kind knows the
// type shown in the options table, the rule an error states after "must be",
// and the test itself, so the three never disagree.

import { CwasiError } from '../errors.js';

export interface Kind {
  /** The type column of the options table, as TypeScript writes it. */
  readonly type: string;
  /** What a valid value is, completing "<path> must be …". */
  readonly rule: string;
  /** The type says all the rule does (the table leaves the rule out). */
  readonly plain?: boolean;
  valid(v: unknown): boolean;
}

/** How an error shows the value it refused: strings quoted, everything else as String() gives it. */
export function shown(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

/** E_CONFIG `<path> <problem>`, naming the option in details.option (the CLI maps it to its flag). */
export function optionError(path: string, problem: string): CwasiError {
  return new CwasiError('E_CONFIG', `${path} ${problem}`, { option: path });
}

/** Throws E_CONFIG `<path> must be <rule>, got <value>` unless `v` is of `kind` (undefined is always allowed: the default applies). */
export function checkKind(path: string, kind: Kind, v: unknown): void {
  if (v !== undefined && !kind.valid(v)) throw optionError(path, `must be ${kind.rule}, got ${shown(v)}`);
}

const GiB = 2 ** 30;
const MiB = 2 ** 20;
const KiB = 2 ** 10;

/** `n` as the table and errors write a size: 1 GiB, 16 MiB, 64 KiB, else the number. */
export function bytesText(n: number): string {
  for (const [unit, size] of [['GiB', GiB], ['MiB', MiB], ['KiB', KiB]] as const) {
    if (n >= size && n % size === 0) return `${n / size} ${unit}`;
  }
  return String(n);
}

const isWhole = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);

/** A whole number from `min` to `max`, of `unit` when given (`whole(1, 10, 'bytes')`). */
export function whole(min: number, max: number, unit = ''): Kind {
  return { type: 'number', rule: `a whole number${unit ? ` of ${unit}` : ''} from ${min} to ${max}`, valid: (v) => isWhole(v) && v >= min && v <= max };
}

/** A whole number from `min` up, or Infinity (for "never" / "none"). */
export function wholeOrInfinity(min: number, unit: string): Kind {
  return {
    type: 'number', rule: `a whole number of ${unit} (or Infinity) from ${min} to ${Number.MAX_SAFE_INTEGER}`,
    valid: (v) => v === Number.POSITIVE_INFINITY || (isWhole(v) && v >= min),
  };
}

/** An integer of at least 1 (counts and limits). */
export const positiveInt: Kind = { type: 'number', rule: 'a positive integer', valid: (v) => isWhole(v) && v >= 1 };

/** A finite number above zero (milliseconds, byte limits of the transport). */
export const positive: Kind = { type: 'number', rule: 'a positive number', valid: (v) => typeof v === 'number' && Number.isFinite(v) && v > 0 };

/** A deadline: a number of milliseconds above zero, or Infinity for none. */
export const deadline: Kind = {
  type: 'number', rule: 'a positive number of milliseconds (or Infinity for none)',
  valid: (v) => typeof v === 'number' && !Number.isNaN(v) && v > 0,
};

export const boolean: Kind = { type: 'boolean', rule: 'true or false', plain: true, valid: (v) => typeof v === 'boolean' };

export const string: Kind = { type: 'string', rule: 'a string', plain: true, valid: (v) => typeof v === 'string' };

/** A non-empty string. */
export const name: Kind = { type: 'string', rule: 'a non-empty string', plain: true, valid: (v) => typeof v === 'string' && v.length > 0 };

/** One of a few words. */
export function oneOf<const T extends readonly string[]>(...words: T): Kind {
  return {
    type: words.map((w) => `'${w}'`).join(' | '),
    rule: words.map((w) => `'${w}'`).join(words.length === 2 ? ' or ' : ', '),
    valid: (v) => typeof v === 'string' && words.includes(v),
  };
}

/** Bytes or text: a PEM, a secret. */
export const bytesOrString: Kind = {
  type: 'string | Uint8Array', rule: 'a string or a Uint8Array', plain: true, valid: (v) => typeof v === 'string' || v instanceof Uint8Array,
};

/** A PEM or several (TLS CAs). */
export const pemList: Kind = {
  type: 'string | Buffer | Array', rule: 'a string, a Buffer or an array of them',
  valid: (v) => bytesOrString.valid(v) || (Array.isArray(v) && v.every((x) => bytesOrString.valid(x))),
};

/** One URL or several (an array, or a comma-separated list). */
export const stringOrList: Kind = {
  type: 'string | string[]', rule: 'a URL string or an array of them', plain: true,
  valid: (v) => typeof v === 'string' || (Array.isArray(v) && v.every((x) => typeof x === 'string')),
};

/** A plain object of nested options. */
export const object: Kind = {
  type: 'object', rule: 'an object of options', plain: true,
  valid: (v) => v !== null && typeof v === 'object' && !Array.isArray(v),
};

/** A callback. */
export const fn: Kind = { type: 'function', rule: 'a function', plain: true, valid: (v) => typeof v === 'function' };
