import fc from 'fast-check';
import { Packr, pack } from 'msgpackr';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProtocolError } from '../../src/transport/errors.js';
import { WsTransport } from '../../src/transport/ws-transport.js';
import { Cleanup, type CloseInfo, RawPeer, WIRE, waitFor } from './ws-harness.js';

const SECRET = 'hostile-secret';
const MAX_FRAME_BYTES = 64 * 1024;
const cleanup = new Cleanup();

let server: WsTransport;
let bystander: WsTransport;
let protocolErrors: ProtocolError[];
let bystanderRequests = 0;

beforeEach(async () => {
  protocolErrors = [];
  server = cleanup.add(
    await WsTransport.listen({
      id: 'server',
      secret: SECRET,
      limits: { maxFrameBytes: MAX_FRAME_BYTES, maxBatchMessages: 64 },
      onProtocolError: (error) => protocolErrors.push(error),
    }),
    (t) => t.close(),
  );
  server.handle('echo', { onRequest: (_from, m) => m });
  // A well-behaved client that must keep being served whatever the others send.
  bystander = cleanup.add(WsTransport.client({ id: 'bystander', secret: SECRET }), (t) =>
    t.close(),
  );
  bystander.addPeer('server', server.address);
  await waitFor(() => bystander.isConnected('server'), 'bystander connected');
});
afterEach(() => cleanup.run());

async function bystanderStillServed(): Promise<void> {
  const n = ++bystanderRequests;
  await expect(bystander.request('server', 'echo', { n }, { timeoutMs: 5_000 })).resolves.toEqual({
    n,
  });
  expect(bystander.isConnected('server')).toBe(true);
}

async function rawPeer(authenticated: boolean, id = 'raw'): Promise<RawPeer> {
  const peer = cleanup.add(await RawPeer.connect(server.url), (p) => p.close());
  if (authenticated) await peer.authenticate(id, SECRET, 'server');
  else await peer.next();
  return peer;
}

/** Sends a frame and reports how the server answered: a close, or a working connection. */
async function afterFrame(
  peer: RawPeer,
  send: () => void,
  probeId: number,
): Promise<{ closed: CloseInfo } | { reply: Record<string, unknown> }> {
  send();
  try {
    return { reply: await peer.roundTrip(probeId, 'echo', probeId) };
  } catch {
    return { closed: await peer.closed };
  }
}

const deeplyNested = Buffer.concat([Buffer.alloc(60_000, 0x91), Buffer.from([0x00])]);

const badFrames: Array<{ name: string; send: (peer: RawPeer) => void; code: number }> = [
  { name: 'a never-used msgpack byte', send: (p) => p.sendBytes(Buffer.from([0xc1])), code: 4400 },
  {
    name: 'a truncated batch',
    send: (p) =>
      p.sendBytes(pack([{ t: WIRE.Request, i: 1, c: 'echo', b: 'x'.repeat(100) }]).subarray(0, 20)),
    code: 4400,
  },
  {
    name: 'an oversized frame',
    send: (p) => p.sendBytes(Buffer.alloc(MAX_FRAME_BYTES + 1)),
    code: 1009,
  },
  { name: 'a text frame', send: (p) => p.sendBytes(Buffer.from('[]'), false), code: 4400 },
  { name: 'an empty frame', send: (p) => p.sendBytes(Buffer.alloc(0)), code: 4400 },
  { name: 'deep nesting', send: (p) => p.sendBytes(deeplyNested), code: 4400 },
];

const badBatches: Array<{ name: string; value: unknown }> = [
  { name: 'an unknown envelope type', value: [{ t: 99 }] },
  { name: 'a handshake frame after auth', value: { t: WIRE.Auth, v: 1 } },
  { name: 'a handshake envelope inside a batch', value: [{ t: WIRE.AuthOk, p: 1 }] },
  { name: 'an empty batch', value: [] },
  {
    name: 'a batch over maxBatchMessages',
    value: Array(65).fill({ t: WIRE.Message, c: 'x', b: 1 }),
  },
  { name: 'a negative correlation id', value: [{ t: WIRE.Request, i: -1, c: 'echo', b: 1 }] },
  { name: 'a request without a channel', value: [{ t: WIRE.Request, i: 1, b: 1 }] },
  { name: 'a non-object envelope', value: [42] },
];

