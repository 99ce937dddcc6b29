import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { murmur3 } from '../../src/ring/murmur3.js';
import {
  DEFAULT_VNODES,
  MAX_MEMBER_ID_LENGTH,
  MAX_MEMBERS,
  MAX_REPLICATION_FACTOR,
  MAX_VNODES,
  type OwnerRole,
  PartitionTable,
} from '../../src/ring/partition-table.js';
import { PARTITION_COUNT } from '../../src/ring/partitioner.js';

/** Distinct, well-formed member ids of `count` members (any Unicode, as ids may be). */
function memberIdsArb(minLength: number, maxLength: number): fc.Arbitrary<string[]> {
  return fc.uniqueArray(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }), {
    minLength,
    maxLength,
  });
}

/** Primary count per member index. */
function primaryCounts(table: PartitionTable): number[] {
  const counts = new Array<number>(table.members.length).fill(0);
  for (let partition = 0; partition < PARTITION_COUNT; partition++) {
    const index = table.ownerIndexAt(partition, 0);
    counts[index] = counts[index]! + 1;
  }
  return counts;
}

/**
 * The ring, transcribed from its definition with nothing clever: every vnode point
 * hashed from `Buffer.from(id + '#' + v)`, sorted by (hash, id), and for each
 * partition a scan for the first point at or after `p * 2^32 / 16384`.
 */
