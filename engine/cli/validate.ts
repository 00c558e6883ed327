// `cwasi validate FILE...`: every file against the schema AND the graph rules
// that deploy enforces (edges name declared functions, no self-loop, no
// duplicate edge, no cycle, one sink or a named output), so that a file
// `validate` accepts is one `plan` and `run` accept as far as the document
// goes. Each file is reported; the exit code is 1 when any is invalid.

import { parseWorkflow } from '../index.js';
import { buildGraph } from '../workflow/graph.js';
import { readArg } from './files.js';
import { Reported, itemError, type Out } from './report.js';

export function cmdValidate(files: string[], out: Out): void {
  let invalid = 0;
  for (const file of files) {
    try {
      const doc = parseWorkflow(readArg(file, 'workflow file').toString('utf8'), file);
      const g = buildGraph(doc);
      out.out(`${file}: workflow "${doc.name}" is valid (${g.nodes.length} function${g.nodes.length === 1 ? '' : 's'}, ${g.edges.length} edge${g.edges.length === 1 ? '' : 's'}, output ${g.output})`);
    } catch (err) {
      invalid++;
      out.err(itemError(file, err));
    }
  }
  if (invalid === 0) return;
  const summary = `${invalid} of ${files.length} workflow files are invalid`;
  if (files.length > 1) out.err(summary);
  throw new Reported(1, summary);
}
