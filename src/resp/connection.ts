import type { Socket } from 'node:net';
import { dispatchCommand, replyFailure } from './dispatcher.js';
import { RespProtocolError } from './errors.js';
import { RespParser, type RespParserLimits } from './parser.js';
import { ReplyWriter } from './reply-writer.js';
import type { ClientSession, RespServerContext } from './session.js';

/** Per-connection flow-control bounds (see `RespServerLimits`). */
export interface RespConnectionLimits extends RespParserLimits {
  /** Close a connection idle (no input, no command running) this long; 0 = never, as Redis. */
  readonly idleTimeoutMs: number;
  /** Stop reading from a client while this many input bytes wait behind a running command. */
  readonly inputHighWaterBytes: number;
  /** Stop running a client's commands while this many reply bytes wait to be sent. */
  readonly outputHighWaterBytes: number;
}

/** Flush replies mid-batch once this many bytes are encoded, so a long pipeline streams. */
const FLUSH_THRESHOLD_BYTES = 64 * 1024;

function formatAddress(address: string | undefined, port: number | undefined): string {
  if (address === undefined) return '?:0';
  return `${address}:${port ?? 0}`;
}

/**
 * One client connection: feeds socket input to a {@link RespParser}, runs the
 * commands one at a time in order through the dispatcher, and flushes replies once
 * per batch of input (corked, so a pipeline's replies leave in one write).
 *
 * Bounded everywhere: input waiting behind a running command pauses the socket past
 * `inputHighWaterBytes`; replies the client does not read stop command processing
 * past `outputHighWaterBytes` until the socket drains; the parser caps everything
 * else. A protocol error is answered and the connection closed, as Redis does.
 */
export class RespConnection {
  readonly session: ClientSession;
  private readonly socket: Socket;
  private readonly parser: RespParser;
  private readonly writer = new ReplyWriter();
  private readonly limits: RespConnectionLimits;
  private readonly onClosed: (connection: RespConnection) => void;
  /** True while the command loop runs (possibly waiting on the backend or on drain). */
  private running = false;
  private paused = false;
  private closed = false;
  private drainWaiter: (() => void) | undefined;

  constructor(
    socket: Socket,
    id: number,
    server: RespServerContext,
    limits: RespConnectionLimits,
    onClosed: (connection: RespConnection) => void,
  ) {
    this.socket = socket;
    this.limits = limits;
    this.onClosed = onClosed;
    this.parser = new RespParser(limits);
    const now = server.monotonicClock.now();
    this.session = {
      id,
      server,
      writer: this.writer,
      remoteAddress: formatAddress(socket.remoteAddress, socket.remotePort),
      localAddress: formatAddress(socket.localAddress, socket.localPort),
      createdAtMs: now,
      lastCommandAtMs: now,
      lastCommandName: 'NULL',
      name: '',
      libName: '',
      libVersion: '',
      authenticated: server.passwords.length === 0,
      asking: false,
      readOnly: false,
      closeAfterReply: false,
    };
    this.parser.authenticated = this.session.authenticated;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.onDrain());
    socket.on('close', () => this.onClose());
    // Errors (ECONNRESET, EPIPE) are followed by 'close', which does the cleanup.
    socket.on('error', () => {});
    if (limits.idleTimeoutMs > 0) {
      socket.setTimeout(limits.idleTimeoutMs, () => this.onIdle());
    }
  }

  /** Closes the connection at once, dropping unsent replies. */
  destroy(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.session.server.stats.netInputBytes += chunk.length;
    this.parser.push(chunk);
    if (!this.running) {
      void this.run();
    } else if (!this.paused && this.parser.bufferedBytes > this.limits.inputHighWaterBytes) {
      this.paused = true;
      this.socket.pause();
    }
  }

  private onDrain(): void {
    const waiter = this.drainWaiter;
    this.drainWaiter = undefined;
    waiter?.();
  }

  private onIdle(): void {
    if (this.running) {
      // A command still runs (a slow backend call): not idle, look again later.
      this.socket.setTimeout(this.limits.idleTimeoutMs);
      return;
    }
    this.socket.destroy();
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.onDrain();
    this.onClosed(this);
  }

  /** Runs every complete command in the input, in order, then flushes the replies. */
  private async run(): Promise<void> {
    this.running = true;
    try {
      while (!this.closed) {
        if (this.session.closeAfterReply) {
          this.closeAfterFlush();
          return;
        }
        if (this.socket.writableLength > this.limits.outputHighWaterBytes) {
          this.flush();
          await new Promise<void>((resolve) => {
            this.drainWaiter = resolve;
          });
          continue;
        }
        let args: Buffer[] | undefined;
        try {
          args = this.parser.next();
        } catch (error) {
          if (!(error instanceof RespProtocolError)) throw error;
          this.session.server.stats.errorReplies++;
          this.writer.error(error.replyText);
          this.closeAfterFlush();
          return;
        }
        if (args === undefined) break;
        const pending = dispatchCommand(this.session, args);
        if (pending !== undefined) {
          try {
            await pending;
          } catch (error) {
            replyFailure(this.session, error);
          }
        }
        this.parser.authenticated = this.session.authenticated;
        if (this.writer.bufferedBytes >= FLUSH_THRESHOLD_BYTES) this.flush();
      }
      this.flush();
    } finally {
      this.running = false;
    }
    if (this.paused && !this.closed) {
      this.paused = false;
      this.socket.resume();
    }
  }

  private flush(): void {
    if (this.closed) return;
    this.session.server.stats.netOutputBytes += this.writer.bufferedBytes;
    this.writer.flush(this.socket);
  }

  /** Sends what is pending, then closes (after QUIT or a protocol error). */
  private closeAfterFlush(): void {
    this.flush();
    this.closed = true;
    this.socket.end(() => this.socket.destroy());
    this.onClosed(this);
  }
}
