// A module load hook (registered by hook-errors.mjs before uvu loads): uvu
// formats a failed test with `err.name.startsWith(...)`,
// `err.stack.indexOf(...)` and `err.details.split(...)` (its own assertions
// carry their diff as a string in `details`), so a test that throws something
// other than an Error (a plain object, a string), an Error whose name or stack
// is not a string, or an Error whose `details` is not a string -- every
// CwasiError that carries details ({ peer, streamId }, { node, reason }, ...)
// -- made the formatting throw inside uvu's runner, whose `finally` returns:
// the file showed "(0 / N)", no failure, and exit code 0. The patched `format`
// turns a non-Error into an Error that shows it, hands uvu a copy of such an
// Error it can format (its code and details shown), and falls back to a plain
// line when uvu's own formatting still throws.
const FORMAT = "function format(name, err, suite = '') {";

const WRAPPER = `
function notAnError(value) {
\tif (value instanceof Error) return formattable(value);
\tlet shown;
\ttry { shown = JSON.stringify(value); } catch { shown = undefined; }
\tconst e = new Error('the test threw a value that is not an Error: ' + (shown ?? String(value)));
\te.thrown = value;
\treturn e;
}
function formattable(err) {
\tconst { name, stack, details, operator } = err;
\t// A CwasiError is shown with its code (its message does not say it).
\tconst coded = name === 'CwasiError' && typeof err.code === 'string';
\tif (!coded && typeof name === 'string' && typeof stack === 'string'
\t\t&& (details === undefined || typeof details === 'string') && (operator === undefined || typeof operator === 'string')) return err;
\tlet shownDetails;
\tif (details !== undefined && typeof details !== 'string') {
\t\ttry { shownDetails = 'details: ' + JSON.stringify(details); } catch { shownDetails = 'details: ' + String(details); }
\t}
\tconst shownName = typeof name === 'string' ? name : 'Error';
\tconst message = (typeof err.code === 'string' ? err.code + ': ' : '') + String(err.message);
\treturn {
\t\tname: shownName,
\t\tmessage,
\t\tstack: typeof stack === 'string' ? stack : shownName + ': ' + message,
\t\tdetails: typeof details === 'string' ? details : shownDetails,
\t\toperator: typeof operator === 'string' ? operator : '',
\t};
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
