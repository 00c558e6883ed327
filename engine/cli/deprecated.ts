// Old spellings of CLI flags. Each still works, is hidden from the help, and
// prints one line on stderr naming its new spelling; scripts written for an
// earlier cwasi keep running while they are updated.
//
//   cwasi run   --output <file>     → --out <file>
//   cwasi run   --inputs <spec>     → --batch <spec>
//   cwasi bench --executions <n>    → --repeat <n>
//   cwasi bench --json <file>       → --json (the report on stdout) or --out <dir>
//
// The first three are hidden commander options read back in a preAction hook.
// `--json <file>` cannot be one: `--json` is a switch everywhere now, and a
// switch followed by a file name is only told apart from it before commander
// parses (legacyBenchJson).

import { Option, type Command } from 'commander';
import { CwasiError } from '../errors.js';

/** The camel-case key commander stores `--some-flag` under. */
function keyOf(long: string): string {
  return long.replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** The line printed when an old spelling is used. */
export function deprecationLine(old: string, use: string): string {
  return `warning: ${old} is deprecated; use ${use}`;
}

/**
 * Adds `oldFlags` (e.g. '--output <file>') to `cmd` as a hidden spelling of the
 * visible option `current` (e.g. '--out'): given, it warns once through `warn`
 * and its value becomes `current`'s. Both given is E_CONFIG.
 */
export function addRenamedFlag(cmd: Command, oldFlags: string, current: string, warn: (line: string) => void): Command {
  const old = new Option(oldFlags).hideHelp();
  const oldKey = old.attributeName();
  const newKey = keyOf(current);
  cmd.addOption(old);
  return cmd.hook('preAction', (c) => {
    if (c.getOptionValueSource(oldKey) !== 'cli') return;
    warn(deprecationLine(old.long!, current));
    if (c.getOptionValueSource(newKey) === 'cli') {
      throw new CwasiError('E_CONFIG', `${old.long} is the old spelling of ${current}: give ${current} only`);
    }
    c.setOptionValueWithSource(newKey, c.getOptionValue(oldKey), 'cli');
    c.setOptionValue(oldKey, undefined);
  });
}

/** The hidden `cwasi bench` option that `--json <file>` becomes. */
export const LEGACY_BENCH_JSON = '--legacy-json-file';

/**
 * `cwasi bench ... --json <file>` (or `--json=<file>`), the old form, becomes
 * `--legacy-json-file <file>` with a warning; `--json` followed by an option,
 * by a benchmark name or by nothing is the switch and stays. Other commands'
 * arguments are returned as they are.
 */
export function legacyBenchJson(argv: readonly string[], benches: readonly string[], warn: (line: string) => void): string[] {
  const command = argv.findIndex((a) => !a.startsWith('-'));
  if (command < 0 || argv[command] !== 'bench') return [...argv];
  const out = argv.slice(0, command + 1);
  for (let i = command + 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    let file: string | undefined;
    if (a.startsWith('--json=')) file = a.slice('--json='.length);
    else if (a === '--json' && i + 1 < argv.length && !argv[i + 1]!.startsWith('-') && !benches.includes(argv[i + 1]!)) file = argv[++i];
    if (file === undefined) {
      out.push(a);
      continue;
    }
    warn(deprecationLine('--json <file>', '--json > <file> (the report on stdout) or --out <dir>'));
    out.push(LEGACY_BENCH_JSON, file);
  }
  return out;
}
