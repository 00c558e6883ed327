// Every JSON document the CLI writes (`run --json`, `plan --json`,
// `functions --json`, `bench --json`, `build --json`, `inspect --json`,
// `batch --json`) opens with `schemaVersion`. It counts
// incompatible changes of those documents: a field renamed, removed or given
// another unit or shape raises it; a field added does not.
export const JSON_SCHEMA_VERSION = 1;

/** `doc` as pretty JSON with `schemaVersion` first. */
export function jsonDocument(doc: object): string {
  return JSON.stringify({ schemaVersion: JSON_SCHEMA_VERSION, ...doc }, null, 2);
}
