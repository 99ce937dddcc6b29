/** The RESP protocol version a connection speaks: 2 by default, 3 after `HELLO 3`. */
export type RespVersion = 2 | 3;

/** Something replies can be flushed to; a `net.Socket` in production. */
export interface ReplySink {
  write(chunk: Buffer): boolean;
  cork(): void;
  uncork(): void;
}

/** Bytes per reply buffer; replies accumulate here between flushes. */
const BLOCK_BYTES = 64 * 1024;

/**
 * A bulk string at least this long is handed to the socket as its own chunk instead
 * of being copied into the reply buffer (the socket writes them together anyway).
 */
const ZERO_COPY_MIN_BYTES = 16 * 1024;

const CRLF = Buffer.from('\r\n');
const OK = Buffer.from('+OK\r\n');
const NULL_BULK_RESP2 = Buffer.from('$-1\r\n');
const NULL_ARRAY_RESP2 = Buffer.from('*-1\r\n');
const NULL_RESP3 = Buffer.from('_\r\n');

/**
 * Encodes replies for one connection in RESP2 or RESP3 into reusable buffers and
 * flushes them to the socket in as few writes as possible.
 *
 * Replies are appended to a 64 KiB block; `flush()` hands the written part of the
 * block to the socket as a view and keeps appending after it, so a block is never
 * overwritten while the socket may still hold it (a full block is simply replaced).
 * Large bulk values go out as their own chunk without a copy. One `flush()` corks the
 * socket around all pending chunks, so a pipelined batch leaves in one `writev`.
 *
 * RESP3-only types degrade to RESP2 the way Redis does: maps become flat arrays,
 * sets become arrays, doubles become bulk strings, booleans become integers 1/0,
 * verbatim strings become bulk strings, and null is `$-1` (or `*-1` for arrays).
 *
 * Text in simple strings and errors is written as Latin-1 when every character fits
 * in a byte, so client bytes echoed in errors (decoded as Latin-1) go back exactly as
 * received, like Redis; other text is UTF-8.
 */
export class ReplyWriter {
  /** The protocol version replies are encoded for; `HELLO` changes it. */
  version: RespVersion = 2;

  private block: Buffer = Buffer.allocUnsafe(BLOCK_BYTES);
  /** Start of the bytes in `block` not yet handed to the socket. */
  private flushedTo = 0;
  private pos = 0;
  /** Chunks ready to write, in order, ahead of `block[flushedTo, pos)`. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  /** Bytes encoded and not yet flushed. */
  get bufferedBytes(): number {
    return this.pendingBytes + this.pos - this.flushedTo;
  }

  /** Writes every pending reply to `sink` inside one cork/uncork. Returns `sink.write`'s answer. */
  flush(sink: ReplySink): boolean {
    this.sealBlock();
    const chunks = this.pending;
    if (chunks.length === 0) return true;
    this.pending = [];
    this.pendingBytes = 0;
    if (chunks.length === 1) return sink.write(chunks[0]!);
    let drained = true;
    sink.cork();
    for (const chunk of chunks) drained = sink.write(chunk);
    sink.uncork();
    return drained;
  }

  /** `+OK`. */
  ok(): void {
    this.raw(OK);
  }

  /** A simple string (`+text`); `text` must not contain CR or LF. */
  simple(text: string): void {
    this.line(0x2b, text);
  }

  /**
   * An error (`-text`). `text` starts with the error code (`ERR`, `WRONGPASS`, ...).
   * CR and LF become spaces, as Redis does, so an echoed argument cannot break the
   * protocol.
   */
  error(text: string): void {
    this.line(0x2d, text.replace(/[\r\n]/g, ' '));
  }

  /** An integer (`:n`). */
  integer(value: number | bigint): void {
    this.line(0x3a, String(value));
  }