function referenceOwners(members: readonly string[], replicationFactor: number, vnodes: number) {
  const points: { hash: number; id: string }[] = [];
  for (const id of members) {
    for (let v = 0; v < vnodes; v++)
      points.push({ hash: murmur3(Buffer.from(`${id}#${v}`, 'utf8')), id });
  }
  points.sort((a, b) => a.hash - b.hash || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const want = Math.min(replicationFactor, members.length);
  const owners: string[][] = [];
  for (let partition = 0; partition < PARTITION_COUNT; partition++) {
    const position = partition * 2 ** 18;
    let start = points.findIndex((point) => point.hash >= position);
    if (start === -1) start = 0;
    const list: string[] = [];
    for (let k = 0; list.length < want; k++) {
      const id = points[(start + k) % points.length]!.id;
      if (!list.includes(id)) list.push(id);
    }
    owners.push(list);
  }
  return owners;
}

describe('PartitionTable.build', () => {
  it('places every partition exactly as the ring definition says', () => {
    fc.assert(
      fc.property(
        memberIdsArb(1, 6),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 6 }),
        (members, replicationFactor, vnodes) => {
          const table = PartitionTable.build(members, { replicationFactor, vnodes });
          const expected = referenceOwners(members, replicationFactor, vnodes);
          const mismatches: string[] = [];
          for (let partition = 0; partition < PARTITION_COUNT; partition++) {
            const actual = table.ownersOf(partition).join('>');
            const wanted = expected[partition]!.join('>');
            if (actual !== wanted) mismatches.push(`${partition}: ${actual} != ${wanted}`);
          }
          expect(mismatches.slice(0, 5)).toEqual([]);
        },
      ),
      { numRuns: 25 },
    );
  });

  it('gives every partition min(RF, n) distinct owners, primary first', () => {
    fc.assert(
      fc.property(
        memberIdsArb(1, 12),
        fc.integer({ min: 1, max: 5 }),
        (members, replicationFactor) => {
          const table = PartitionTable.build(members, { replicationFactor, vnodes: 16 });
          const expectedLength = Math.min(replicationFactor, members.length);
          expect(table.ownersPerPartition).toBe(expectedLength);
          const memberSet = new Set(members);
          const bad: number[] = [];
          for (let partition = 0; partition < PARTITION_COUNT; partition++) {
            const owners = table.ownersOf(partition);
            const ok =
              owners.length === expectedLength &&
              new Set(owners).size === expectedLength &&
              owners[0] === table.primaryOf(partition) &&
              owners.every((owner) => memberSet.has(owner));
            if (!ok) bad.push(partition);
          }
          expect(bad).toEqual([]);
        },
      ),
      { numRuns: 30 },
    );
  });

  it('is determined by the member set alone, not its order', () => {
    fc.assert(
      fc.property(
        memberIdsArb(1, 16).chain((members) =>
          fc.tuple(
            fc.constant(members),
            fc.shuffledSubarray(members, { minLength: members.length }),
          ),
        ),
        fc.integer({ min: 1, max: 3 }),
        ([members, shuffled], replicationFactor) => {
          const a = PartitionTable.build(members, { replicationFactor, vnodes: 64 });
          const b = PartitionTable.build(shuffled, { replicationFactor, vnodes: 64 });
          expect(a.equals(b)).toBe(true);
          expect(b.members).toEqual([...members].sort());
        },
      ),
      { numRuns: 30 },
    );
  });

  it('does not depend on anything outside its input (fixed fingerprint)', () => {
    // Pinned values: if these change, placement changed for every deployed cluster.
    const table = PartitionTable.build(['node-a', 'node-b', 'node-c'], { replicationFactor: 2 });
    const fingerprint = [0, 1, 4095, 8191, 16383].map((p) => table.ownersOf(p).join('>'));
    expect(fingerprint).toMatchInlineSnapshot(`
      [
        "node-a>node-b",
        "node-a>node-b",
        "node-c>node-a",
        "node-b>node-a",
        "node-a>node-b",
      ]
    `);
  });

  it('keeps the busiest member within 1.25x the mean number of primaries (3 to 64 members)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 3, max: 64 }).chain((n) => memberIdsArb(n, n)),
        (members) => {
          const table = PartitionTable.build(members, { replicationFactor: 2 });
          const mean = PARTITION_COUNT / members.length;
          const busiest = Math.max(...primaryCounts(table));
          expect(busiest, `${busiest} primaries vs mean ${mean}`).toBeLessThanOrEqual(1.25 * mean);
        },
      ),
      { numRuns: 12 },
    );
  });

  it('keeps the balance bound at the edges: 3 and 64 members with plain ids', () => {
    for (const n of [3, 64]) {
      const members = Array.from({ length: n }, (_, i) => `10.0.0.${i}:7400`);
      const table = PartitionTable.build(members, { replicationFactor: 3 });
      expect(Math.max(...primaryCounts(table))).toBeLessThanOrEqual((1.25 * PARTITION_COUNT) / n);
    }
  });

  it('moves only partitions to a joining member, at most 1.3x its fair share', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 3, max: 63 }).chain((n) => memberIdsArb(n + 1, n + 1)),
        (ids) => {
          const members = ids.slice(0, -1);
          const joiner = ids.at(-1)!;
          const before = PartitionTable.build(members, { replicationFactor: 2 });
          const after = PartitionTable.build(ids, { replicationFactor: 2 });
          let moved = 0;
          let movedElsewhere = 0;
          for (let partition = 0; partition < PARTITION_COUNT; partition++) {
            if (before.primaryOf(partition) !== after.primaryOf(partition)) {
              moved++;
              if (after.primaryOf(partition) !== joiner) movedElsewhere++;
            }
          }
          expect(movedElsewhere).toBe(0);
          expect(moved).toBeLessThanOrEqual((1.3 * PARTITION_COUNT) / ids.length);
          expect(moved).toBeGreaterThan(0);
        },
      ),
      { numRuns: 10 },
    );
  });

  it('moves only the leaving member`s primaries when a member leaves', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 64 }).chain((n) => memberIdsArb(n, n)),
        fc.nat(),
        (members, pick) => {
          const leaver = members[pick % members.length]!;
          const before = PartitionTable.build(members, { replicationFactor: 3 });
          const after = PartitionTable.build(
            members.filter((id) => id !== leaver),
            { replicationFactor: 3 },
          );
          const wronglyMoved: number[] = [];
          for (let partition = 0; partition < PARTITION_COUNT; partition++) {
            const previous = before.primaryOf(partition);
            const next = after.primaryOf(partition);
            if (previous === leaver ? next === leaver : next !== previous)
              wronglyMoved.push(partition);
          }
          expect(wronglyMoved).toEqual([]);
        },
      ),
      { numRuns: 10 },
    );
  });

  it('uses the default vnodes when none are given', () => {
    const table = PartitionTable.build(['a', 'b'], { replicationFactor: 1 });
    expect(table.vnodes).toBe(DEFAULT_VNODES);
    expect(
      table.equals(
        PartitionTable.build(['b', 'a'], { replicationFactor: 1, vnodes: DEFAULT_VNODES }),
      ),
    ).toBe(true);
  });

  it('lets one member own everything', () => {
    const table = PartitionTable.build(['solo'], { replicationFactor: 3 });
    expect(table.ownersPerPartition).toBe(1);
    expect(table.replicationFactor).toBe(3);
    expect(table.partitionsOwnedBy('solo')).toHaveLength(PARTITION_COUNT);
    expect(table.ownersOf(123)).toEqual(['solo']);
  });
});

