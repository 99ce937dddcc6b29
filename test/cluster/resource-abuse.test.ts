/**
 * Resource abuse against a real node: a reader that never reads, a flood of
 * pipelined requests, hundreds of connections that never authenticate, and keys and
 * values past the limits. Each time the node must bound what it holds for the abuser
 * (drop, close, refuse with a typed error) and keep serving a well-behaved client
 * meanwhile. The assertions are on correctness and progress, never on speed.
 */
import type { Socket } from 'node:net';
import { Packr } from 'msgpackr';
import { afterEach, describe, expect, it } from 'vitest';
import { Shoal, type ShoalNode } from '../../src/api/shoal.js';
import { ShoalClient } from '../../src/api/shoal-client.js';
import { MAX_KEY_LENGTH } from '../../src/cluster/key-ops.js';
import { ShoalError } from '../../src/util/errors.js';
import { RawPeer, WIRE } from '../transport/ws-harness.js';

const SECRET = 'abuse-test-secret';
const BIG_VALUE = 'b'.repeat(512 * 1024);
const stoppers: Array<() => Promise<unknown>> = [];
/**
 * Plain maps, no msgpackr records: the node refuses records a peer defines (4400).
 * Integers 64..127 are avoided as well (request ids start at FIRST_ID): on this wire
 * those single bytes are the shared record ids, so a plain encoder's fixints there
 * would not decode.
 */
const plain = new Packr({ useRecords: false });
const FIRST_ID = 1_000;

afterEach(async () => {
  for (const stop of stoppers.splice(0).reverse()) await stop();
});

async function eventually(condition: () => boolean, what: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function setup(): Promise<{ node: ShoalNode; client: ShoalClient }> {
  const node = await Shoal.start({ id: 'victim', secret: SECRET, replicationFactor: 1 });
  stoppers.push(() => node.stop());
  await eventually(() => node.isSettled(), 'node settled');
  const client = await ShoalClient.connect({ seeds: [`victim=${node.url}`], secret: SECRET });
  stoppers.push(() => client.stop());
  return { node, client };
}

async function abuser(node: ShoalNode, id: string): Promise<RawPeer> {
  const peer = await RawPeer.connect(node.url);
  stoppers.push(() => peer.close());
  await peer.authenticate(id, SECRET, 'victim');
  return peer;
}

/**
 * The well-behaved client's work: `count` writes of distinct keys, then each read
 * back. Writes are idempotent so a refusal may be retried: on a loaded machine the
 * abuse can stall this process's event loop past the coordinator's lease guard, and a
 * `NoQuorumError` meanwhile is the node being careful, not failing. Progress is
 * required within a deadline, never a speed.
 */
async function wellBehaved(client: ShoalClient, prefix: string, count: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  const retried = async <T>(op: () => Promise<T>): Promise<T> => {
    for (;;) {
      try {
        return await op();
      } catch (error) {
        if (!(error instanceof ShoalError) || Date.now() > deadline) throw error;
      }
    }
  };
  for (let i = 0; i < count; i++) await retried(() => client.set(`${prefix}:${i}`, i));
  for (let i = 0; i < count; i++) {
    expect(await retried(() => client.get(`${prefix}:${i}`))).toBe(i);
  }
}

function getRequests(epoch: number, key: string, count: number, firstId: number) {
  return Array.from({ length: count }, (_, i) => ({
    t: WIRE.Request,
    i: FIRST_ID + firstId + i,
    c: 'cache',
    b: { t: 'op', e: epoch, op: { o: 'get', k: key } },
  }));
}

describe('resource abuse', () => {
  it('bounds what a reader that never reads can pin, and serves others meanwhile', async () => {
    const { node, client } = await setup();
    await client.set('big', BIG_VALUE);
    const peer = await abuser(node, 'slow-reader');
    // Stop reading for good (ws resumes a socket paused under it, so resume is
    // disabled): the kernel buffers fill, then the node's socket buffer grows.
    const socket = (peer.ws as unknown as { _socket: Socket })._socket;
    socket.pause();
    socket.resume = () => socket;
    const epoch = node.view()!.epoch;
    // 200 replies of 512 KiB would be 100 MiB; the node may hold 8 MiB for it.
    for (let burst = 0; burst < 4; burst++) {
      peer.sendBytes(plain.pack(getRequests(epoch, 'big', 50, burst * 50)));
    }
    const work = wellBehaved(client, 'counter', 200);
    // Kernel buffers take a few MiB, the node's socket buffer 8 MiB plus one frame:
    // most of the 100 MiB must have been shed rather than held.
    await eventually(
      () => node.transportStats().droppedBackpressure >= 100,
      'replies to the slow reader dropped at the buffer bound',
    );
    await work;
    expect(await client.get('big')).toBe(BIG_VALUE);
  });

  it('keeps serving through a flood of pipelined requests', async () => {
    const { node, client } = await setup();
    const peer = await abuser(node, 'flooder');
    const epoch = node.view()!.epoch;
    for (let burst = 0; burst < 40; burst++) {
      peer.sendBytes(plain.pack(getRequests(epoch, `k${burst}`, 500, burst * 500)));
    }
    await wellBehaved(client, 'counter', 100);
    // The flood was real: the node took its frames in (and keeps answering them).
    await eventually(() => node.transportStats().envelopesReceived >= 20_000, 'the flood received');
    expect(peer.closeInfo).toBeUndefined();
  });

  it('cuts connections that never authenticate, serving others meanwhile', async () => {
    const { node, client } = await setup();
    const idle = await Promise.all(
      Array.from({ length: 200 }, async () => {
        const peer = await RawPeer.connect(node.url);
        stoppers.push(() => peer.close());
        return peer;
      }),
    );
    await wellBehaved(client, 'counter', 100);
    const codes = await Promise.all(idle.map((peer) => peer.closed.then((info) => info.code)));
    expect(new Set(codes)).toEqual(new Set([4008]));
    await wellBehaved(client, 'counter-after', 10);
  });

  it('refuses keys and values past the limits with typed errors and stays up', async () => {
    const { node, client } = await setup();
    const errorOf = async (promise: Promise<unknown>): Promise<string> => {
      try {
        await promise;
      } catch (error) {
        if (error instanceof ShoalError) return error.code;
        throw error;
      }
      return 'no error';
    };
    const hugeKey = 'k'.repeat(MAX_KEY_LENGTH + 1);
    expect(await errorOf(client.set(hugeKey, 1))).toBe('ERR_INVALID_ARGUMENT');
    expect(await errorOf(node.set(hugeKey, 1))).toBe('ERR_INVALID_ARGUMENT');
    const hugeValue = 'v'.repeat(2 * 1024 * 1024);
    expect(await errorOf(client.set('k', hugeValue))).not.toBe('no error');
    expect(await errorOf(node.set('k', hugeValue))).not.toBe('no error');
    // A raw request carrying a key past the limit gets a typed error reply.
    const peer = await abuser(node, 'huge-keys');
    const reply = await peer.roundTrip(1, 'cache', {
      t: 'op',
      e: node.view()!.epoch,
      op: { o: 'get', k: hugeKey },
    });
    expect(JSON.stringify(reply)).toMatch(/ERR_INVALID_ARGUMENT/);
    await wellBehaved(client, 'counter', 20);
    expect(await client.get('k')).toBeUndefined();
  });
});
