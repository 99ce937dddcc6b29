/**
 * `npm run bench ring`: placement speed.
 *
 * - `partitionOf` lookups/s for 16-byte ASCII keys, hash-tagged keys and non-ASCII
 *   keys, against `cluster-key-slot` (the slot function ioredis routes with; installed
 *   with ioredis) in the same run. Target: >= 5 million/s for 16-byte ASCII keys.
 * - `PartitionTable.build` time for 64 members (RF 2 and 3, default vnodes).
 * - `ownersOf` / `primaryOf` lookups/s, and key -> owners end to end.
 *
 * Keys are generated before timing; every loop is bounded and folds its results into
 * a checksum so the work cannot be optimised away. Each figure is the median of
 * several rounds, reported twice: per wall-clock second, and per second of this
 * process's CPU time (`process.cpuUsage`), which is what stays comparable when other
 * processes share the cores. The machine is shared: wall figures are noisy.
 */
import { createRequire } from 'node:module';
import { DEFAULT_VNODES, PartitionTable } from '../src/ring/partition-table.js';
import { PARTITION_COUNT, partitionOf } from '../src/ring/partitioner.js';
import { SeededRandom } from '../src/util/random.js';

const KEY_COUNT = 1 << 16;
const KEY_MASK = KEY_COUNT - 1;
const LOOKUP_ROUNDS = 7;
const LOOKUPS_PER_ROUND = 4_000_000;
const BUILD_ROUNDS = 9;
const TARGET_ASCII_LOOKUPS_PER_SEC = 5_000_000;

const random = new SeededRandom(0x5ea1);
const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:_-';

function randomAscii(length: number): string {
  let text = '';
  for (let i = 0; i < length; i++) text += ALPHABET[random.int(ALPHABET.length)];
  return text;
}

const NON_ASCII_PARTS = ['ключ', '日本語', 'café', '😀', 'naïve', '€'];
function randomNonAscii(): string {
  return `${NON_ASCII_PARTS[random.int(NON_ASCII_PARTS.length)]}:${randomAscii(8)}`;
}

const keySets = {
  ascii16: Array.from({ length: KEY_COUNT }, () => randomAscii(16)),
  hashTag: Array.from({ length: KEY_COUNT }, () => `{user${random.int(1e6)}}.${randomAscii(8)}`),
  nonAscii: Array.from({ length: KEY_COUNT }, randomNonAscii),
};

type SlotFunction = (key: string) => number;

function loadClusterKeySlot(): SlotFunction | undefined {
  try {
    const required = createRequire(import.meta.url)('cluster-key-slot') as unknown;
    return typeof required === 'function' ? (required as SlotFunction) : undefined;
  } catch {
    return undefined;
  }
}

let checksum = 0;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}

/** A measured figure: per wall-clock second and per second of this process's CPU. */
interface Timed {
  readonly wall: number;
  readonly cpu: number;
}

/** Runs `work` once, returning elapsed wall and CPU seconds. */
function time(work: () => void): Timed {
  const cpuStart = process.cpuUsage();
  const wallStart = performance.now();
  work();
  const wall = (performance.now() - wallStart) / 1000;
  const cpuUsed = process.cpuUsage(cpuStart);
  return { wall, cpu: (cpuUsed.user + cpuUsed.system) / 1e6 };
}

/**
 * Median calls per second of `round`, which makes `count` calls and returns a
 * checksum. Each measured loop is its own function literal so that the call inside
 * it stays monomorphic, as it would in a real caller.
 */
function perSecond(round: (count: number) => number): Timed {
  const wallRates: number[] = [];
  const cpuRates: number[] = [];
  for (let r = -1; r < LOOKUP_ROUNDS; r++) {
    const elapsed = time(() => {
      checksum = (checksum + round(LOOKUPS_PER_ROUND)) | 0;
    });
    if (r < 0) continue;
    wallRates.push(LOOKUPS_PER_ROUND / elapsed.wall);
    cpuRates.push(LOOKUPS_PER_ROUND / elapsed.cpu);
  }
  return { wall: median(wallRates), cpu: median(cpuRates) };
}

function shoalRound(keys: readonly string[], count: number): number {
  let sum = 0;
  for (let i = 0; i < count; i++) sum += partitionOf(keys[i & KEY_MASK]!);
  return sum;
}

function alternativeRound(slot: SlotFunction, keys: readonly string[], count: number): number {
  let sum = 0;
  for (let i = 0; i < count; i++) sum += slot(keys[i & KEY_MASK]!);
  return sum;
}

/** Median milliseconds (wall and CPU) of one `PartitionTable.build`. */
function buildMs(members: readonly string[], replicationFactor: number): Timed {
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let round = -1; round < BUILD_ROUNDS; round++) {
    globalThis.gc?.();
    const elapsed = time(() => {
      const table = PartitionTable.build(members, { replicationFactor });
      checksum = (checksum + table.ownerIndexAt(0, 0)) | 0;
    });
    if (round < 0) continue;
    wall.push(elapsed.wall * 1000);
    cpu.push(elapsed.cpu * 1000);
  }
  return { wall: median(wall), cpu: median(cpu) };
}

const clusterKeySlot = loadClusterKeySlot();
const figures: Record<string, number | boolean | null> = {};
const lines: string[] = [];
const mps = (value: number): string => `${(value / 1e6).toFixed(2)} M/s`;
const cell = (text: string, width: number): string => text.padStart(width);

