import type { LogFields, Logger } from '../util/logger.js';
import { CliUsageError } from './usage-error.js';

/** The levels `--log-level` accepts, least severe first. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/** One of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** What replaces a secret wherever it would have been written. */
export const REDACTED = '[redacted]';

/** Field names whose values are never written, whatever they hold. */
const SECRET_FIELD_PATTERN = /secret|password|passphrase|token|credential|private.?key/i;
/** Longest string written for one field; log lines stay lines, not dumps. */
const MAX_FIELD_CHARS = 2_000;
/** Deepest nesting of field objects written; deeper values are summarised. */
const MAX_FIELD_DEPTH = 4;
/** Most entries written per object or array field. */
const MAX_FIELD_ENTRIES = 50;

/** Reads `--log-level`. */
export function parseLogLevel(text: string): LogLevel {
  const level = LOG_LEVELS.find((candidate) => candidate === text);
  if (level === undefined) {
    throw new CliUsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got "${text}"`);
  }
  return level;
}

/** Where a {@link JsonLogger} writes one finished line (default: standard error). */
export type LineSink = (line: string) => void;

/**
 * A `Logger` that writes one JSON object per line (`time`, `level`, `msg`, then the
 * fields), so log shippers can read it without parsing prose.
 *
 * Secrets never reach the output: fields with secret-like names are replaced, and
 * every occurrence of the secrets it was given is scrubbed from messages and field
 * values, so a library message that quotes one by accident still cannot leak it.
 */
export class JsonLogger implements Logger {
  private readonly threshold: number;
  private readonly secrets: readonly string[];
  private readonly sink: LineSink;
  private readonly now: () => Date;

  constructor(
    level: LogLevel,
    options: { secrets?: readonly string[]; sink?: LineSink; now?: () => Date } = {},
  ) {
    this.threshold = LOG_LEVELS.indexOf(level);
    // Scrubbing a 1-character secret would shred every line; such a secret is refused
    // long before (the CLI asks for at least 8 bytes), so short ones are simply skipped.
    this.secrets = (options.secrets ?? []).filter((secret) => secret.length >= 4);
    this.sink = options.sink ?? ((line) => process.stderr.write(`${line}\n`));
    this.now = options.now ?? (() => new Date());
  }

  debug(message: string, fields?: LogFields): void {
    this.write('debug', message, fields);
  }

  info(message: string, fields?: LogFields): void {
    this.write('info', message, fields);
  }

  warn(message: string, fields?: LogFields): void {
    this.write('warn', message, fields);
  }

  error(message: string, fields?: LogFields): void {
    this.write('error', message, fields);
  }

  private write(level: LogLevel, message: string, fields: LogFields | undefined): void {
    if (LOG_LEVELS.indexOf(level) < this.threshold) return;
    const record: Record<string, unknown> = {
      time: this.now().toISOString(),
      level,
      msg: this.scrub(String(message)),
    };
    for (const [name, value] of Object.entries(fields ?? {})) {
      if (name === 'time' || name === 'level' || name === 'msg') continue;
      record[name] = SECRET_FIELD_PATTERN.test(name) ? REDACTED : this.plain(value, 0);
    }
    this.sink(JSON.stringify(record));
  }

  /** A JSON-safe copy of `value`: bounded, secret-free, errors as name/code/message. */
  private plain(value: unknown, depth: number): unknown {
    if (typeof value === 'string') return this.scrub(truncate(value));
    if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
    if (typeof value === 'boolean' || value === null || value === undefined) return value ?? null;
    if (typeof value === 'bigint') return value.toString();
    if (typeof value !== 'object') return `[${typeof value}]`;
    if (depth >= MAX_FIELD_DEPTH) return '[nested]';
    if (value instanceof Error) {
      const code = (value as { code?: unknown }).code;
      return {
        name: value.name,
        ...(typeof code === 'string' ? { code } : {}),
        message: this.scrub(truncate(value.message)),
      };
    }
    if (value instanceof Uint8Array) return `[${value.length} bytes]`;
    if (value instanceof Date) return value.toISOString();
    if (Array.isArray(value)) {
      return value.slice(0, MAX_FIELD_ENTRIES).map((item) => this.plain(item, depth + 1));
    }
    const copy: Record<string, unknown> = {};
    for (const [name, field] of Object.entries(value).slice(0, MAX_FIELD_ENTRIES)) {
      copy[name] = SECRET_FIELD_PATTERN.test(name) ? REDACTED : this.plain(field, depth + 1);
    }
    return copy;
  }

  private scrub(text: string): string {
    let clean = text;
    for (const secret of this.secrets) clean = clean.split(secret).join(REDACTED);
    return clean;
  }
}

function truncate(text: string): string {
  return text.length <= MAX_FIELD_CHARS ? text : `${text.slice(0, MAX_FIELD_CHARS)}…`;
}
