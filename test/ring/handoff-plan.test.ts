import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { diffTables, type HandoffPlan } from '../../src/ring/handoff-plan.js';
import { PartitionTable } from '../../src/ring/partition-table.js';
import { PARTITION_COUNT } from '../../src/ring/partitioner.js';

const idsArb = fc.uniqueArray(fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 8 }), {
  minLength: 1,
  maxLength: 10,
});

/** Rebuilds `after`'s owner sets from `before` plus the plan; returns mismatching partitions. */
function replay(before: PartitionTable, after: PartitionTable, plan: HandoffPlan): number[] {
  const owners = Array.from({ length: PARTITION_COUNT }, (_, p) => new Set(before.ownersOf(p)));
  const primaries = Array.from({ length: PARTITION_COUNT }, (_, p) => before.primaryOf(p));
  for (const node of plan.nodes) {
    for (const partition of node.lostOwnership) owners[partition]!.delete(node.node);
    for (const gain of node.gainedOwnership) owners[gain.partition]!.add(node.node);
    for (const gain of node.gainedPrimary) primaries[gain.partition] = node.node;
  }
  const wrong: number[] = [];
  for (let p = 0; p < PARTITION_COUNT; p++) {
    const expected = after.ownersOf(p);
    const set = owners[p]!;
    const same = set.size === expected.length && expected.every((id) => set.has(id));
    if (!same || primaries[p] !== after.primaryOf(p)) wrong.push(p);
  }
  return wrong;
}

describe('diffTables', () => {
  it('is empty between identical tables', () => {
    const table = PartitionTable.build(['a', 'b', 'c'], { replicationFactor: 2, vnodes: 16 });
    const plan = diffTables(
      table,
      PartitionTable.build(['c', 'b', 'a'], { replicationFactor: 2, vnodes: 16 }),
    );
    expect(plan.primaryMoves).toBe(0);
    expect(plan.ownershipGains).toBe(0);
    expect(plan.nodes.map((n) => n.node)).toEqual(['a', 'b', 'c']);
    for (const node of plan.nodes) {
      expect([
        node.gainedPrimary,
        node.lostPrimary,
        node.gainedOwnership,
        node.lostOwnership,
      ]).toEqual([[], [], [], []]);
    }
  });

  it('turns before into after for any two member sets', () => {
    fc.assert(
      fc.property(idsArb, idsArb, fc.integer({ min: 1, max: 3 }), (a, b, replicationFactor) => {
        const before = PartitionTable.build(a, { replicationFactor, vnodes: 16 });
        const after = PartitionTable.build(b, { replicationFactor, vnodes: 16 });
        const plan = diffTables(before, after);
        expect(replay(before, after, plan)).toEqual([]);
        expect(plan.nodes.map((n) => n.node)).toEqual([...new Set([...a, ...b])].sort());
        const gained = plan.nodes.reduce((sum, n) => sum + n.gainedPrimary.length, 0);
        const lost = plan.nodes.reduce((sum, n) => sum + n.lostPrimary.length, 0);
        expect(gained).toBe(plan.primaryMoves);
        expect(lost).toBe(plan.primaryMoves);
        expect(plan.nodes.reduce((sum, n) => sum + n.gainedOwnership.length, 0)).toBe(
          plan.ownershipGains,
        );
      }),
      { numRuns: 25 },
    );
  });

  it('names the previous owners, primary first, for every gained partition', () => {
    const before = PartitionTable.build(['a', 'b', 'c'], { replicationFactor: 2, vnodes: 32 });
    const after = PartitionTable.build(['a', 'b', 'c', 'd'], { replicationFactor: 2, vnodes: 32 });
    const plan = diffTables(before, after);
    const joiner = plan.nodes.find((n) => n.node === 'd')!;
    expect(joiner.gainedOwnership.length).toBeGreaterThan(0);
    expect(joiner.lostOwnership).toEqual([]);
    const wrong = joiner.gainedOwnership.filter(
      (gain) => gain.previousOwners.join() !== before.ownersOf(gain.partition).join(),
    );
    expect(wrong).toEqual([]);
    const partitions = joiner.gainedOwnership.map((gain) => gain.partition);
    expect(partitions).toEqual([...partitions].sort((x, y) => x - y));
    // Every primary move goes to the joiner; the others only lose.
    expect(joiner.gainedPrimary.length).toBe(plan.primaryMoves);
  });

  it('hands a leaving node`s partitions to the others and lists what it loses', () => {
    const before = PartitionTable.build(['a', 'b', 'c', 'd'], { replicationFactor: 2, vnodes: 32 });
    const after = PartitionTable.build(['a', 'b', 'c'], { replicationFactor: 2, vnodes: 32 });
    const plan = diffTables(before, after);
    const leaver = plan.nodes.find((n) => n.node === 'd')!;
    expect(leaver.lostOwnership).toEqual(before.partitionsOwnedBy('d'));
    expect(leaver.lostPrimary).toEqual(before.partitionsOwnedBy('d', 'primary'));
    expect(leaver.gainedOwnership).toEqual([]);
    expect(plan.primaryMoves).toBe(leaver.lostPrimary.length);
  });
});
