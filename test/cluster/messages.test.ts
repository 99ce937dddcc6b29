import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeMessage,
  decodePartitions,
  decodeRequest,
  decodeView,
  encodePartitions,
  isErrorReply,
} from '../../src/cluster/messages.js';
import { PARTITION_COUNT } from '../../src/ring/partitioner.js';
import { InvalidArgumentError } from '../../src/util/errors.js';
import { SimCluster } from '../support/sim-cluster.js';

/** Plain data shaped loosely like cache messages, plus anything else. */
const hostile = fc.oneof(
  fc.anything(),
  fc.record({
    t: fc.constantFrom('op', 'ops', 'view', 'repl', 'probe', 'sopen', 'spull', 'drop', 'x'),
    e: fc.oneof(fc.integer(), fc.double(), fc.string()),
    p: fc.oneof(fc.integer(), fc.string()),
    ps: fc.oneof(fc.array(fc.integer()), fc.uint8Array(), fc.string()),
    sid: fc.oneof(fc.string(), fc.integer()),
    op: fc.record({ o: fc.string(), k: fc.anything(), v: fc.anything(), t: fc.anything() }),
    ops: fc.array(fc.anything(), { maxLength: 5 }),
    items: fc.array(fc.anything(), { maxLength: 5 }),
  }),
);

describe('cache channel messages', () => {
  it('decoders answer every input with a value or a typed error, never a crash', () => {
    fc.assert(
      fc.property(hostile, (value) => {
        try {
          decodeRequest(value, 1024);
        } catch (error) {
          expect(error).toBeInstanceOf(InvalidArgumentError);
        }
        decodeMessage(value);
        decodePartitions(value);
        try {
          decodeView(value);
        } catch (error) {
          expect(error).toBeInstanceOf(InvalidArgumentError);
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it('partition sets round-trip as lists and as bitmaps', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: PARTITION_COUNT - 1 }), { maxLength: 400 }),
        (partitions) => {
          const sorted = [...partitions].sort((a, b) => a - b);
          const decoded = decodePartitions(encodePartitions(sorted));
          expect([...(decoded ?? [])].sort((a, b) => a - b)).toEqual(sorted);
        },
      ),
    );
  });

  it('a node answers hostile requests with error replies and keeps serving', async () => {
    const cluster = new SimCluster({ seed: 41, node: { replicationFactor: 1 } });
    const node = cluster.start('n1');
    cluster.commit(['n1']);
    await cluster.settle();
    const attacker = cluster.net.createTransport('attacker');
    attacker.addPeer('n1', 'sim://n1');
    await cluster.scheduler.runForAsync(10);
    const samples = fc.sample(hostile, { numRuns: 300, seed: 7 });
    for (const sample of samples) {
      const reply = await cluster.run(
        attacker.request('n1', 'cache', sample, { timeoutMs: 1_000 }).catch((error) => error),
      );
      if (!(reply instanceof Error)) {
        const ok = (reply as { ok?: unknown }).ok;
        expect(ok === true || isErrorReply(reply)).toBe(true);
      }
    }
    expect(await cluster.run(node.set('still', 'serving'))).toBe(true);
    expect(await cluster.run(node.get('still'))).toBe('serving');
    await cluster.stopAll();
  });
});
