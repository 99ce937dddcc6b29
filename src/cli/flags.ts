import { parseArgs } from 'node:util';
import { CliUsageError } from './usage-error.js';

/** How one flag is read: as text, a repeatable list, or a switch. */
export type FlagKind = 'string' | 'list' | 'boolean';

/** The flags a command accepts, by long name (without `--`). */
export type FlagSpec = Readonly<Record<string, FlagKind>>;

/** One parsed flag value (node:util's parseArgs shape). */
export type FlagValue = string | boolean | (string | boolean)[] | undefined;

/** What was parsed: flag values by long name, then the positional arguments. */
export interface ParsedFlags {
  readonly values: Readonly<Record<string, FlagValue>>;
  readonly positionals: readonly string[];
}

/** Most arguments one invocation may carry; anything longer is a mistake or an attack. */
const MAX_ARGUMENTS = 256;

/**
 * Parses `argv` against `spec` strictly: unknown flags, a missing value, or a value
 * given to a switch are `CliUsageError`s naming the flag, never a stack trace.
 */
export function parseFlags(argv: readonly string[], spec: FlagSpec): ParsedFlags {
  if (argv.length > MAX_ARGUMENTS) {
    throw new CliUsageError(`too many arguments (${argv.length}; at most ${MAX_ARGUMENTS})`);
  }
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = {};
  for (const [name, kind] of Object.entries(spec)) {
    options[name] =
      kind === 'list'
        ? { type: 'string', multiple: true }
        : { type: kind === 'boolean' ? 'boolean' : 'string' };
  }
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      options,
      strict: true,
      allowPositionals: true,
    });
    return { values, positionals };
  } catch (error) {
    throw new CliUsageError(describeParseError(error));
  }
}

/** node:util's messages are long and mention parseArgs; keep the part a user needs. */
function describeParseError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const flag = /'(-{1,2}[^' ]+)/.exec(message)?.[1];
  if (flag !== undefined) {
    if (message.includes('argument missing')) return `${flag} needs a value`;
    if (message.includes('argument is ambiguous')) {
      return `${flag} needs a value (write ${flag}=VALUE for a value that starts with -)`;
    }
    if (message.includes('does not take an argument')) return `${flag} takes no value`;
    if (message.startsWith('Unknown option')) {
      const hint = /^-\d/.test(flag) ? ' (put -- before a value that starts with -)' : '';
      return `unknown flag "${flag}"${hint}`;
    }
  }
  const firstSentence = message.split('. ')[0] ?? message;
  return firstSentence.replace(/^Unknown option/, 'unknown flag').replace(/'/g, '"');
}

/** Reads a flag that must be a whole number within bounds. */
export function integerFlag(
  values: ParsedFlags['values'],
  name: string,
  min: number,
  max: number,
): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string') throw new CliUsageError(`--${name} takes one value`);
  return parseInteger(raw, `--${name}`, min, max);
}

/**
 * Reads a whole number within bounds; `label` says where it came from (`--port`, or a
 * config file's key) so the error points at the mistake.
 */
export function parseInteger(text: string, label: string, min: number, max: number): number {
  if (!/^-?\d+$/.test(text)) {
    throw new CliUsageError(`${label} must be a whole number, got "${text}"`);
  }
  const value = Number(text);
  if (value < min || value > max) {
    throw new CliUsageError(`${label} must be between ${min} and ${max}, got ${value}`);
  }
  return value;
}

/** Reads a text flag. */
export function stringFlag(values: ParsedFlags['values'], name: string): string | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string') throw new CliUsageError(`--${name} takes one value`);
  return raw;
}

/** Reads a repeatable flag; each occurrence may also hold a comma-separated list. */
export function listFlag(values: ParsedFlags['values'], name: string): string[] {
  const raw = values[name];
  if (raw === undefined) return [];
  const items = typeof raw === 'string' ? [raw] : Array.isArray(raw) ? raw : [];
  return items
    .flatMap((item) => String(item).split(','))
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}