describe('PartitionTable accessors', () => {
  const members = ['n1', 'n2', 'n3', 'n4'];
  const table = PartitionTable.build(members, { replicationFactor: 3, vnodes: 32 });

  it('agree with ownersOf', () => {
    const primary = new Map(members.map((id) => [id, [] as number[]]));
    const backup = new Map(members.map((id) => [id, [] as number[]]));
    const disagreements: string[] = [];
    for (let partition = 0; partition < PARTITION_COUNT; partition++) {
      const owners = table.ownersOf(partition);
      owners.forEach((id, rank) => {
        if (table.rankOf(id, partition) !== rank) disagreements.push(`rankOf ${id} @${partition}`);
        if (table.members[table.ownerIndexAt(partition, rank)] !== id) {
          disagreements.push(`ownerIndexAt ${rank} @${partition}`);
        }
        (rank === 0 ? primary : backup).get(id)!.push(partition);
      });
      for (const id of members) {
        if (!owners.includes(id) && table.rankOf(id, partition) !== -1) {
          disagreements.push(`rankOf non-owner ${id} @${partition}`);
        }
      }
    }
    expect(disagreements).toEqual([]);
    for (const id of members) {
      expect(table.partitionsOwnedBy(id, 'primary')).toEqual(primary.get(id));
      expect(table.partitionsOwnedBy(id, 'backup')).toEqual(backup.get(id));
      expect(table.partitionsOwnedBy(id)).toEqual(
        [...primary.get(id)!, ...backup.get(id)!].sort((a, b) => a - b),
      );
      expect(table.indexOf(id)).toBe(table.members.indexOf(id));
    }
  });

  it('return the same frozen owner list on every call', () => {
    const owners = table.ownersOf(77);
    expect(table.ownersOf(77)).toBe(owners);
    expect(Object.isFrozen(owners)).toBe(true);
    expect(Object.isFrozen(table.members)).toBe(true);
  });

  it('answer for non-members without throwing', () => {
    expect(table.partitionsOwnedBy('ghost')).toEqual([]);
    expect(table.rankOf('ghost', 0)).toBe(-1);
    expect(table.indexOf('ghost')).toBe(-1);
  });

  it('reject partitions and ranks out of range with typed errors', () => {
    for (const bad of [-1, PARTITION_COUNT, 1.5, Number.NaN]) {
      expect(() => table.ownersOf(bad)).toThrow(
        expect.objectContaining({ code: 'ERR_RING_INVALID_PARTITION' }),
      );
      expect(() => table.primaryOf(bad)).toThrow(
        expect.objectContaining({ code: 'ERR_RING_INVALID_PARTITION' }),
      );
    }
    expect(() => table.partitionsOwnedBy('n1', 'everyone' as OwnerRole)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
    );
    expect(() => table.ownerIndexAt(0, 3)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
    );
  });

  it('compare tables by placement', () => {
    expect(table.equals(PartitionTable.build(members, { replicationFactor: 3, vnodes: 32 }))).toBe(
      true,
    );
    expect(table.equals(PartitionTable.build(members, { replicationFactor: 2, vnodes: 32 }))).toBe(
      false,
    );
    expect(table.equals(PartitionTable.build(members, { replicationFactor: 3, vnodes: 33 }))).toBe(
      false,
    );
    expect(
      table.equals(
        PartitionTable.build(['n1', 'n2', 'n3', 'n5'], { replicationFactor: 3, vnodes: 32 }),
      ),
    ).toBe(false);
  });
});

