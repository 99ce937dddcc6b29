import type { Logger } from '../util/logger.js';
import type { Random } from '../util/random.js';
import type { WriteConcern } from './cache-api.js';
import {
  type ClusterSettingValues,
  LIVE_SETTING_KEYS,
  type LiveSettingKey,
  parseClusterSetting,
} from './cluster-settings.js';
import type { ClusterConfigReader } from './view-source.js';

/**
 * Values of the live settings: a node's own (what applies while the cluster config
 * has none), or those in effect.
 */
export interface LiveSettingValues {
  readonly defaultTtlMs: number;
  readonly ttlJitter: number;
  readonly maxValueBytes: number;
  readonly maxMemoryBytes: number;
  readonly writeConcern: WriteConcern;
}

type Values = Pick<ClusterSettingValues, LiveSettingKey>;

/**
 * Spreads `ttlMs` uniformly over `[ttlMs * (1 - jitter), ttlMs]`. Jitter only ever
 * shortens a TTL, so an entry never outlives what its writer asked for; spreading
 * down is what keeps a batch of keys written together from expiring together.
 */
export function jitterTtl(ttlMs: number, jitter: number, random: Random): number {
  if (jitter === 0) return ttlMs;
  const lowest = ttlMs * (1 - jitter);
  const spread = Math.min(ttlMs, Math.max(lowest, ttlMs - ttlMs * jitter * random.next()));
  // With jitter 1 rounding could reach 0, which a TTL cannot be.
  return spread > 0 ? spread : ttlMs;
}

/**
 * The cluster settings one node applies live: `defaultTtlMs`, `ttlJitter`,
 * `maxValueBytes`, `maxMemory` and `writeConcern`. Each is the cluster config's value
 * when one is committed, else the node's own option. Changes arrive through the
 * config's `watch`, so every node applies them in commit order, without a restart.
 *
 * A committed value that does not parse (written by something that skipped
 * `checkConfigWrite`) is logged and ignored: the node keeps the value it had.
 */
export class LiveSettings {
  private readonly defaults: LiveSettingValues;
  private readonly random: Random;
  private readonly logger: Logger;
  private readonly onMaxMemory: (bytes: number) => void;
  private readonly unsubscribers: (() => void)[] = [];
  private values: Values;
  private belowAllSeen: boolean;
  private largestValueBytes: number;

  /**
   * @param onMaxMemory called after `maxMemory` changed (not for the initial value),
   *   so the node can resize its store.
   */
  constructor(
    defaults: LiveSettingValues,
    config: ClusterConfigReader,
    random: Random,
    logger: Logger,
    onMaxMemory: (bytes: number) => void,
  ) {
    this.defaults = defaults;
    this.random = random;
    this.logger = logger;
    this.onMaxMemory = onMaxMemory;
    this.values = {
      defaultTtlMs: defaults.defaultTtlMs,
      ttlJitter: defaults.ttlJitter,
      maxValueBytes: defaults.maxValueBytes,
      maxMemory: defaults.maxMemoryBytes,
      writeConcern: defaults.writeConcern,
    };
    for (const key of LIVE_SETTING_KEYS) this.apply(key, config.get(key), false);
    this.belowAllSeen =
      defaults.writeConcern !== 'all' ||
      this.values.writeConcern !== 'all' ||
      (config.version?.('writeConcern') ?? 0) > 0;
    this.largestValueBytes = Math.max(defaults.maxValueBytes, this.maxValueBytes);
    if (config.watch !== undefined) {
      for (const key of LIVE_SETTING_KEYS) {
        this.unsubscribers.push(config.watch(key, (value) => this.apply(key, value, true)));
      }
    }
  }

  /** The write concern new batches use. */
  get writeConcern(): WriteConcern {
    return this.values.writeConcern;
  }

  /** The largest encoded value a new write may carry (never above `maxMemoryBytes`). */
  get maxValueBytes(): number {
    return Math.min(this.values.maxValueBytes, this.values.maxMemory);
  }

  /** The store's byte bound. */
  get maxMemoryBytes(): number {
    return this.values.maxMemory;
  }

  get defaultTtlMs(): number {
    return this.values.defaultTtlMs;
  }

  get ttlJitter(): number {
    return this.values.ttlJitter;
  }

  /**
   * The largest value accepted on the wire: the highest `maxValueBytes` this node has
   * applied. A primary that has not applied a lower limit yet may still replicate a
   * larger value, and a backup refusing it would only force a resync.
   */
  get wireValueBytes(): number {
    return this.largestValueBytes;
  }

  /**
   * Whether handoff must compare watermarks and a promoted backup must probe before
   * serving. True once a write concern below `all` may have been in effect here, or
   * the write concern is managed through the cluster config at all: a backup may then
   * lack writes acknowledged earlier, whatever the concern is now.
   */
  get handoffByWatermark(): boolean {
    return this.belowAllSeen;
  }

  /** The values in effect now. */
  current(): LiveSettingValues {
    return {
      defaultTtlMs: this.values.defaultTtlMs,
      ttlJitter: this.values.ttlJitter,
      maxValueBytes: this.maxValueBytes,
      maxMemoryBytes: this.values.maxMemory,
      writeConcern: this.values.writeConcern,
    };
  }

  /** The TTL a `set` gets at its primary: the caller's or else the default, jittered. */
  ttlForSet(ttlMs: number | undefined): number | undefined {
    const base = ttlMs ?? (this.values.defaultTtlMs > 0 ? this.values.defaultTtlMs : undefined);
    return base === undefined ? undefined : jitterTtl(base, this.values.ttlJitter, this.random);
  }

  /** Stops following the cluster config. */
  close(): void {
    for (const unsubscribe of this.unsubscribers.splice(0)) unsubscribe();
  }

  private apply(key: LiveSettingKey, raw: unknown, live: boolean): void {
    if (key === 'writeConcern' && live) this.belowAllSeen = true;
    let parsed: Values[LiveSettingKey] | null;
    try {
      parsed = raw === undefined ? null : parseClusterSetting(key, raw);
    } catch (error) {
      this.logger.warn('ignoring an invalid committed config value', {
        key,
        reason: error instanceof Error ? error.message : String(error),
      });
      return;
    }
    const previous = this.values[key];
    const next = parsed ?? this.defaultOf(key);
    if (next === previous) return;
    this.values = { ...this.values, [key]: next };
    if (!live) return;
    this.largestValueBytes = Math.max(this.largestValueBytes, this.maxValueBytes);
    this.logger.info('applied a cluster setting', { key, value: next, previous });
    if (key === 'maxMemory') this.onMaxMemory(this.values.maxMemory);
  }

  private defaultOf(key: LiveSettingKey): Values[LiveSettingKey] {
    switch (key) {
      case 'defaultTtlMs':
        return this.defaults.defaultTtlMs;
      case 'ttlJitter':
        return this.defaults.ttlJitter;
      case 'maxValueBytes':
        return this.defaults.maxValueBytes;
      case 'maxMemory':
        return this.defaults.maxMemoryBytes;
      case 'writeConcern':
        return this.defaults.writeConcern;
    }
  }
}
