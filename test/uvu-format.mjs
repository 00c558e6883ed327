// A module load hook (registered by hook-errors.mjs before uvu loads): uvu
// formats a failed test with `err.name.startsWith(...)` and
// `err.stack.indexOf(...)`, so a test that throws something other than an
// Error (a plain object, a string), or an Error whose name or stack is not a
// string, made the formatting throw inside uvu's runner, whose `finally`
// returns: the file showed "(0 / N)", no failure, and exit code 0. The
// patched `format` turns a non-Error into an Error that shows it, and falls
// back to a plain line when uvu's own formatting still throws.
const FORMAT = "function format(name, err, suite = '') {";

const WRAPPER = `
function notAnError(value) {
\tif (value instanceof Error) return value;
\tlet shown;
\ttry { shown = JSON.stringify(value); } catch { shown = undefined; }
\tconst e = new Error('the test threw a value that is not an Error: ' + (shown ?? String(value)));
\te.thrown = value;
\treturn e;
}
function format(name, err, suite = '') {
\ttry {
\t\treturn formatByUvu(name, notAnError(err), suite);
\t} catch (failure) {
\t\tlet shown;
\t\ttry { shown = String(err && err.message !== undefined ? err.message : err); } catch { shown = '(unprintable)'; }
\t\treturn '  FAIL ' + (suite ? suite + ' ' : '') + '"' + name + '"\\n    ' + shown + '\\n    (uvu could not format it: ' + String(failure) + ')\\n';
\t}
}
`;

export async function load(url, context, nextLoad) {
  const loaded = await nextLoad(url, context);
  if (!/\/uvu\/dist\/index\.mjs$/.test(url) || loaded.source == null) return loaded;
  const source = String(loaded.source);
  if (!source.includes(FORMAT)) return loaded;
  return { ...loaded, source: source.replace(FORMAT, "function formatByUvu(name, err, suite = '') {") + WRAPPER };
}
