import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { CacheNode } from '../../src/cluster/cache-node.js';
import {
  checkConfigWrite,
  MIN_LIVE_MAX_MEMORY_BYTES,
  parseClusterSetting,
} from '../../src/cluster/cluster-settings.js';
import { InvalidSettingError } from '../../src/cluster/errors.js';
import {
  jitterTtl,
  LiveSettings,
  type LiveSettingValues,
} from '../../src/cluster/live-settings.js';
import type { ClusterConfigReader } from '../../src/cluster/view-source.js';
import type { LogFields, Logger } from '../../src/util/logger.js';
import { SeededRandom } from '../../src/util/random.js';
import { SimCluster } from '../support/sim-cluster.js';

const DEFAULTS: LiveSettingValues = {
  defaultTtlMs: 0,
  ttlJitter: 0,
  maxValueBytes: 1024 * 1024,
  maxMemoryBytes: 256 * 1024 * 1024,
  writeConcern: 'all',
};

/** A config reader a test commits to by hand, calling watchers as a commit would. */
class FakeConfig implements ClusterConfigReader {
  private readonly values = new Map<string, { value: unknown; version: number }>();
  private readonly watchers = new Map<string, Set<(value: unknown, version: number) => void>>();

  get(key: string): unknown {
    return this.values.get(key)?.value;
  }

  version(key: string): number {
    return this.values.get(key)?.version ?? 0;
  }

  watch(key: string, fn: (value: unknown, version: number) => void): () => void {
    let set = this.watchers.get(key);
    if (set === undefined) {
      set = new Set();
      this.watchers.set(key, set);
    }
    set.add(fn);
    return () => set.delete(fn);
  }

  watcherCount(): number {
    let count = 0;
    for (const set of this.watchers.values()) count += set.size;
    return count;
  }

  /** Commits `value` without any validation, as a misbehaving writer could. */
  commit(key: string, value: unknown): void {
    const version = this.version(key) + 1;
    this.values.set(key, { value, version });
    for (const fn of this.watchers.get(key) ?? []) fn(value, version);
  }
}

class RecordingLogger implements Logger {
  readonly warnings: { message: string; fields: LogFields | undefined }[] = [];
  debug(): void {}
  info(): void {}
  warn(message: string, fields?: LogFields): void {
    this.warnings.push({ message, fields });
  }
  error(): void {}
}

describe('cluster setting values', () => {
  it('parses byte sizes and refuses what does not fit each key with a typed error', () => {
    expect(parseClusterSetting('maxMemory', '64mb')).toBe(64 * 1024 * 1024);
    expect(parseClusterSetting('maxValueBytes', 4096)).toBe(4096);
    expect(parseClusterSetting('ttlJitter', 0.25)).toBe(0.25);
    expect(parseClusterSetting('writeConcern', 'quorum')).toBe('quorum');
    expect(parseClusterSetting('defaultTtlMs', null)).toBeNull();
    const refused: [string, unknown][] = [
      ['maxMemory', 'banana'],
      ['maxMemory', MIN_LIVE_MAX_MEMORY_BYTES - 1],
      ['maxMemory', { size: 1 }],
      ['maxValueBytes', 0],
      ['maxValueBytes', -5],
      ['ttlJitter', 1.5],
      ['ttlJitter', Number.NaN],
      ['ttlJitter', '0.1'],
      ['defaultTtlMs', -1],
      ['defaultTtlMs', 1.5],
      ['writeConcern', 'most'],
      ['replicationFactor', 0],
      ['replicationFactor', 17],
    ];
    for (const [key, value] of refused) {
      const attempt = () => checkConfigWrite(key, value);
      expect(attempt, `${key}=${String(value)}`).toThrow(InvalidSettingError);
    }
    expect(() => checkConfigWrite('maxMemory', 'banana')).toThrow(/maxMemory.*"banana"/);
    // Keys shoal does not read are the application's own.
    expect(() => checkConfigWrite('app.featureFlag', 'banana')).not.toThrow();
  });
});