describe('WsTransport against hostile frames', () => {
  for (const authenticated of [false, true]) {
    const when = authenticated ? 'after' : 'before';
    for (const bad of badFrames) {
      it(`closes only the offending connection on ${bad.name} ${when} auth`, async () => {
        const peer = await rawPeer(authenticated);
        bad.send(peer);
        const closed = await peer.closed;
        expect(closed.code).toBe(bad.code);
        await waitFor(() => protocolErrors.length === 1, 'protocol error reported');
        expect(protocolErrors[0]).toBeInstanceOf(ProtocolError);
        await bystanderStillServed();
      });
    }
  }

  for (const bad of badBatches) {
    it(`closes a connection that sends ${bad.name}`, async () => {
      const peer = await rawPeer(true);
      peer.sendValue(bad.value);
      const closed = await peer.closed;
      expect(closed.code).toBe(4400);
      expect(closed.reason).toMatch(/^protocol error: /);
      expect(server.stats().protocolErrors).toBe(1);
      await bystanderStillServed();
    });
  }

  it('survives random bytes before and after auth (property)', async () => {
    let probe = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 0, maxLength: 300 }),
        fc.boolean(),
        async (bytes, authenticated) => {
          const peer = await rawPeer(authenticated, `raw${probe}`);
          const outcome = await afterFrame(peer, () => peer.sendBytes(bytes), ++probe);
          if ('closed' in outcome) {
            expect([4001, 4002, 4003, 4400]).toContain(outcome.closed.code);
          } else {
            expect(authenticated).toBe(true);
            expect(outcome.reply.b).toBe(probe);
          }
          await peer.close();
        },
      ),
      { numRuns: 120 },
    );
    await bystanderStillServed();
  });

  it('survives random msgpack structures before and after auth (property)', async () => {
    const envelopeLike = fc.record(
      {
        t: fc.oneof(fc.integer({ min: -1, max: 20 }), fc.anything()),
        i: fc.oneof(fc.nat(), fc.integer(), fc.anything()),
        c: fc.oneof(fc.constantFrom('echo', 'nobody', ''), fc.string()),
        b: fc.anything(),
        e: fc.string(),
        m: fc.anything(),
      },
      { requiredKeys: [] },
    );
    const validEnvelope = fc.oneof(
      fc.record({ t: fc.constant(0), c: fc.constantFrom('echo', 'nobody'), b: fc.anything() }),
      fc.record({
        t: fc.constant(1),
        i: fc.nat({ max: 1_000 }),
        c: fc.constantFrom('echo', 'nobody'),
        b: fc.anything(),
      }),
      fc.record({ t: fc.constant(2), i: fc.nat(), b: fc.anything() }),
      fc.record({ t: fc.constant(3), i: fc.nat(), e: fc.string(), m: fc.string() }),
    );
    const frame = fc.oneof(
      fc.record({ valid: fc.constant(false), value: fc.anything() }),
      fc.record({ valid: fc.constant(false), value: fc.array(envelopeLike, { maxLength: 8 }) }),
      fc.record({ valid: fc.constant(false), value: envelopeLike }),
      fc.record({
        valid: fc.constant(true),
        value: fc.array(validEnvelope, { minLength: 1, maxLength: 8 }),
      }),
    );
    // Inline record definitions only: a shared-structure encoder would reference records
    // the server does not know, which is simply a malformed frame.
    const withRecords = new Packr({ useRecords: true });
    // Probe ids stay above the ids the valid envelopes use.
    let probe = 10_000;
    await fc.assert(
      fc.asyncProperty(
        frame,
        fc.boolean(),
        fc.boolean(),
        async ({ valid, value }, authenticated, records) => {
          const peer = await rawPeer(authenticated, `raw${probe}`);
          const bytes = records ? withRecords.pack(value) : pack(value);
          const outcome = await afterFrame(peer, () => peer.sendBytes(bytes), ++probe);
          if ('closed' in outcome) {
            expect(valid && authenticated).toBe(false);
            expect([4001, 4002, 4003, 4400]).toContain(outcome.closed.code);
          } else {
            // Only a well-formed batch can leave the connection open.
            expect(authenticated).toBe(true);
            expect(outcome.reply.b).toBe(probe);
          }
          await peer.close();
        },
      ),
      { numRuns: 150 },
    );
    await bystanderStillServed();
  });

  it('does not let a peer rebind the shared envelope records', async () => {
    const peer = await rawPeer(true);
    // A valid batch whose single envelope defines record 0x41 (normally the request
    // shape) inline as ['t', 'c', 'b']: {t: 0, c: 'x', b: 1}, a message to nowhere.
    const rebinding = Buffer.from([
      0x91, 0xd4, 0x72, 0x41, 0x93, 0xa1, 0x74, 0xa1, 0x63, 0xa1, 0x62, 0x00, 0xa1, 0x78, 0x01,
    ]);
    peer.sendBytes(rebinding);
    await waitFor(() => server.stats().droppedUnknownChannel === 1, 'rebinding frame decoded');
    // The bystander's requests use record 0x41; they still decode as requests.
    await bystanderStillServed();
    await bystanderStillServed();
    expect((await peer.roundTrip(5, 'echo', 'ok')).b).toBe('ok');
    expect(server.stats().protocolErrors).toBe(0);
  });
});
