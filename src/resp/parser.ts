import { invariant } from '../util/assert.js';
import { parseSmallInt } from '../util/int64.js';
import { InvalidRespOptionError, RespProtocolError } from './errors.js';

/** The bounds a {@link RespParser} enforces on one connection's input. */
export interface RespParserLimits {
  /** Largest bulk string (one argument), in bytes. Redis's `proto-max-bulk-len`. */
  readonly maxBulkBytes: number;
  /** Most arguments in one command (the `*<n>` count). */
  readonly maxArgs: number;
  /** Longest inline command line, and longest `*`/`$` header line, in bytes. */
  readonly maxInlineBytes: number;
  /**
   * Most bytes held for one connection: unparsed input plus the arguments of the
   * command being assembled (each argument also counts {@link ARG_OVERHEAD_BYTES}).
   * Redis's `client-query-buffer-limit`.
   */
  readonly maxBufferedBytes: number;
}

/**
 * A shoal value is at most 16 MiB by default, so a bulk string beyond that can only be
 * a mistake or an attack; Redis's 512 MiB default would let one client pin 512 MiB.
 */
export const DEFAULT_MAX_BULK_BYTES = 16 * 1024 * 1024;

/** Defaults: 16 MiB bulks, 1 Mi arguments, Redis's 64 KiB inline limit, 64 MiB buffered. */
export const DEFAULT_PARSER_LIMITS: RespParserLimits = {
  maxBulkBytes: DEFAULT_MAX_BULK_BYTES,
  maxArgs: 1024 * 1024,
  maxInlineBytes: 64 * 1024,
  maxBufferedBytes: 64 * 1024 * 1024,
};

/** Redis refuses more arguments than this before a client has authenticated. */
export const UNAUTHENTICATED_MAX_ARGS = 10;

/** Redis refuses bulk strings longer than this before a client has authenticated. */
export const UNAUTHENTICATED_MAX_BULK_BYTES = 16384;

/**
 * What one parsed argument costs beyond its bytes (the Buffer view object and its
 * array slot), so a flood of empty arguments still hits `maxBufferedBytes`.
 */
export const ARG_OVERHEAD_BYTES = 64;

/** Smallest internal buffer allocated when a frame spans chunks. */
const MIN_BUFFER_BYTES = 16 * 1024;

const CR = 0x0d;
const LF = 0x0a;
const STAR = 0x2a;
const DOLLAR = 0x24;
const SPACE = 0x20;
const TAB = 0x09;
const VTAB = 0x0b;
const FORM_FEED = 0x0c;
const DOUBLE_QUOTE = 0x22;
const SINGLE_QUOTE = 0x27;
const BACKSLASH = 0x5c;
const LOWER_X = 0x78;

const AT_FRAME_START = 0;
const IN_INLINE = 1;
const IN_ARRAY_HEADER = 2;
const IN_BULK_HEADER = 3;
const IN_BULK_BODY = 4;

const EMPTY = Buffer.alloc(0);

/** Throws {@link InvalidRespOptionError} unless the limits are usable together. */
export function checkParserLimits(limits: RespParserLimits): void {
  const positive = (name: string, value: number): void => {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new InvalidRespOptionError(name, value, 'a positive integer');
    }
  };
  positive('maxBulkBytes', limits.maxBulkBytes);
  positive('maxArgs', limits.maxArgs);
  positive('maxInlineBytes', limits.maxInlineBytes);
  positive('maxBufferedBytes', limits.maxBufferedBytes);
  if (limits.maxBufferedBytes < limits.maxBulkBytes + limits.maxInlineBytes) {
    throw new InvalidRespOptionError(
      'maxBufferedBytes',
      limits.maxBufferedBytes,
      'at least maxBulkBytes + maxInlineBytes, or the largest allowed argument could never arrive',
    );
  }
}