describe('LiveSettings', () => {
  it('starts from committed values, follows commits, and falls back to the node option on null', () => {
    const config = new FakeConfig();
    config.commit('defaultTtlMs', 5_000);
    const resized: number[] = [];
    const live = new LiveSettings(
      DEFAULTS,
      config,
      new SeededRandom(1),
      new RecordingLogger(),
      (b) => resized.push(b),
    );
    expect(live.defaultTtlMs).toBe(5_000);
    expect(live.ttlForSet(undefined)).toBe(5_000);
    expect(live.ttlForSet(70)).toBe(70);

    config.commit('maxMemory', '1mb');
    expect(resized).toEqual([1024 * 1024]);
    expect(live.maxMemoryBytes).toBe(1024 * 1024);
    // A value limit above the memory bound is capped by it.
    expect(live.maxValueBytes).toBe(1024 * 1024);
    config.commit('maxValueBytes', '2kb');
    expect(live.maxValueBytes).toBe(2048);
    // The wire keeps accepting the largest limit applied so far (lagging primaries).
    expect(live.wireValueBytes).toBe(1024 * 1024);

    expect(live.handoffByWatermark).toBe(false);
    config.commit('writeConcern', 'one');
    expect(live.writeConcern).toBe('one');
    config.commit('writeConcern', 'all');
    expect(live.writeConcern).toBe('all');
    // A backup may still lack writes acknowledged under `one`.
    expect(live.handoffByWatermark).toBe(true);

    config.commit('defaultTtlMs', null);
    expect(live.ttlForSet(undefined)).toBeUndefined();
    config.commit('maxMemory', null);
    expect(resized).toEqual([1024 * 1024, DEFAULTS.maxMemoryBytes]);
    expect(live.current()).toEqual({ ...DEFAULTS, maxValueBytes: 2048 });

    live.close();
    expect(config.watcherCount()).toBe(0);
  });

  it('logs and ignores a committed value that does not parse, keeping the one it had', () => {
    const config = new FakeConfig();
    const logger = new RecordingLogger();
    const resized: number[] = [];
    const live = new LiveSettings(DEFAULTS, config, new SeededRandom(1), logger, (b) =>
      resized.push(b),
    );
    config.commit('maxMemory', '8mb');
    config.commit('maxMemory', 'banana');
    config.commit('ttlJitter', 7);
    expect(live.maxMemoryBytes).toBe(8 * 1024 * 1024);
    expect(live.ttlJitter).toBe(0);
    expect(resized).toEqual([8 * 1024 * 1024]);
    expect(logger.warnings.map((w) => w.fields?.key)).toEqual(['maxMemory', 'ttlJitter']);
    // A bad value already committed when the node starts is ignored the same way.
    const later = new LiveSettings(DEFAULTS, config, new SeededRandom(1), logger, () => {});
    expect(later.maxMemoryBytes).toBe(DEFAULTS.maxMemoryBytes);
    expect(logger.warnings).toHaveLength(4);
    later.close();
    live.close();
  });

  it('jitters every TTL within [ttl * (1 - jitter), ttl] and above 0', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 1e-3, max: 2 ** 40, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer(),
        (ttlMs, jitter, seed) => {
          const random = new SeededRandom(seed);
          for (let i = 0; i < 20; i++) {
            const jittered = jitterTtl(ttlMs, jitter, random);
            expect(jittered).toBeGreaterThan(0);
            expect(jittered).toBeLessThanOrEqual(ttlMs);
            expect(jittered).toBeGreaterThanOrEqual(ttlMs * (1 - jitter));
          }
        },
      ),
    );
  });

  it('spreads TTLs over the whole range rather than bunching them', () => {
    const random = new SeededRandom(42);
    const ttls = Array.from({ length: 2_000 }, () => jitterTtl(10_000, 0.2, random));
    const buckets = new Array<number>(4).fill(0);
    for (const ttl of ttls) buckets[Math.min(3, Math.floor((10_000 - ttl) / 500))]!++;
    // Uniform over [8000, 10000]: about 500 per 500 ms bucket.
    for (const count of buckets) {
      expect(count).toBeGreaterThan(400);
      expect(count).toBeLessThan(600);
    }
  });
});

describe('TTL jitter and default TTL at the primary', () => {
  let cluster: SimCluster | undefined;

  afterEach(async () => {
    await cluster?.stopAll();
    cluster = undefined;
  });

  async function ttlsOf(seed: number): Promise<number[]> {
    cluster = new SimCluster({
      seed,
      node: { replicationFactor: 1, ttlJitter: 0.5, defaultTtlMs: 4_000 },
    });
    const node: CacheNode = cluster.start('n1');
    cluster.commit(['n1']);
    await cluster.scheduler.runUntilConditionAsync(() => node.isSettled(), 10_000);
    const ttls: number[] = [];
    for (let i = 0; i < 100; i++) {
      await cluster.run(node.set(`k${i}`, i, { ttlMs: 10_000 }));
      ttls.push(await cluster.run(node.ttl(`k${i}`)));
    }
    await cluster.run(node.set('no-ttl', 1));
    ttls.push(await cluster.run(node.ttl('no-ttl')));
    await cluster.stopAll();
    cluster = undefined;
    return ttls;
  }

  it('is deterministic under a seed, within bounds, and gives sets without a TTL the default', async () => {
    const first = await ttlsOf(7);
    const explicit = first.slice(0, 100);
    for (const ttl of explicit) {
      expect(ttl).toBeGreaterThanOrEqual(5_000);
      expect(ttl).toBeLessThanOrEqual(10_000);
    }
    expect(Math.min(...explicit)).toBeLessThan(6_000);
    expect(Math.max(...explicit)).toBeGreaterThan(9_000);
    const byDefault = first[100]!;
    expect(byDefault).toBeGreaterThanOrEqual(2_000);
    expect(byDefault).toBeLessThanOrEqual(4_000);
    expect(await ttlsOf(7)).toEqual(first);
  });

  it('spreads only the fresh part of a getOrLoad entry with a stale window', async () => {
    cluster = new SimCluster({ seed: 3, node: { replicationFactor: 1, ttlJitter: 0.5 } });
    const node: CacheNode = cluster.start('n1');
    cluster.commit(['n1']);
    await cluster.scheduler.runUntilConditionAsync(() => node.isSettled(), 10_000);
    const options = { ttlMs: 10_000, staleWhileRevalidateMs: 20_000 };
    const ttls: number[] = [];
    for (let i = 0; i < 40; i++) {
      expect(await cluster.run(node.getOrLoad(`swr:${i}`, () => i, options))).toBe(i);
      ttls.push(await cluster.run(node.ttl(`swr:${i}`)));
      // Fresh at birth: a second call answers without loading.
      const again = node.getOrLoad(
        `swr:${i}`,
        () => {
          throw new Error('must not load');
        },
        options,
      );
      expect(await cluster.run(again)).toBe(i);
    }
    for (const ttl of ttls) {
      expect(ttl).toBeGreaterThanOrEqual(25_000);
      expect(ttl).toBeLessThanOrEqual(30_000);
    }
    expect(Math.min(...ttls)).toBeLessThan(27_000);
  });
});
