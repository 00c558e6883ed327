#!/usr/bin/env node
// cwasi command line (built code lives in dist/; run `npm run build` after changing sources).
import { main } from '../dist/engine/cli/main.js';

// A reader that went away (`cwasi ... | head`) is not an error: stop quietly.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
