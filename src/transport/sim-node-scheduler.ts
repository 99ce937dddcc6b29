import { InvalidArgumentError } from '../util/errors.js';
import { checkTimerDelay, type Scheduler, type TimerHandle } from '../util/scheduler.js';
import type { SimScheduler } from '../util/sim-scheduler.js';

/** One timer of a simulated process; also the handle handed out for it. */
class NodeTimer {
  readonly owner: SimNodeScheduler;
  readonly callback: (arg: unknown) => void;
  readonly arg: unknown;
  readonly periodMs: number;
  /** The pending event on the shared scheduler, replaced when an interval re-arms. */
  event: TimerHandle | undefined;
  cancelled = false;
  /** Waiting in the owner's deferred list (it came due while the process was paused). */
  deferred = false;

  constructor(
    owner: SimNodeScheduler,
    callback: (arg: unknown) => void,
    arg: unknown,
    periodMs: number,
  ) {
    this.owner = owner;
    this.callback = callback;
    this.arg = arg;
    this.periodMs = periodMs;
  }
}

function runThunk(thunk: unknown): void {
  (thunk as () => void)();
}

/**
 * The timers of one simulated process (one incarnation of a node), on the network's
 * shared `SimScheduler`. It models what happens to a process's timers when the
 * process is stopped or killed:
 * - `pause` (SIGSTOP): timers that come due are held; on `resume` (SIGCONT) each
 *   overdue timer fires once, at the resume time, in the order it came due.
 * - `kill` (crash): every timer is dropped, and timers set afterwards (by promise
 *   continuations of the dead incarnation) never fire.
 *
 * `SimNetwork` owns these; drivers get theirs as `SimTransport.scheduler`.
 */
export class SimNodeScheduler implements Scheduler {
  /** The network-wide scheduler every process's timers run on. */
  readonly shared: SimScheduler;
  private paused = false;
  private dead = false;
  private deferred: NodeTimer[] = [];

  constructor(shared: SimScheduler) {
    this.shared = shared;
  }

  now(): number {
    return this.shared.now();
  }

  /** Whether the process is stopped. */
  get isPaused(): boolean {
    return this.paused;
  }

  /** Whether the process was killed; its timers never fire again. */
  get isDead(): boolean {
    return this.dead;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    return this.callAfter(delayMs, runThunk, callback);
  }

  setInterval(callback: () => void, periodMs: number): TimerHandle {
    checkTimerDelay(periodMs, 'periodMs', false);
    const timer = new NodeTimer(this, runThunk, callback, periodMs);
    timer.event = this.shared.callAfter(periodMs, SimNodeScheduler.fire, timer);
    return timer as unknown as TimerHandle;
  }

  /** Schedules `callback(arg)` after `delayMs` without allocating a closure. */
  callAfter<T>(delayMs: number, callback: (arg: T) => void, arg: T): TimerHandle {
    checkTimerDelay(delayMs, 'delayMs', true);
    const timer = new NodeTimer(this, callback as (arg: unknown) => void, arg, 0);
    timer.event = this.shared.callAfter(delayMs, SimNodeScheduler.fire, timer);
    return timer as unknown as TimerHandle;
  }

  clearTimeout(handle: TimerHandle): void {
    const timer = handle as unknown as NodeTimer;
    if (!(timer instanceof NodeTimer) || timer.owner !== this) {
      throw new InvalidArgumentError('clearTimeout: the handle was not issued by this scheduler');
    }
    if (timer.cancelled) return;
    timer.cancelled = true;
    if (timer.event !== undefined) this.shared.clearTimeout(timer.event);
  }

  /** Stops the process: due timers are held until {@link resume}. */
  pause(): void {
    this.paused = true;
  }

  /** Continues the process: held timers fire now, in the order they came due. */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    const due = this.deferred;
    this.deferred = [];
    for (const timer of due) this.shared.callAfter(0, SimNodeScheduler.fireDeferred, timer);
  }

  /** Kills the process: no timer of it ever fires again. */
  kill(): void {
    this.dead = true;
    this.paused = false;
    this.deferred = [];
  }

  private static fire(this: void, timer: NodeTimer): void {
    const owner = timer.owner;
    if (timer.cancelled || owner.dead) return;
    if (timer.periodMs > 0) {
      timer.event = owner.shared.callAfter(timer.periodMs, SimNodeScheduler.fire, timer);
    }
    if (owner.paused) {
      // A stopped process notices an overdue timer once when it resumes, however many
      // periods passed.
      if (!timer.deferred) {
        timer.deferred = true;
        owner.deferred.push(timer);
      }
      return;
    }
    timer.callback(timer.arg);
  }

  private static fireDeferred(this: void, timer: NodeTimer): void {
    timer.deferred = false;
    const owner = timer.owner;
    if (timer.cancelled || owner.dead) return;
    if (owner.paused) {
      timer.deferred = true;
      owner.deferred.push(timer);
      return;
    }
    timer.callback(timer.arg);
  }
}
