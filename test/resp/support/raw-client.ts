import { connect, type Socket } from 'node:net';
import { type Reply, readReply } from './reply-reader.js';

/** Encodes a command as a RESP array of bulk strings, as real clients send it. */
export function encodeCommand(args: readonly (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = typeof arg === 'string' ? Buffer.from(arg, 'utf8') : arg;
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** No complete reply arrived in time. */
export class ReplyDeadlineError extends Error {
  constructor(deadlineMs: number) {
    super(`no complete reply within ${deadlineMs} ms`);
  }
}

/**
 * A bare TCP client that sends raw bytes and decodes replies one at a time, so tests
 * see exactly what the server wrote (ioredis would hide the bytes).
 */
export class RawRespClient {
  private received = Buffer.alloc(0);
  private offset = 0;
  private waiter: (() => void) | undefined;
  private ended = false;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.received = Buffer.concat([this.received.subarray(this.offset), chunk]);
      this.offset = 0;
      this.wake();
    });
    socket.on('close', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  /** Connects to `port` on loopback. */
  static connect(port: number): Promise<RawRespClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => resolve(new RawRespClient(socket)));
      socket.once('error', reject);
    });
  }

  /** True once the server closed the connection. */
  get closed(): boolean {
    return this.ended;
  }

  write(bytes: Buffer | string): void {
    this.socket.write(bytes);
  }

  /** Sends one command and reads its reply. */
  async call(args: readonly (string | Buffer)[]): Promise<Reply> {
    this.write(encodeCommand(args));
    return this.nextReply();
  }

  /**
   * The next reply; rejects if the connection closes first, or if no complete reply
   * arrives within `deadlineMs` (so a silent server fails the test with context
   * instead of hanging it).
   */
  async nextReply(deadlineMs = 10_000): Promise<Reply> {
    const deadline = Date.now() + deadlineMs;
    for (;;) {
      const decoded = readReply(this.received, this.offset);
      if (decoded !== undefined) {
        this.offset = decoded.next;
        return decoded.reply;
      }
      if (this.ended) throw new Error('connection closed before a complete reply');
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new ReplyDeadlineError(deadlineMs);
      await this.waitForData(remaining);
    }
  }

  /** Everything the server sends until it closes the connection. */
  async readUntilClosed(): Promise<Buffer> {
    while (!this.ended) await this.waitForData();
    return this.received.subarray(this.offset);
  }

  close(): void {
    this.socket.destroy();
  }

  private waitForData(timeoutMs?: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = timeoutMs === undefined ? undefined : setTimeout(() => this.wake(), timeoutMs);
      this.waiter = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }
}
