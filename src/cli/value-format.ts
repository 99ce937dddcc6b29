import { CliUsageError } from './usage-error.js';

/** What `get` prints for a missing key (redis-cli's spelling). */
export const NIL = '(nil)';

/**
 * How a value read from the cluster is printed: strings as they are (so
 * `$(shoal get k)` is the value), bytes (what Redis clients write through the RESP
 * port) as UTF-8 text, anything else as JSON. With `json`, strings and bytes are
 * printed as JSON too, so a script can tell the string "1" from the number 1.
 */
export function formatValue(value: unknown, json: boolean): string {
  if (typeof value === 'string' && !json) return value;
  if (value instanceof Uint8Array && !json) return Buffer.from(value).toString('utf8');
  return JSON.stringify(value, jsonReplacer) ?? String(value);
}

/**
 * How a value given on the command line is stored: as the string it is, or with
 * `json`, parsed as JSON (`42`, `true`, `{"a":1}`).
 */
export function parseValue(text: string, json: boolean): unknown {
  if (!json) return text;
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new CliUsageError(
      `--json: VALUE is not valid JSON (${error instanceof Error ? error.message : String(error)})`,
    );
  }
}

/** msgpackr can hand back bigints; JSON has no such type, so they print as digits. */
function jsonReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
