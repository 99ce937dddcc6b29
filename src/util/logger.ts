/**
 * The logging contract every layer takes by injection. Fields are structured so the
 * CLI can print JSON lines; messages never contain secrets.
 */
export type LogFields = Readonly<Record<string, unknown>>;

/** A leveled, structured logger. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/** Discards everything; the default for embedded use and tests. */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};
