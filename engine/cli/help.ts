// Small pieces every command's help uses.

import type { Command } from 'commander';

/** Puts `-h, --help` in the help group `cmd` has open (else it stands alone under "Options:", after every group). */
export function helpHere(cmd: Command): Command {
  return cmd.helpOption('-h, --help', 'show this help');
}

/** An "Examples:" footer, one command a line. */
export function examples(cmd: Command, lines: string[]): Command {
  return cmd.addHelpText('after', `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}`);
}