/**
 * A streaming, pull-style parser for Redis requests: RESP arrays of bulk strings
 * and inline commands (space separated, with Redis's quoting rules), with the same
 * acceptance rules and error texts as Redis 7.
 *
 * The connection `push`es socket chunks and pulls commands with `next()` one at a
 * time, executing each before pulling the next, which is what Redis does: limits
 * that depend on the connection's state (the stricter ones before `AUTH`) see that
 * state as of the command they apply to.
 *
 * Memory: a chunk is parsed in place when nothing is pending; only an incomplete
 * tail is copied, into an append-only buffer that grows geometrically (or straight
 * to the announced size of a pending bulk), so bytes are copied O(1) times each and
 * many small chunks never cause quadratic concatenation. The buffer is never
 * rewritten in place: arguments are views into it (or into the socket chunk), valid
 * for as long as the caller holds them; the caller copies what it keeps.
 */
export class RespParser {
  /**
   * Whether the client has authenticated. While false, Redis's stricter limits
   * ({@link UNAUTHENTICATED_MAX_ARGS}, {@link UNAUTHENTICATED_MAX_BULK_BYTES}) apply.
   */
  authenticated = true;

  private readonly limits: RespParserLimits;
  private buf: Buffer = EMPTY;
  /** First byte not yet consumed. */
  private pos = 0;
  /** End of the valid bytes in `buf`. */
  private end = 0;
  /** Whether `buf` is this parser's own buffer, whose spare capacity may be appended to. */
  private owned = false;
  private state = AT_FRAME_START;
  /** Where the search for a line terminator resumes, so no byte is scanned twice. */
  private scan = 0;
  private remainingArgs = 0;
  private bulkLength = 0;
  private args: Buffer[] = [];
  /** Bytes (plus overhead) of the arguments of the command being assembled. */
  private argBytes = 0;
  private failure: RespProtocolError | undefined;

  constructor(limits: RespParserLimits = DEFAULT_PARSER_LIMITS) {
    checkParserLimits(limits);
    this.limits = limits;
  }

  /** Bytes this parser holds for the connection; never more than `maxBufferedBytes`. */
  get bufferedBytes(): number {
    return this.end - this.pos + this.argBytes;
  }

  /** True once a protocol error was found; every later `next()` throws it again. */
  get failed(): boolean {
    return this.failure !== undefined;
  }

  /**
   * Adds bytes read from the socket. Never throws: input beyond `maxBufferedBytes`
   * makes the next `next()` throw. Input after a failure is dropped.
   */
  push(chunk: Buffer): void {
    if (this.failure !== undefined || chunk.length === 0) return;
    const unconsumed = this.end - this.pos;
    if (unconsumed + chunk.length + this.argBytes > this.limits.maxBufferedBytes) {
      this.failure = new RespProtocolError(
        `client query buffer exceeds the limit of ${this.limits.maxBufferedBytes} bytes`,
      );
      this.release();
      return;
    }
    if (unconsumed === 0) {
      this.buf = chunk;
      this.pos = 0;
      this.end = chunk.length;
      this.scan = 0;
      this.owned = false;
      return;
    }
    if (this.owned && this.buf.length - this.end >= chunk.length) {
      chunk.copy(this.buf, this.end);
      this.end += chunk.length;
      return;
    }
    const needed = unconsumed + chunk.length;
    const bulkFrame = this.bulkLength + 2;
    const capacity =
      this.state === IN_BULK_BODY && needed < bulkFrame
        ? bulkFrame + MIN_BUFFER_BYTES
        : Math.max(needed * 2, MIN_BUFFER_BYTES);
    const next = Buffer.allocUnsafe(capacity);
    this.buf.copy(next, 0, this.pos, this.end);
    chunk.copy(next, unconsumed);
    this.scan -= this.pos;
    this.buf = next;
    this.pos = 0;
    this.end = needed;
    this.owned = true;
  }