  /** A bulk string, or null when `value` is undefined. */
  bulk(value: Uint8Array | undefined): void {
    if (value === undefined) {
      this.nullBulk();
      return;
    }
    this.header(0x24, value.length);
    if (value.length >= ZERO_COPY_MIN_BYTES) {
      this.sealBlock();
      const chunk = Buffer.isBuffer(value)
        ? value
        : Buffer.from(value.buffer, value.byteOffset, value.length);
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      this.raw(CRLF);
      return;
    }
    this.reserve(value.length + 2);
    this.block.set(value, this.pos);
    this.pos += value.length;
    this.block[this.pos++] = 0x0d;
    this.block[this.pos++] = 0x0a;
  }

  /** A bulk string holding `text` as UTF-8. */
  bulkString(text: string): void {
    this.bulk(Buffer.from(text, 'utf8'));
  }

  /** The null bulk string: `$-1` in RESP2, `_` in RESP3. */
  nullBulk(): void {
    this.raw(this.version === 3 ? NULL_RESP3 : NULL_BULK_RESP2);
  }

  /** The null array: `*-1` in RESP2, `_` in RESP3. */
  nullArray(): void {
    this.raw(this.version === 3 ? NULL_RESP3 : NULL_ARRAY_RESP2);
  }

  /** Starts an array of `length` elements; the caller writes them next. */
  arrayHeader(length: number): void {
    this.header(0x2a, length);
  }

  /** Starts a map of `pairs` key/value pairs (a flat array of 2n elements in RESP2). */
  mapHeader(pairs: number): void {
    if (this.version === 3) this.header(0x25, pairs);
    else this.header(0x2a, pairs * 2);
  }

  /** Starts a set of `length` elements (an array in RESP2). */
  setHeader(length: number): void {
    this.header(this.version === 3 ? 0x7e : 0x2a, length);
  }

  /** A double (a bulk string in RESP2), formatted as Redis does for `inf`/`-inf`/`nan`. */
  double(value: number): void {
    let text: string;
    if (Number.isNaN(value)) text = 'nan';
    else if (value === Number.POSITIVE_INFINITY) text = 'inf';
    else if (value === Number.NEGATIVE_INFINITY) text = '-inf';
    else text = String(value);
    if (this.version === 3) this.line(0x2c, text);
    else this.bulkString(text);
  }

  /** A boolean (integer 1/0 in RESP2). */
  boolean(value: boolean): void {
    if (this.version === 3) this.line(0x23, value ? 't' : 'f');
    else this.integer(value ? 1 : 0);
  }

  /** A verbatim string of format `txt` (a plain bulk string in RESP2). */
  verbatim(text: string): void {
    const body = Buffer.from(text, 'utf8');
    if (this.version === 2) {
      this.bulk(body);
      return;
    }
    this.header(0x3d, body.length + 4);
    this.reserve(body.length + 6);
    this.pos += this.block.write('txt:', this.pos, 'latin1');
    this.block.set(body, this.pos);
    this.pos += body.length;
    this.block[this.pos++] = 0x0d;
    this.block[this.pos++] = 0x0a;
  }

  /** Appends pre-encoded protocol bytes. */
  raw(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.block.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  private header(marker: number, length: number): void {
    this.line(marker, String(length));
  }

  private line(marker: number, text: string): void {
    const latin1 = fitsLatin1(text);
    const maxBytes = latin1 ? text.length : Buffer.byteLength(text, 'utf8');
    this.reserve(maxBytes + 3);
    const block = this.block;
    block[this.pos++] = marker;
    this.pos += block.write(text, this.pos, latin1 ? 'latin1' : 'utf8');
    block[this.pos++] = 0x0d;
    block[this.pos++] = 0x0a;
  }

  /** Moves the unflushed part of the block to `pending`, so later bytes follow it in order. */
  private sealBlock(): void {
    if (this.pos > this.flushedTo) {
      const chunk = this.block.subarray(this.flushedTo, this.pos);
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      this.flushedTo = this.pos;
    }
  }

  /** Ensures `bytes` free bytes after `pos`, starting a new block when needed. */
  private reserve(bytes: number): void {
    if (this.block.length - this.pos >= bytes) return;
    this.sealBlock();
    this.block = Buffer.allocUnsafe(Math.max(BLOCK_BYTES, bytes));
    this.flushedTo = 0;
    this.pos = 0;
  }
}

function fitsLatin1(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0xff) return false;
  return true;
}
