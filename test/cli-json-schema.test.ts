// Every JSON document the CLI prints opens with `schemaVersion` (engine/cli/json.ts):
// `build --json` and `inspect --json` included, through the real binary.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JSON_SCHEMA_VERSION } from '../engine/cli/json.js';
import { cwasi, root } from './helpers/cli.js';
import { taggingSource } from './helpers/user-functions.js';

const tmp = mkdtempSync(join(tmpdir(), 'cwasi-json-'));

function firstKey(stdout: string): [string, unknown] {
  const doc = JSON.parse(stdout) as Record<string, unknown>;
  const [k] = Object.keys(doc);
  return [k!, doc[k!]];
}

test.after(() => {
  rmSync(tmp, { recursive: true, force: true });
});

test('inspect --json opens with schemaVersion', async () => {
  const r = await cwasi('inspect', join(root, 'dist', 'functions', 'identity.wasm'), '--json');
  assert.is(r.code, 0, r.stderr);
  assert.equal(firstKey(r.stdout), ['schemaVersion', JSON_SCHEMA_VERSION]);
});

test('build --json opens with schemaVersion', async () => {
  writeFileSync(join(tmp, 'tag.ts'), taggingSource('tag'));
  const r = await cwasi('build', join(tmp, 'tag.ts'), '--out', join(tmp, 'out'), '--json');
  assert.is(r.code, 0, r.stderr);
  assert.equal(firstKey(r.stdout), ['schemaVersion', JSON_SCHEMA_VERSION]);
});

test.run();
