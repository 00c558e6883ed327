#!/usr/bin/env node
// cwasi command line (built code lives in dist/; run `npm run build` after changing sources).
import { main } from '../dist/engine/cli/main.js';
import { readerGone } from '../dist/engine/cli/files.js';

// A reader that went away (`cwasi ... | head`) is not an error: the output
// stops, the command finishes what it started, closes its engine and exits
// with its own code. It does not exit from here: process.exit() while the
// engine's worker threads are alive can abort Node itself (SIGABRT, seen
// under load).
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (readerGone(err)) return;
    throw err;
  });
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