lines.push(
  `${'lookups'.padEnd(26)}${cell('shoal wall', 13)}${cell('shoal cpu', 13)}` +
    `${cell('cks wall', 13)}${cell('cks cpu', 13)}${cell('ratio cpu', 11)}`,
);
for (const [name, keys] of Object.entries(keySets)) {
  const shoal = perSecond((count) => shoalRound(keys, count));
  const alternative = clusterKeySlot
    ? perSecond((count) => alternativeRound(clusterKeySlot, keys, count))
    : undefined;
  const ratio = alternative === undefined ? null : shoal.cpu / alternative.cpu;
  lines.push(
    `${`partitionOf ${name}`.padEnd(26)}${cell(mps(shoal.wall), 13)}${cell(mps(shoal.cpu), 13)}` +
      `${cell(alternative ? mps(alternative.wall) : 'n/a', 13)}` +
      `${cell(alternative ? mps(alternative.cpu) : 'n/a', 13)}` +
      `${cell(ratio === null ? 'n/a' : ratio.toFixed(2), 11)}`,
  );
  figures[`partitionOf_${name}_per_wall_sec`] = Math.round(shoal.wall);
  figures[`partitionOf_${name}_per_cpu_sec`] = Math.round(shoal.cpu);
  figures[`clusterKeySlot_${name}_per_wall_sec`] = alternative
    ? Math.round(alternative.wall)
    : null;
  figures[`clusterKeySlot_${name}_per_cpu_sec`] = alternative ? Math.round(alternative.cpu) : null;
  figures[`partitionOf_${name}_vs_clusterKeySlot_cpu`] =
    ratio === null ? null : Number(ratio.toFixed(2));
}

const members64 = Array.from({ length: 64 }, (_, i) => `node-${i}.shoal.internal:7400`);
const table = PartitionTable.build(members64, { replicationFactor: 3 });
const partitions = Int32Array.from({ length: KEY_COUNT }, () => random.int(PARTITION_COUNT));
const ownersOfRate = perSecond((count) => {
  let sum = 0;
  for (let i = 0; i < count; i++) sum += table.ownersOf(partitions[i & KEY_MASK]!).length;
  return sum;
});
const keyToPrimaryRate = perSecond((count) => {
  let sum = 0;
  for (let i = 0; i < count; i++) {
    sum += table.primaryOf(partitionOf(keySets.ascii16[i & KEY_MASK]!)).length;
  }
  return sum;
});
const keyToOwnersRate = perSecond((count) => {
  let sum = 0;
  for (let i = 0; i < count; i++) {
    sum += table.ownersOf(partitionOf(keySets.ascii16[i & KEY_MASK]!)).length;
  }
  return sum;
});
for (const [name, rate, key] of [
  ['ownersOf (64 members, RF 3)', ownersOfRate, 'ownersOf'],
  ['ascii16 key -> primaryOf', keyToPrimaryRate, 'key_to_primary'],
  ['ascii16 key -> ownersOf', keyToOwnersRate, 'key_to_owners'],
] as const) {
  lines.push(`${name.padEnd(26)}${cell(mps(rate.wall), 13)}${cell(mps(rate.cpu), 13)}`);
  figures[`${key}_per_wall_sec`] = Math.round(rate.wall);
  figures[`${key}_per_cpu_sec`] = Math.round(rate.cpu);
}

lines.push(
  '',
  `${`build (${DEFAULT_VNODES} vnodes/member)`.padEnd(26)}${cell('wall ms', 13)}${cell('cpu ms', 13)}`,
);
for (const [members, replicationFactor] of [
  [64, 2],
  [64, 3],
  [8, 2],
] as const) {
  const elapsed = buildMs(members64.slice(0, members), replicationFactor);
  lines.push(
    `${`${members} members, RF ${replicationFactor}`.padEnd(26)}` +
      `${cell(elapsed.wall.toFixed(2), 13)}${cell(elapsed.cpu.toFixed(2), 13)}`,
  );
  figures[`build_${members}_members_rf${replicationFactor}_wall_ms`] = Number(
    elapsed.wall.toFixed(3),
  );
  figures[`build_${members}_members_rf${replicationFactor}_cpu_ms`] = Number(
    elapsed.cpu.toFixed(3),
  );
}

const asciiWall = figures.partitionOf_ascii16_per_wall_sec as number;
const asciiCpu = figures.partitionOf_ascii16_per_cpu_sec as number;
figures.vnodes = DEFAULT_VNODES;
figures.target_ascii16_per_sec = TARGET_ASCII_LOOKUPS_PER_SEC;
figures.target_ascii16_met_wall = asciiWall >= TARGET_ASCII_LOOKUPS_PER_SEC;
figures.target_ascii16_met_cpu = asciiCpu >= TARGET_ASCII_LOOKUPS_PER_SEC;

console.log(
  `ring bench: Node ${process.version}, ${LOOKUP_ROUNDS} rounds x ${LOOKUPS_PER_ROUND} lookups ` +
    '(median); cks = cluster-key-slot (ioredis); ratio = shoal/cks per CPU second',
);
for (const line of lines) console.log(line);
console.log(
  `target >= ${TARGET_ASCII_LOOKUPS_PER_SEC / 1e6} M/s for 16-byte ASCII keys: ` +
    `wall ${figures.target_ascii16_met_wall ? 'met' : 'NOT met'}, ` +
    `cpu ${figures.target_ascii16_met_cpu ? 'met' : 'NOT met'}`,
);
if (clusterKeySlot === undefined) console.log('cluster-key-slot not installed: comparison skipped');
console.log(`(checksum ${checksum})`);
console.log(JSON.stringify({ bench: 'ring', ...figures }));
