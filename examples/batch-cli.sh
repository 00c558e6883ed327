#!/bin/sh
# Batch pipelines from the command line (run from the repository root after npm install).
set -e
mkdir -p /tmp/cwasi-batch/in
for i in 1 2 3 4 5; do head -c 100000 /dev/urandom > /tmp/cwasi-batch/in/part-$i.bin; done

# A folder in, one result file per input out (<out>/<key>.out), written atomically.
node bin/cwasi.js run examples/batch.json --batch /tmp/cwasi-batch/in --out /tmp/cwasi-batch/out

# Run again after an interruption: inputs whose result exists are skipped.
node bin/cwasi.js run examples/batch.json --batch /tmp/cwasi-batch/in --out /tmp/cwasi-batch/out --resume

# A glob, results as lines on stdout, the summary as JSON.
node bin/cwasi.js run examples/batch.json --batch '/tmp/cwasi-batch/in/part-[12].bin' --json

# Records on stdin: one per line, or u32 little-endian length-prefixed (--framing length).
printf 'first record\nsecond record\n' | node bin/cwasi.js run checksum --batch -
