import { MAX_REPLICATION_FACTOR } from '../ring/partition-table.js';
import { MAX_ENTRY_BYTES } from '../store/limits.js';
import { parseByteSize } from '../util/byte-size.js';
import type { WriteConcern } from './cache-api.js';
import { InvalidSettingError } from './errors.js';

/** Config keys every node applies to itself, live, in commit order. */
export const LIVE_SETTING_KEYS = [
  'defaultTtlMs',
  'ttlJitter',
  'maxValueBytes',
  'maxMemory',
  'writeConcern',
] as const;

/** A cluster setting a node applies without a restart. */
export type LiveSettingKey = (typeof LIVE_SETTING_KEYS)[number];

/** Cluster config keys with a meaning to shoal: the live ones, plus `replicationFactor`. */
export type ClusterSettingKey = LiveSettingKey | 'replicationFactor';

/**
 * The smallest `maxMemory` a config write may set. A typo such as `maxMemory 1` would
 * otherwise empty every node of the cluster at once.
 */
export const MIN_LIVE_MAX_MEMORY_BYTES = 64 * 1024;

/** Longest `defaultTtlMs` (the same bound as any TTL: 2^53 ms). */
const MAX_TTL_MS = 2 ** 53;
const WRITE_CONCERNS: readonly WriteConcern[] = ['one', 'quorum', 'all'];

/** The parsed value of each setting. */
export interface ClusterSettingValues {
  /** 0: no default TTL. */
  readonly defaultTtlMs: number;
  /** Fraction in [0, 1]. */
  readonly ttlJitter: number;
  readonly maxValueBytes: number;
  /** Bytes. */
  readonly maxMemory: number;
  readonly writeConcern: WriteConcern;
  readonly replicationFactor: number;
}

/** Whether `key` is one of the settings shoal reads from the cluster config. */
export function isClusterSetting(key: string): key is ClusterSettingKey {
  return key === 'replicationFactor' || (LIVE_SETTING_KEYS as readonly string[]).includes(key);
}

/**
 * Checks a value for a cluster setting and returns it parsed (byte sizes such as
 * `'64mb'` become numbers). `null` is accepted for every key: it clears the
 * cluster-wide value, so each node goes back to its own start option.
 *
 * @throws {InvalidSettingError} the value is not valid for `key`.
 */
export function parseClusterSetting<K extends ClusterSettingKey>(
  key: K,
  value: unknown,
): ClusterSettingValues[K] | null {
  if (value === null) return null;
  return parseValue(key, value) as ClusterSettingValues[K];
}

/**
 * Refuses a config write that would commit an invalid value for a cluster setting;
 * any other key is the application's own and passes unchecked.
 *
 * @throws {InvalidSettingError}
 */
export function checkConfigWrite(key: string, value: unknown): void {
  if (isClusterSetting(key)) parseClusterSetting(key, value);
}

function parseValue(key: ClusterSettingKey, value: unknown): ClusterSettingValues[typeof key] {
  switch (key) {
    case 'defaultTtlMs':
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
        throw new InvalidSettingError(key, 'a whole number of ms >= 0 (0: no default TTL)', value);
      }
      if (value > MAX_TTL_MS) throw new InvalidSettingError(key, `at most ${MAX_TTL_MS}`, value);
      return value;
    case 'ttlJitter':
      if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
        throw new InvalidSettingError(key, 'a fraction from 0 to 1', value);
      }
      return value;
    case 'maxValueBytes':
      return byteSize(key, value, 1, MAX_ENTRY_BYTES);
    case 'maxMemory':
      return byteSize(key, value, MIN_LIVE_MAX_MEMORY_BYTES, MAX_ENTRY_BYTES);
    case 'writeConcern':
      if (!WRITE_CONCERNS.includes(value as WriteConcern)) {
        throw new InvalidSettingError(key, 'one, quorum or all', value);
      }
      return value as WriteConcern;
    case 'replicationFactor':
      if (
        typeof value !== 'number' ||
        !Number.isInteger(value) ||
        value < 1 ||
        value > MAX_REPLICATION_FACTOR
      ) {
        throw new InvalidSettingError(key, `an integer from 1 to ${MAX_REPLICATION_FACTOR}`, value);
      }
      return value;
  }
}

function byteSize(key: string, value: unknown, min: number, max: number): number {
  const expected = `a byte size from ${min} to ${max} (a number, or text such as "64mb")`;
  if (typeof value !== 'number' && typeof value !== 'string') {
    throw new InvalidSettingError(key, expected, value);
  }
  let bytes: number;
  try {
    bytes = parseByteSize(value, key);
  } catch {
    throw new InvalidSettingError(key, expected, value);
  }
  if (bytes < min || bytes > max) throw new InvalidSettingError(key, expected, value);
  return bytes;
}
