// The engine's errors name its options (`cluster.natsReplicas`, `threads`);
// a user of the CLI typed flags. Where the CLI hands a flag's value to the
// engine, an error about that value is retold with the flag's name, so that
// every CLI error names what the user can change on the command line.

import { CwasiError, Engine, type EngineOptions } from '../index.js';
import { OPTION_FLAGS } from './option-flags.js';

/** An engine option as its messages name it, and the flag that sets it. */
type Rename = readonly [option: string, flag: string];

/**
 * Dotted keys are renamed wherever they stand in a message; a bare key only
 * where it opens the message (`threads must be ...`), so that the word in
 * prose ("worker threads") is left alone.
 */
export const ENGINE_OPTION_FLAGS: readonly Rename[] = Object.entries(OPTION_FLAGS);

/** Whole messages the engine words without a key, as the CLI words them. */
const PHRASES: ReadonlyArray<readonly [RegExp, (m: RegExpExecArray) => string]> = [
  // The CLI has no flag for the secret itself: a file, or the variable.
  [/^cluster\.secret is missing: a cluster needs a secret \([^)]*\)$/, () => 'a cluster needs a secret (--secret-file or CWASI_SECRET)'],
  // The engine's pool bounds: the CLI sets min and max from one --threads.
  [/^threads must be whole numbers with 1 <= min <= max <= (\d+), got min (\d+), max \d+ \(invalid thread bounds\)$/, (m) => `--threads must be a whole number from 1 to ${m[1]}, got ${m[2]}`],
];

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** `message` with every option in `renames` named by its flag. */
export function inFlagTerms(message: string, renames: readonly Rename[] = ENGINE_OPTION_FLAGS): string {
  let text = message;
  for (const [re, say] of PHRASES) {
    const m = re.exec(text);
    if (m !== null) text = text.slice(0, m.index) + say(m) + text.slice(m.index + m[0].length);
  }
  for (const [option, flag] of renames) {
    const at = option.includes('.') || option.startsWith('-') ? '(?<![\\w.-])' : '^';
    text = text.replace(new RegExp(`${at}${escape(option)}(?![\\w.])`, 'g'), flag);
  }
  return text;
}

/** `err` retold in flag terms when it is a usage or input error about a value the CLI passed; else `err` itself. */
export function withFlagNames(err: unknown, renames: readonly Rename[] = ENGINE_OPTION_FLAGS): unknown {
  if (!(err instanceof CwasiError) || (err.code !== 'E_CONFIG' && err.code !== 'E_INPUT')) return err;
  const message = inFlagTerms(err.message, renames);
  return message === err.message ? err : new CwasiError(err.code, message, err.details, { cause: err });
}

/** Calls `fn`; an error it throws about an option is retold in flag terms. */
export async function flagTerms<T>(fn: () => T | Promise<T>, renames: readonly Rename[] = ENGINE_OPTION_FLAGS): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw withFlagNames(err, renames);
  }
}

/** Engine.create from flag values: its option errors name the flags. */
export function createEngine(options: EngineOptions): Promise<Engine> {
  return flagTerms(() => Engine.create(options));
}