describe('PartitionTable.build validation', () => {
  const build = (members: unknown, options: unknown) => () =>
    PartitionTable.build(members as string[], options as { replicationFactor: number });

  it.each([
    ['no members', [], { replicationFactor: 1 }, 'ERR_RING_EMPTY_MEMBERSHIP'],
    ['a duplicate id', ['a', 'b', 'a'], { replicationFactor: 1 }, 'ERR_RING_DUPLICATE_MEMBER'],
    ['an empty id', ['a', ''], { replicationFactor: 1 }, 'ERR_RING_INVALID_MEMBER_ID'],
    ['a non-string id', ['a', 7], { replicationFactor: 1 }, 'ERR_RING_INVALID_MEMBER_ID'],
    [
      'an over-long id',
      ['x'.repeat(MAX_MEMBER_ID_LENGTH + 1)],
      { replicationFactor: 1 },
      'ERR_RING_INVALID_MEMBER_ID',
    ],
    [
      'a lone surrogate in an id',
      ['a\ud800'],
      { replicationFactor: 1 },
      'ERR_RING_INVALID_MEMBER_ID',
    ],
    [
      'a reversed surrogate pair',
      ['\udc00\ud800'],
      { replicationFactor: 1 },
      'ERR_RING_INVALID_MEMBER_ID',
    ],
    [
      'members that are not an array',
      'abc',
      { replicationFactor: 1 },
      'ERR_RING_INVALID_MEMBER_ID',
    ],
    ['RF 0', ['a'], { replicationFactor: 0 }, 'ERR_RING_INVALID_REPLICATION_FACTOR'],
    ['RF 1.5', ['a'], { replicationFactor: 1.5 }, 'ERR_RING_INVALID_REPLICATION_FACTOR'],
    ['RF NaN', ['a'], { replicationFactor: Number.NaN }, 'ERR_RING_INVALID_REPLICATION_FACTOR'],
    [
      'RF too large',
      ['a'],
      { replicationFactor: MAX_REPLICATION_FACTOR + 1 },
      'ERR_RING_INVALID_REPLICATION_FACTOR',
    ],
    ['no RF', ['a'], {}, 'ERR_RING_INVALID_REPLICATION_FACTOR'],
    ['0 vnodes', ['a'], { replicationFactor: 1, vnodes: 0 }, 'ERR_RING_INVALID_VNODES'],
    [
      'too many vnodes',
      ['a'],
      { replicationFactor: 1, vnodes: MAX_VNODES + 1 },
      'ERR_RING_INVALID_VNODES',
    ],
    ['fractional vnodes', ['a'], { replicationFactor: 1, vnodes: 2.5 }, 'ERR_RING_INVALID_VNODES'],
  ])('rejects %s', (_name, members, options, code) => {
    expect(build(members, options)).toThrow(expect.objectContaining({ code }));
  });

  it('rejects more members than it can index, and more ring points than its limit', () => {
    const many = Array.from({ length: MAX_MEMBERS + 1 }, (_, i) => `m${i}`);
    expect(build(many, { replicationFactor: 1 })).toThrow(
      expect.objectContaining({ code: 'ERR_RING_TOO_MANY_MEMBERS' }),
    );
    const allowed = many.slice(0, MAX_MEMBERS);
    expect(build(allowed, { replicationFactor: 1, vnodes: MAX_VNODES })).toThrow(
      expect.objectContaining({ code: 'ERR_RING_INVALID_VNODES' }),
    );
  });

  it('accepts ids with surrogate pairs and the separator character', () => {
    const table = PartitionTable.build(['😀', 'a#1', 'a'], { replicationFactor: 3, vnodes: 8 });
    expect(new Set(table.ownersOf(0))).toEqual(new Set(['😀', 'a#1', 'a']));
  });
});