  /**
   * The next complete command's arguments, or `undefined` when more input is needed.
   * Empty commands (blank inline lines, `*0`, `*-1`) are skipped, as Redis does.
   *
   * @throws RespProtocolError when the input breaks the protocol or a limit; the
   *   connection must reply with `replyText` and close.
   */
  next(): Buffer[] | undefined {
    if (this.failure !== undefined) throw this.failure;
    for (;;) {
      switch (this.state) {
        case AT_FRAME_START:
          if (this.pos >= this.end) {
            this.release();
            return undefined;
          }
          this.scan = this.pos;
          this.state = this.buf[this.pos] === STAR ? IN_ARRAY_HEADER : IN_INLINE;
          break;
        case IN_INLINE: {
          const lineFeed = this.findByte(LF);
          if (lineFeed === -1) {
            if (this.end - this.pos > this.limits.maxInlineBytes) {
              this.fail('too big inline request');
            }
            return undefined;
          }
          let lineEnd = lineFeed;
          if (lineEnd > this.pos && this.buf[lineEnd - 1] === CR) lineEnd--;
          if (lineEnd - this.pos > this.limits.maxInlineBytes) this.fail('too big inline request');
          const args = splitInlineArgs(this.buf, this.pos, lineEnd);
          if (args === undefined) this.fail('unbalanced quotes in request');
          this.pos = lineFeed + 1;
          this.state = AT_FRAME_START;
          if (args.length > 0) return args;
          break;
        }
        case IN_ARRAY_HEADER: {
          const lineEnd = this.findHeaderEnd('too big mbulk count string');
          if (lineEnd === -1) return undefined;
          const count = parseSmallInt(this.buf, this.pos + 1, lineEnd);
          if (count === undefined || count > this.limits.maxArgs) {
            this.fail('invalid multibulk length');
          }
          if (count > UNAUTHENTICATED_MAX_ARGS && !this.authenticated) {
            this.fail('unauthenticated multibulk length');
          }
          this.pos = lineEnd + 2;
          if (count <= 0) {
            this.state = AT_FRAME_START;
          } else {
            this.remainingArgs = count;
            this.scan = this.pos;
            this.state = IN_BULK_HEADER;
          }
          break;
        }
        case IN_BULK_HEADER: {
          const lineEnd = this.findHeaderEnd('too big bulk count string');
          if (lineEnd === -1) return undefined;
          const marker = this.buf[this.pos]!;
          if (marker !== DOLLAR) {
            const shown = marker === CR || marker === LF ? ' ' : String.fromCharCode(marker);
            this.fail(`expected '$', got '${shown}'`);
          }
          const length = parseSmallInt(this.buf, this.pos + 1, lineEnd);
          if (length === undefined || length < 0 || length > this.limits.maxBulkBytes) {
            this.fail('invalid bulk length');
          }
          if (length > UNAUTHENTICATED_MAX_BULK_BYTES && !this.authenticated) {
            this.fail('unauthenticated bulk length');
          }
          if (this.argBytes + length + ARG_OVERHEAD_BYTES > this.limits.maxBufferedBytes) {
            this.fail(
              `client query buffer exceeds the limit of ${this.limits.maxBufferedBytes} bytes`,
            );
          }
          this.pos = lineEnd + 2;
          this.bulkLength = length;
          this.state = IN_BULK_BODY;
          break;
        }
        case IN_BULK_BODY: {
          // Like Redis, the two bytes after the payload are skipped, not checked.
          if (this.end - this.pos < this.bulkLength + 2) return undefined;
          this.args.push(this.buf.subarray(this.pos, this.pos + this.bulkLength));
          this.argBytes += this.bulkLength + ARG_OVERHEAD_BYTES;
          this.pos += this.bulkLength + 2;
          this.remainingArgs--;
          if (this.remainingArgs > 0) {
            this.scan = this.pos;
            this.state = IN_BULK_HEADER;
            break;
          }
          const args = this.args;
          this.args = [];
          this.argBytes = 0;
          this.state = AT_FRAME_START;
          return args;
        }
        default:
          invariant(false, `RESP parser in unknown state ${this.state}`);
      }
    }
  }

  /** Index of `byte` in the unscanned input, or -1 (remembering how far it looked). */
  private findByte(byte: number): number {
    const buf = this.buf;
    const end = this.end;
    let i = this.scan;
    while (i < end && buf[i] !== byte) i++;
    if (i === end) {
      this.scan = end;
      return -1;
    }
    this.scan = i;
    return i;
  }

