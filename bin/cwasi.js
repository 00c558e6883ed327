#!/usr/bin/env node
// cwasi command line (built code lives in dist/; run `npm run build` after changing sources).
import { main } from '../dist/engine/cli/main.js';

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
