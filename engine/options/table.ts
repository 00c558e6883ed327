// The options reference: one Markdown table per scope (path, type, default,
// meaning), written from spec.ts and OPTION_DEFAULTS. The README's table is
// this output (test/options-table.test.ts compares them); regenerate it with
// `node scripts/options-table.mjs`.

import { OPTION_DEFAULTS } from './defaults.js';
import { bytesText } from './kinds.js';
import { SCOPES, type OptionSpec, type ScopeName } from './spec.js';

/** The default OPTION_DEFAULTS holds for `path` in `scope`, or undefined. */
function defaultValue(scope: ScopeName, path: string): unknown {
  let v: unknown = (OPTION_DEFAULTS as Record<string, unknown>)[scope];
  for (const key of path.split('.')) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined;
  return v;
}

function defaultCell(scope: ScopeName, s: OptionSpec): string {
  if (s.defaultText !== undefined) return s.defaultText;
  const v = defaultValue(scope, s.path);
  if (v === undefined || (v !== null && typeof v === 'object')) return '';
  if (typeof v === 'string') return `\`${JSON.stringify(v)}\``;
  if (typeof v === 'number' && s.bytes === true) return `${v} (${bytesText(v)})`;
  return `\`${String(v)}\``;
}

/** Escapes what would end a Markdown table cell. */
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The Markdown table of one scope's options. */
export function optionsTable(scope: ScopeName = 'engine'): string {
  const rows = SCOPES[scope].specs.map((s) => {
    const rule = s.kind.plain === true ? '' : `; ${s.kind.rule}`;
    return `| \`${s.path}\` | \`${cell(s.kind.type)}\` | ${cell(defaultCell(scope, s))} | ${cell(s.meaning + rule)} |`;
  });
  return ['| option | type | default | meaning |', '|---|---|---|---|', ...rows].join('\n');
}
