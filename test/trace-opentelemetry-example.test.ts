// examples/opentelemetry: run as a user would after `npm install` in the
// example's folder (cwasi and the OpenTelemetry packages in its node_modules),
// its spans form one trace: the application's span, cwasi's invocation under
// it, one span per edge under that, with cwasi's ids and attributes.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const root = fileURLToPath(new URL('../..', import.meta.url));

test('the OpenTelemetry example prints one trace: request → invocation → two edges', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cwasi-otel-'));
  try {
    cpSync(join(root, 'examples', 'opentelemetry'), dir, { recursive: true });
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(root, join(dir, 'node_modules', 'cwasi'), 'dir');
    symlinkSync(join(root, 'node_modules', '@opentelemetry'), join(dir, 'node_modules', '@opentelemetry'), 'dir');
    const r = spawnSync(process.execPath, ['demo.mjs'], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
    assert.is(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim().split('\n'), [
      'handle request',
      '  cwasi invoke pipeline',
      '    cwasi chained producer → transform [embedded] 65536 bytes',
      '    cwasi chained transform → checksum [local] 65536 bytes',
      'trace ids: 1, spans: 4',
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
