/**
 * Shared helpers for the WsTransport tests: cleanup of everything a test starts,
 * polling with a deadline, and `RawPeer`, a bare `ws` client that speaks the wire
 * protocol by hand (it sends plain msgpack maps, has its own HMAC code) so tests can send exactly
 * the bytes a hostile or foreign peer would.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { pack, Unpackr } from 'msgpackr';
import WebSocket from 'ws';
import type { LogFields, Logger } from '../../src/util/logger.js';

/** Runs registered teardown steps in reverse order; every step runs even if one fails. */
export class Cleanup {
  private steps: Array<() => unknown> = [];

  add<T>(value: T, step: (value: T) => unknown): T {
    this.steps.push(() => step(value));
    return value;
  }

  async run(): Promise<void> {
    const steps = this.steps.reverse();
    this.steps = [];
    const failures: unknown[] = [];
    for (const step of steps) {
      try {
        await step();
      } catch (error) {
        failures.push(error);
      }
    }
    if (failures.length > 0) throw failures[0];
  }
}

/** Polls `condition` until it holds; fails with `what` after `timeoutMs`. */
export async function waitFor(
  condition: () => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** A logger that records every call, for asserting what was logged. */
export class RecordingLogger implements Logger {
  readonly entries: Array<{ level: string; message: string; fields: LogFields | undefined }> = [];

  debug(message: string, fields?: LogFields): void {
    this.entries.push({ level: 'debug', message, fields });
  }
  info(message: string, fields?: LogFields): void {
    this.entries.push({ level: 'info', message, fields });
  }
  warn(message: string, fields?: LogFields): void {
    this.entries.push({ level: 'warn', message, fields });
  }
  error(message: string, fields?: LogFields): void {
    this.entries.push({ level: 'error', message, fields });
  }

  count(level: string, messagePart: string): number {
    return this.entries.filter((e) => e.level === level && e.message.includes(messagePart)).length;
  }
}

/** Wire constants, restated here on purpose so the tests pin the protocol. */
export const WIRE = {
  version: 1,
  Message: 0,
  Request: 1,
  Reply: 2,
  ErrorReply: 3,
  Hello: 16,
  Auth: 17,
  AuthOk: 18,
} as const;

function lengthPrefixed(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

/** The handshake proof, computed independently of src/ (see ws-handshake.ts). */
export function testProof(
  role: 'dialer' | 'acceptor',
  secret: string,
  acceptorNonce: Uint8Array,
  dialerNonce: Uint8Array,
  dialerId: string,
  acceptorId: string,
): Buffer {
  return createHmac('sha256', secret)
    .update(`shoal/ws/v1 ${role}\0`)
    .update(acceptorNonce)
    .update(dialerNonce)
    .update(lengthPrefixed(dialerId))
    .update(lengthPrefixed(acceptorId))
    .digest();
}

/**
 * Decodes what a WsTransport sends: its envelopes use four shared msgpackr records
 * (ids 0x40..0x43) that both ends know in advance. Restated here to pin them.
 */
function envelopeDecoder(): Unpackr {
  const structures = [
    ['t', 'c', 'b'],
    ['t', 'i', 'c', 'b'],
    ['t', 'i', 'b'],
    ['t', 'i', 'e', 'm'],
  ].map((keys) => Object.assign(keys, { isShared: true }));
  return new Unpackr({ structures, mapsAsObjects: true });
}

/** How a raw connection ended. */
export interface CloseInfo {
  code: number;
  reason: string;
}

/** A hand-driven protocol client on a bare `ws` socket. */
export class RawPeer {
  private readonly frames: Buffer[] = [];
  private readonly decoder = envelopeDecoder();
  private waiter: (() => void) | undefined;
  readonly closed: Promise<CloseInfo>;
  closeInfo: CloseInfo | undefined;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      this.frames.push(data);
      this.waiter?.();
    });
    ws.on('error', () => {});
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString('utf8') };
        this.waiter?.();
        resolve(this.closeInfo);
      });
    });
  }

  static async connect(url: string, options: WebSocket.ClientOptions = {}): Promise<RawPeer> {
    const ws = new WebSocket(url, { perMessageDeflate: false, ...options });
    const peer = new RawPeer(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return peer;
  }

  /** The next frame received, decoded; rejects if the socket closes first. */
  async next(): Promise<unknown> {
    const deadline = Date.now() + 10_000;
    while (this.frames.length === 0) {
      if (this.closeInfo) throw new Error(`closed ${this.closeInfo.code} ${this.closeInfo.reason}`);
      if (Date.now() > deadline) throw new Error('no frame within 10 s');
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
        setTimeout(resolve, 50);
      });
    }
    return this.decoder.unpack(this.frames.shift()!);
  }

  sendValue(value: unknown): void {
    this.ws.send(pack(value));
  }

  sendBytes(bytes: Uint8Array, binary = true): void {
    this.ws.send(bytes, { binary });
  }

  /**
   * Runs the dialer side of the handshake with `secret`; returns the frames it sent
   * so a test can replay them.
   */
  async authenticate(id: string, secret: string, acceptorId: string): Promise<{ auth: Buffer }> {
    const hello = (await this.next()) as { t: number; id: string; n: Uint8Array };
    if (hello.t !== WIRE.Hello || hello.id !== acceptorId) throw new Error('unexpected Hello');
    const nonce = randomBytes(32);
    const auth = pack({
      t: WIRE.Auth,
      v: WIRE.version,
      id,
      n: nonce,
      p: testProof('dialer', secret, hello.n, nonce, id, acceptorId),
      f: 4 * 1024 * 1024,
      bm: 512,
    });
    this.ws.send(auth);
    const ok = (await this.next()) as { t: number; p: Uint8Array };
    const expected = testProof('acceptor', secret, hello.n, nonce, id, acceptorId);
    if (ok.t !== WIRE.AuthOk || !expected.equals(Buffer.from(ok.p))) {
      throw new Error('acceptor failed to prove the secret');
    }
    return { auth };
  }

  /**
   * Sends one request in a batch of plain msgpack maps and returns its reply
   * envelope, skipping frames that carry other envelopes.
   */
  async roundTrip(id: number, channel: string, body: unknown): Promise<Record<string, unknown>> {
    this.sendValue([{ t: WIRE.Request, i: id, c: channel, b: body }]);
    for (let frames = 0; frames < 100; frames++) {
      const batch = (await this.next()) as Array<Record<string, unknown>>;
      const reply = batch.find(
        (envelope) =>
          envelope.i === id && (envelope.t === WIRE.Reply || envelope.t === WIRE.ErrorReply),
      );
      if (reply) return reply;
    }
    throw new Error(`no reply to request ${id} in 100 frames`);
  }

  close(): Promise<CloseInfo> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.terminate();
    }
    return this.closed;
  }
}