  /**
   * The CR ending a `*`/`$` header line, once the byte after it has arrived too (Redis
   * requires both, and does not check that the second is LF), or -1.
   */
  private findHeaderEnd(tooBigDetail: string): number {
    const carriageReturn = this.findByte(CR);
    if (carriageReturn === -1) {
      if (this.end - this.pos > this.limits.maxInlineBytes) this.fail(tooBigDetail);
      return -1;
    }
    if (carriageReturn - this.pos > this.limits.maxInlineBytes) this.fail(tooBigDetail);
    return carriageReturn + 1 < this.end ? carriageReturn : -1;
  }

  private fail(detail: string): never {
    this.failure = new RespProtocolError(detail);
    this.release();
    throw this.failure;
  }

  /** Drops the input buffer once nothing in it is pending, so an idle client holds none. */
  private release(): void {
    if (this.failure === undefined && this.pos < this.end) return;
    this.buf = EMPTY;
    this.pos = 0;
    this.end = 0;
    this.scan = 0;
    this.owned = false;
    if (this.failure !== undefined) {
      this.args = [];
      this.argBytes = 0;
    }
  }
}

function isCSpace(byte: number): boolean {
  return (
    byte === SPACE ||
    byte === TAB ||
    byte === LF ||
    byte === CR ||
    byte === VTAB ||
    byte === FORM_FEED
  );
}

function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x61 + 10;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x41 + 10;
  return -1;
}

function unescapeByte(byte: number): number {
  switch (byte) {
    case 0x6e:
      return LF;
    case 0x72:
      return CR;
    case 0x74:
      return TAB;
    case 0x62:
      return 0x08;
    case 0x61:
      return 0x07;
    default:
      return byte;
  }
}

/**
 * Splits one inline command line exactly as Redis's `sdssplitargs` does: blanks
 * separate arguments; "double quotes" allow `\n \r \t \b \a \xHH` and `\<char>`
 * escapes; 'single quotes' allow only `\'`; a closing quote must be followed by a
 * blank or the end of the line; a NUL byte ends the line (Redis works on C strings).
 *
 * @returns the arguments, or `undefined` for unbalanced quotes.
 */
export function splitInlineArgs(
  line: Uint8Array,
  start: number,
  lineEnd: number,
): Buffer[] | undefined {
  let end = start;
  while (end < lineEnd && line[end] !== 0) end++;
  const args: Buffer[] = [];
  let p = start;
  for (;;) {
    while (p < end && isCSpace(line[p]!)) p++;
    if (p >= end) return args;
    const bytes: number[] = [];
    let inDouble = false;
    let inSingle = false;
    let done = false;
    while (!done) {
      const byte = p < end ? line[p]! : 0;
      if (inDouble) {
        if (
          byte === BACKSLASH &&
          p + 3 < end &&
          line[p + 1] === LOWER_X &&
          hexValue(line[p + 2]!) >= 0 &&
          hexValue(line[p + 3]!) >= 0
        ) {
          bytes.push(hexValue(line[p + 2]!) * 16 + hexValue(line[p + 3]!));
          p += 3;
        } else if (byte === BACKSLASH && p + 1 < end) {
          p++;
          bytes.push(unescapeByte(line[p]!));
        } else if (byte === DOUBLE_QUOTE) {
          if (p + 1 < end && !isCSpace(line[p + 1]!)) return undefined;
          done = true;
        } else if (p >= end) {
          return undefined;
        } else {
          bytes.push(byte);
        }
      } else if (inSingle) {
        if (byte === BACKSLASH && p + 1 < end && line[p + 1] === SINGLE_QUOTE) {
          p++;
          bytes.push(SINGLE_QUOTE);
        } else if (byte === SINGLE_QUOTE) {
          if (p + 1 < end && !isCSpace(line[p + 1]!)) return undefined;
          done = true;
        } else if (p >= end) {
          return undefined;
        } else {
          bytes.push(byte);
        }
      } else if (p >= end || byte === SPACE || byte === LF || byte === CR || byte === TAB) {
        done = true;
      } else if (byte === DOUBLE_QUOTE) {
        inDouble = true;
      } else if (byte === SINGLE_QUOTE) {
        inSingle = true;
      } else {
        bytes.push(byte);
      }
      if (p < end) p++;
    }
    args.push(Buffer.from(bytes));
  }
}
