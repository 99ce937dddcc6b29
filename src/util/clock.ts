/**
 * A source of time in milliseconds. Pure layers (store, ring, coordinator core) take
 * one of these instead of reading the wall clock, so tests can drive time by hand
 * and every run replays exactly.
 */
export interface Clock {
  /** Milliseconds on a monotonic scale; only differences between readings matter. */
  now(): number;
}

/** The real clock for production: monotonic, so NTP steps cannot move TTLs. */
export const monotonicClock: Clock = {
  now: () => performance.now(),
};

/** A clock that only moves when told to. For tests and simulation. */
export class ManualClock implements Clock {
  private nowMs: number;

  constructor(startMs = 0) {
    this.nowMs = startMs;
  }

  now(): number {
    return this.nowMs;
  }

  /** Moves time forward; time never goes backwards. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`cannot advance a clock by ${ms} ms`);
    this.nowMs += ms;
  }

  set(ms: number): void {
    if (ms < this.nowMs) throw new RangeError('time never goes backwards');
    this.nowMs = ms;
  }
}
