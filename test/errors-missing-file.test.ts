// A missing file is one code, E_IO, and exit 1, whichever command or call
// names it. Before: E_IO (run), E_WASM_MISSING (inspect, run of a .wasm),
// E_CONFIG exit 2 (build, node --secret-file, --nats-pass-file) and
// E_WORKFLOW_INVALID (deployFile).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../engine/index.js';
import { cwasi } from './helpers/cli.js';
import { rejectsWith } from './helpers/assert-error.js';
import { closeEngine } from './helpers/settle.js';
import { NATS_URL } from './helpers/env.js';

const gone = join(mkdtempSync(join(tmpdir(), 'cwasi-missing-')), 'nowhere');

const cases: Array<[string, string[]]> = [
  ['run (workflow)', ['run', `${gone}/flow.json`]],
  ['run (module)', ['run', `${gone}/m.wasm`]],
  ['build', ['build', `${gone}/f.ts`]],
  ['inspect', ['inspect', `${gone}/m.wasm`]],
  ['node --secret-file', ['node', '--nats', NATS_URL, '--secret-file', `${gone}/secret`]],
  ['node --nats-pass-file', ['node', '--nats', NATS_URL, '--nats-user', 'u', '--nats-pass-file', `${gone}/pass`, '--secret-file', `${gone}/secret`]],
];

for (const [what, args] of cases) {
  test(`cwasi ${what} with a missing file: E_IO, exit 1`, async () => {
    const r = await cwasi(...args);
    assert.is(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`error E_IO: .*${gone.replace(/[/.]/g, '\\$&')}`));
  });
}

test('deployFile with a missing file: E_IO naming it', async () => {
  const engine = await Engine.create({ threads: 1 });
  try {
    const err = await rejectsWith(engine.deployFile(`${gone}/flow.json`), 'E_IO', /cannot read workflow .*nowhere\/flow\.json: ENOENT/);
    assert.equal(err.details, { file: `${gone}/flow.json` });
  } finally {
    await closeEngine(engine);
  }
});

test.run();
