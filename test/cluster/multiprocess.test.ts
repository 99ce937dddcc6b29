import { afterAll, describe, expect, it } from 'vitest';
import { ShoalClient } from '../../src/api/shoal-client.js';
import { Placement } from '../../src/cluster/placement.js';
import type { ClusterView } from '../../src/cluster/view-source.js';
import { PARTITION_COUNT } from '../../src/ring/partitioner.js';
import {
  freePort,
  killNodeProcess,
  type NodeProcess,
  startNodeProcess,
} from '../support/node-processes.js';

const SECRET = 'multiprocess-secret';
const KEYS = 10_000;
const processes: NodeProcess[] = [];
const clients: ShoalClient[] = [];

afterAll(async () => {
  for (const client of clients) await client.stop();
  await Promise.all(processes.map((node) => killNodeProcess(node)));
});

function keyOf(i: number): string {
  return `mp:${i}`;
}

/** Polls `probe` until it resolves true, or fails after `timeoutMs`. */
async function eventually(probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Reads every key; returns how many came back wrong or missing. */
async function countLost(client: ShoalClient): Promise<number> {
  let lost = 0;
  for (let start = 0; start < KEYS; start += 1000) {
    const keys = Array.from({ length: Math.min(1000, KEYS - start) }, (_, j) => keyOf(start + j));
    const values = await client.mget<number>(keys);
    values.forEach((value, j) => {
      if (value !== start + j) lost++;
    });
  }
  return lost;
}

function primaries(view: ClusterView, replicationFactor: number): string[] {
  const placement = Placement.of(view, replicationFactor);
  return Array.from({ length: PARTITION_COUNT }, (_, p) => placement.primaryOf(p));
}

describe('shoal node processes on loopback', () => {
  it('loses no key written with writeConcern all across kill -9, and moves ~1/n of partitions to a joining node', async () => {
    const ids = ['p1', 'p2', 'p3'];
    const ports = await Promise.all(ids.map(() => freePort()));
    const voters = ids.map((id, i) => `${id}=127.0.0.1:${ports[i]}`);
    const common = {
      secret: SECRET,
      voters,
      replicationFactor: 2,
      writeConcern: 'all' as const,
    };
    processes.push(
      ...(await Promise.all(
        ids.map((id, i) => startNodeProcess({ ...common, id, port: ports[i]! })),
      )),
    );
    const client = await ShoalClient.connect({
      seeds: ids.map((id, i) => `${id}=127.0.0.1:${ports[i]}`),
      secret: SECRET,
    });
    clients.push(client);
    // Every node printed READY once it was in the view, so the client's view has them all.
    expect(client.view()?.members.length).toBe(3);

    // 10,000 keys, each acknowledged only once both owners hold it.
    for (let start = 0; start < KEYS; start += 500) {
      await client.mset(
        Array.from(
          { length: Math.min(500, KEYS - start) },
          (_, j) => [keyOf(start + j), start + j] as const,
        ),
      );
    }

    // kill -9 one node; its session expires, its backups are promoted.
    const victim = processes[1]!;
    await killNodeProcess(victim, 'SIGKILL');
    await eventually(async () => (await countLost(client)) === 0, 60_000);
    expect(await countLost(client)).toBe(0);
    await eventually(async () => {
      await client.get(keyOf(0));
      return client.view()?.members.length === 2;
    }, 30_000);

    // A new node joins: about 1/n of the partitions move to it; every key stays readable.
    const before = client.view()!;
    const joinerPort = await freePort();
    const joining = startNodeProcess({ ...common, id: 'p4', port: joinerPort });
    let readsDuringJoin = 0;
    let lostDuringJoin = 0;
    let joined = false;
    const reader = (async () => {
      while (!joined) {
        lostDuringJoin += await countLost(client);
        readsDuringJoin += KEYS;
      }
    })();
    processes.push(await joining);
    await eventually(async () => {
      await client.get(keyOf(1));
      return client.view()?.members.some((member) => member.id === 'p4') === true;
    }, 30_000);
    joined = true;
    await reader;
    expect(readsDuringJoin).toBeGreaterThan(0);
    expect(lostDuringJoin).toBe(0);
    const after = client.view()!;
    const afterPrimaries = primaries(after, 2);
    const moved = primaries(before, 2).filter((primary, p) => afterPrimaries[p] !== primary);
    const expected = PARTITION_COUNT / after.members.length;
    expect(moved.length).toBeGreaterThan(expected * 0.7);
    expect(moved.length).toBeLessThan(expected * 1.3);
    expect(await countLost(client)).toBe(0);
  }, 180_000);
});
