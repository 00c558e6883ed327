// A module load hook (registered by hook-errors.mjs before uvu loads): uvu
// formats a failed test with `err.name.startsWith(...)`, so a test that
// throws something other than an Error (a plain object, a string) made the
// formatting throw inside uvu's runner, whose `finally` returns: the file
// showed "(0 / N)", no failure, and exit code 0. The patched `format` turns
// such a value into an Error that shows it.
const FORMAT = "function format(name, err, suite = '') {";

const NOT_AN_ERROR = `
function notAnError(value) {
\tlet shown;
\ttry { shown = JSON.stringify(value); } catch { shown = undefined; }
\tconst e = new Error('the test threw a value that is not an Error: ' + (shown ?? String(value)));
\te.thrown = value;
\treturn e;
}
`;

export async function load(url, context, nextLoad) {
  const loaded = await nextLoad(url, context);
  if (!/\/uvu\/dist\/index\.mjs$/.test(url) || loaded.source == null) return loaded;
  const source = String(loaded.source);
  if (!source.includes(FORMAT)) return loaded;
  return { ...loaded, source: source.replace(FORMAT, `${FORMAT}\n\tif (!(err instanceof Error)) err = notAnError(err);`) + NOT_AN_ERROR };
}
