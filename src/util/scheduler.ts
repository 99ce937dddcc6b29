import type { Clock } from './clock.js';
import { InvalidArgumentError } from './errors.js';

declare const timerHandleBrand: unique symbol;

/**
 * An opaque token for one scheduled callback. Only the scheduler that issued it can
 * cancel it; its shape is private to each implementation (a Node `Timeout` for
 * {@link realScheduler}, an event record for `SimScheduler`).
 */
export interface TimerHandle {
  readonly [timerHandleBrand]: true;
}

/**
 * The timer facility that drivers (the coordinator driver, the cache node, the
 * transports) use instead of the global `setTimeout`, so the same code runs on the
 * real event loop in production and in simulated time under `SimScheduler`.
 *
 * A scheduler is also a {@link Clock}: `now()` is the time its timers are measured
 * against, so a driver must read time from the scheduler it schedules on.
 */
export interface Scheduler extends Clock {
  /** Milliseconds on a monotonic scale; only differences between readings matter. */
  now(): number;

  /**
   * Runs `callback` once, `delayMs` after now (0 means "as soon as possible, after
   * the current callback returns"). `delayMs` must be finite, >= 0 and at most
   * {@link MAX_TIMER_DELAY_MS}.
   */
  setTimeout(callback: () => void, delayMs: number): TimerHandle;

  /**
   * Runs `callback` every `periodMs` (> 0, at most {@link MAX_TIMER_DELAY_MS}), the
   * first time `periodMs` from now, until the handle is cleared.
   */
  setInterval(callback: () => void, periodMs: number): TimerHandle;

  /**
   * Cancels a timeout or an interval. Clearing a handle that already fired or was
   * already cleared does nothing, as with the global `clearTimeout`.
   */
  clearTimeout(handle: TimerHandle): void;
}

/**
 * The longest delay a timer accepts. Node silently turns longer delays into 1 ms,
 * which would make a mis-computed timeout fire at once; both schedulers refuse them.
 */
export const MAX_TIMER_DELAY_MS = 2_147_483_647;

/** Throws `InvalidArgumentError` unless `delayMs` is a usable timer delay. */
export function checkTimerDelay(delayMs: number, name: string, allowZero: boolean): void {
  if (
    typeof delayMs !== 'number' ||
    !Number.isFinite(delayMs) ||
    delayMs < 0 ||
    (!allowZero && delayMs === 0) ||
    delayMs > MAX_TIMER_DELAY_MS
  ) {
    throw new InvalidArgumentError(
      `${name} must be a finite number in ${allowZero ? '[0' : '(0'}, ${MAX_TIMER_DELAY_MS}], got ${String(delayMs)}`,
    );
  }
}

/** Options for {@link createRealScheduler}. */
export interface RealSchedulerOptions {
  /**
   * When true, pending timers do not keep the process alive (Node's `unref`). Use it
   * for housekeeping timers of an embedded library, so the host process can exit
   * without calling `stop()`. Default false.
   */
  unrefTimers?: boolean;
}

/**
 * A scheduler on the real event loop: `performance.now()` (monotonic, immune to NTP
 * steps) and the global timers.
 */
export function createRealScheduler(options: RealSchedulerOptions = {}): Scheduler {
  const unref = options.unrefTimers ?? false;
  return {
    now: () => performance.now(),
    setTimeout(callback, delayMs) {
      checkTimerDelay(delayMs, 'delayMs', true);
      const timer = setTimeout(callback, delayMs);
      if (unref) timer.unref();
      return timer as unknown as TimerHandle;
    },
    setInterval(callback, periodMs) {
      checkTimerDelay(periodMs, 'periodMs', false);
      const timer = setInterval(callback, periodMs);
      if (unref) timer.unref();
      return timer as unknown as TimerHandle;
    },
    clearTimeout(handle) {
      // Node's clearTimeout also clears intervals; one method keeps the interface small.
      clearTimeout(handle as unknown as NodeJS.Timeout);
    },
  };
}

/** The production scheduler: real time, timers keep the process alive. */
export const realScheduler: Scheduler = createRealScheduler();
