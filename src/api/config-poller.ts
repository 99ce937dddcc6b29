import { InvalidArgumentError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import type { Scheduler, TimerHandle } from '../util/scheduler.js';

/** Most keys one client watches at once. */
export const MAX_CLIENT_CONFIG_WATCHES = 1_000;
/** Default period between two reads of the watched keys. */
export const DEFAULT_CONFIG_POLL_MS = 1_000;

/** A config key's committed value and version. */
export interface PolledEntry {
  readonly value: unknown;
  readonly version: number;
}

interface Watched {
  readonly key: string;
  readonly fn: (value: unknown, version: number) => void;
  /** The version `fn` last heard of (0: none yet). */
  version: number;
}

/**
 * Config watches for a thin client, which holds no copy of the coordinator's log:
 * every `periodMs` it reads each watched key through a member and calls the watcher
 * when the version moved. Unlike a member's watch, it may skip versions committed
 * between two reads; what it reports is always newer than what it reported before,
 * so a watcher never goes back in time. Reads run one at a time, never overlapping.
 */
export class ConfigPoller {
  private readonly read: (key: string) => Promise<PolledEntry>;
  private readonly scheduler: Scheduler;
  private readonly logger: Logger;
  private readonly periodMs: number;
  private readonly watches = new Set<Watched>();
  private timer: TimerHandle | undefined;
  private polling = false;
  private closed = false;

  constructor(
    read: (key: string) => Promise<PolledEntry>,
    scheduler: Scheduler,
    logger: Logger,
    periodMs = DEFAULT_CONFIG_POLL_MS,
  ) {
    this.read = read;
    this.scheduler = scheduler;
    this.logger = logger;
    this.periodMs = periodMs;
  }

  /**
   * Calls `fn(value, version)` with the key's current value once it is first read (if
   * it was ever set), then each time a read finds a newer version; returns the
   * unsubscribe.
   */
  watch(key: string, fn: (value: unknown, version: number) => void): () => void {
    if (typeof key !== 'string') throw new InvalidArgumentError('config key must be a string');
    if (typeof fn !== 'function') throw new InvalidArgumentError('listener must be a function');
    if (this.watches.size >= MAX_CLIENT_CONFIG_WATCHES) {
      throw new InvalidArgumentError(`at most ${MAX_CLIENT_CONFIG_WATCHES} config watches`);
    }
    const watched: Watched = { key, fn, version: 0 };
    this.watches.add(watched);
    if (this.timer === undefined && !this.closed) {
      this.timer = this.scheduler.setInterval(() => void this.poll(), this.periodMs);
      void this.poll();
    }
    return () => {
      this.watches.delete(watched);
      if (this.watches.size === 0) this.stopTimer();
    };
  }

  /** Ends every watch. */
  close(): void {
    this.closed = true;
    this.watches.clear();
    this.stopTimer();
  }

  private stopTimer(): void {
    if (this.timer !== undefined) this.scheduler.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async poll(): Promise<void> {
    if (this.polling || this.closed) return;
    this.polling = true;
    try {
      const keys = new Set([...this.watches].map((watched) => watched.key));
      for (const key of keys) {
        let entry: PolledEntry;
        try {
          entry = await this.read(key);
        } catch (error) {
          // The next period tries again; a watch outlives a member being down.
          this.logger.debug('config watch read failed', { key, error: String(error) });
          continue;
        }
        for (const watched of [...this.watches]) {
          if (watched.key !== key || !this.watches.has(watched)) continue;
          if (entry.version > watched.version) {
            watched.version = entry.version;
            try {
              watched.fn(entry.value, entry.version);
            } catch (error) {
              this.logger.error('config watcher threw', { key, error: String(error) });
            }
          }
        }
      }
    } finally {
      this.polling = false;
    }
  }
}
