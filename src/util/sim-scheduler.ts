import { InvalidArgumentError, ShoalError } from './errors.js';
import { checkTimerDelay, type Scheduler, type TimerHandle } from './scheduler.js';

/** A run loop or the event queue hit one of `SimScheduler`'s named limits. */
export class SimulationLimitError extends ShoalError {
  /** The name of the limit that was exceeded, e.g. `maxEventsPerRun`. */
  readonly limit: string;

  constructor(limit: string, value: number, detail: string) {
    super('ERR_SIM_LIMIT', `simulation exceeded ${limit}=${value}: ${detail}`);
    this.limit = limit;
  }
}

/** A run method was called while the scheduler was already running events. */
export class SimulationReentryError extends ShoalError {
  constructor(method: string) {
    super(
      'ERR_SIM_REENTRANT',
      `SimScheduler.${method}() called while the scheduler is already running; drive the simulation from the test, not from inside a simulated callback`,
    );
  }
}

/**
 * How the `...Async` run methods let promise continuations settle after each event.
 * A "full drain" waits until every promise continuation queued so far has run, and
 * every one those queue in turn, however deep the chain:
 * - `'tick'` (default): a full drain is one `process.nextTick` round trip, which Node
 *   runs only once the promise job queue is empty. About 0.5 µs per event. A
 *   `process.nextTick` callback queued by simulated code itself may run after the
 *   next event instead (simulated code has no reason to use it).
 * - `'macrotask'`: a full drain is one `setImmediate` round trip, which also runs
 *   every `process.nextTick` callback, exactly as Node settles everything between two
 *   I/O callbacks. About 2 µs per event.
 * - `'microtasks'`: after each event yield `microtaskTurns` times to the microtask
 *   queue, and drain fully (as `'tick'`) only before the clock advances. With
 *   `microtaskTurns: 0`, the events of one millisecond run back to back, as the
 *   envelopes of one `WsTransport` batch frame do; a continuation chain deeper than
 *   `microtaskTurns` may interleave with the next event of the same millisecond,
 *   never with a later one.
 *
 * All three are deterministic: the job queues are FIFO and fed only by the simulated
 * code, so the same script yields the same interleaving on every run, provided the
 * simulated code does no real I/O and uses no real timers.
 */
export type SettleMode = 'tick' | 'macrotask' | 'microtasks';

/** Options for {@link SimScheduler}. */
export interface SimSchedulerOptions {
  /** The simulated time at creation. Default 0. */
  startMs?: number;
  /** Most events (timers, deliveries) that may be pending at once. Default 1,000,000. */
  maxPendingEvents?: number;
  /**
   * Most events one `runUntil`/`runFor` call (sync or async) may run before it gives
   * up with `SimulationLimitError`; catches callbacks that reschedule themselves at
   * the same instant forever. Default 10,000,000.
   */
  maxEventsPerRun?: number;
  /** See {@link SettleMode}. Default `'tick'`. */
  settleMode?: SettleMode;
  /** Microtask yields per event in `'microtasks'` mode (0 allowed). Default 16. */
  microtaskTurns?: number;
}

const DEFAULT_MAX_PENDING_EVENTS = 1_000_000;
const DEFAULT_MAX_EVENTS_PER_RUN = 10_000_000;
const DEFAULT_MAX_EVENTS_UNTIL_IDLE = 1_000_000;
const DEFAULT_MICROTASK_TURNS = 16;
/** Compact the heap once this many cancelled events linger in it (and they are the majority). */
const COMPACT_MIN_CANCELLED = 4096;

/**
 * One scheduled callback. It is also the `TimerHandle` handed out, so cancelling is
 * O(1): the event is flagged and skipped when it reaches the top of the heap.
 */
class SimEvent {
  timeMs: number;
  seq: number;
  callback: (arg: unknown) => void;
  arg: unknown;
  /** 0 for a one-shot timer, the period for an interval. */
  readonly periodMs: number;
  cancelled = false;
  readonly owner: SimScheduler;

  constructor(
    owner: SimScheduler,
    timeMs: number,
    seq: number,
    callback: (arg: unknown) => void,
    arg: unknown,
    periodMs: number,
  ) {
    this.owner = owner;
    this.timeMs = timeMs;
    this.seq = seq;
    this.callback = callback;
    this.arg = arg;
    this.periodMs = periodMs;
  }
}

function before(a: SimEvent, b: SimEvent): boolean {
  return a.timeMs < b.timeMs || (a.timeMs === b.timeMs && a.seq < b.seq);
}

function runThunk(thunk: unknown): void {
  (thunk as () => void)();
}

function waitMacrotask(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function waitTick(): Promise<void> {
  return new Promise((resolve) => process.nextTick(resolve));
}

/**
 * A deterministic discrete-event scheduler over a manual clock. Events run in order
 * of (time, insertion sequence): two events due at the same millisecond run in the
 * order they were scheduled. Time only moves when a `run...`/`step` method moves it,
 * and then jumps straight to the next event, so an hour of simulated timeouts costs
 * nothing but the callbacks themselves. It reads no wall clock and no randomness.
 *
 * A callback that throws aborts the run method that called it and the error
 * propagates to the test; the event has already been removed, so the scheduler stays
 * usable (intervals are rescheduled before their callback runs).
 *
 * Sync methods (`step`, `runUntil`, `runFor`, `runUntilIdle`) run callbacks back to
 * back: promise continuations started by a callback run only after the method returns.
 * Code that awaits (drivers, async request handlers) needs the `...Async` methods,
 * which settle continuations after each event (see {@link SettleMode}).
 */
export class SimScheduler implements Scheduler {
  private nowMs: number;
  private seq = 0;
  private readonly heap: SimEvent[] = [];
  private liveCount = 0;
  private cancelledInHeap = 0;
  private running = false;
  private executed = 0;
  private readonly maxPendingEvents: number;
  private readonly maxEventsPerRun: number;
  private readonly settleMode: SettleMode;
  private readonly microtaskTurns: number;

  constructor(options: SimSchedulerOptions = {}) {
    this.nowMs = options.startMs ?? 0;
    this.maxPendingEvents = options.maxPendingEvents ?? DEFAULT_MAX_PENDING_EVENTS;
    this.maxEventsPerRun = options.maxEventsPerRun ?? DEFAULT_MAX_EVENTS_PER_RUN;
    this.settleMode = options.settleMode ?? 'tick';
    if (!['tick', 'macrotask', 'microtasks'].includes(this.settleMode)) {
      throw new InvalidArgumentError(`unknown settleMode ${String(this.settleMode)}`);
    }
    this.microtaskTurns = options.microtaskTurns ?? DEFAULT_MICROTASK_TURNS;
    if (!Number.isFinite(this.nowMs)) throw new InvalidArgumentError('startMs must be finite');
    for (const [name, value] of [
      ['maxPendingEvents', this.maxPendingEvents],
      ['maxEventsPerRun', this.maxEventsPerRun],
    ] as const) {
      if (!Number.isSafeInteger(value) || value < 1) {
        throw new InvalidArgumentError(`${name} must be a positive integer, got ${value}`);
      }
    }
    if (!Number.isSafeInteger(this.microtaskTurns) || this.microtaskTurns < 0) {
      throw new InvalidArgumentError(
        `microtaskTurns must be an integer >= 0, got ${this.microtaskTurns}`,
      );
    }
  }

  now(): number {
    return this.nowMs;
  }

  /** Events waiting to run (cancelled ones excluded). */
  get pendingCount(): number {
    return this.liveCount;
  }

  /** Events run since creation, over all run methods. */
  get executedCount(): number {
    return this.executed;
  }

  /** When the next pending event is due, or `undefined` when none is. */
  nextEventTimeMs(): number | undefined {
    const top = this.peekLive();
    return top === undefined ? undefined : top.timeMs;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    checkTimerDelay(delayMs, 'delayMs', true);
    return this.push(this.nowMs + delayMs, runThunk, callback, 0);
  }

  setInterval(callback: () => void, periodMs: number): TimerHandle {
    checkTimerDelay(periodMs, 'periodMs', false);
    return this.push(this.nowMs + periodMs, runThunk, callback, periodMs);
  }

  /**
   * Schedules `callback(arg)` after `delayMs`. The hot path for simulated components
   * (network deliveries): passing a shared callback and a data argument avoids
   * allocating a closure per event.
   */
  callAfter<T>(delayMs: number, callback: (arg: T) => void, arg: T): TimerHandle {
    checkTimerDelay(delayMs, 'delayMs', true);
    return this.push(this.nowMs + delayMs, callback as (arg: unknown) => void, arg, 0);
  }

  /** Like {@link callAfter} at an absolute time, which must not be in the past. */
  callAt<T>(timeMs: number, callback: (arg: T) => void, arg: T): TimerHandle {
    if (!(timeMs >= this.nowMs) || !Number.isFinite(timeMs)) {
      throw new InvalidArgumentError(`cannot schedule at ${timeMs}: now is ${this.nowMs}`);
    }
    return this.push(timeMs, callback as (arg: unknown) => void, arg, 0);
  }

  clearTimeout(handle: TimerHandle): void {
    const event = handle as unknown as SimEvent;
    if (!(event instanceof SimEvent) || event.owner !== this) {
      throw new InvalidArgumentError('clearTimeout: the handle was not issued by this scheduler');
    }
    if (event.cancelled) return;
    event.cancelled = true;
    // A fired one-shot event is no longer in the heap; only count what is.
    if (event.seq >= 0) {
      this.liveCount--;
      this.cancelledInHeap++;
      this.maybeCompact();
    }
  }

  /** Runs the next event, advancing the clock to its time. Returns false when none is pending. */
  step(): boolean {
    this.enter('step');
    try {
      return this.runOne();
    } finally {
      this.running = false;
    }
  }

  /** Runs every event due at or before `timeMs`, then sets the clock to `timeMs`. */
  runUntil(timeMs: number): void {
    this.checkTarget(timeMs);
    this.enter('runUntil');
    try {
      let count = 0;
      for (;;) {
        const top = this.peekLive();
        if (top === undefined || top.timeMs > timeMs) break;
        this.countEvent(++count, this.maxEventsPerRun, 'maxEventsPerRun');
        this.runOne();
      }
      this.nowMs = timeMs;
    } finally {
      this.running = false;
    }
  }

  /** `runUntil(now() + ms)`. */
  runFor(ms: number): void {
    this.runUntil(this.nowMs + this.checkDuration(ms));
  }

  /**
   * Runs events until none is pending. Throws `SimulationLimitError` after
   * `maxEvents` (default 1,000,000): an interval never lets a scheduler go idle.
   * Returns the number of events run.
   */
  runUntilIdle(maxEvents = DEFAULT_MAX_EVENTS_UNTIL_IDLE): number {
    this.enter('runUntilIdle');
    try {
      let count = 0;
      while (this.peekLive() !== undefined) {
        this.countEvent(++count, maxEvents, 'maxEvents');
        this.runOne();
      }
      return count;
    } finally {
      this.running = false;
    }
  }

  /**
   * Drains pending promise continuations fully (see {@link SettleMode}) without
   * running any event. Call it (or any `...Async` run method) after kicking off async
   * work from a test, before looking at its effects.
   */
  settle(): Promise<void> {
    return this.settleFully();
  }

  /** {@link step}, then settles continuations. */
  async stepAsync(): Promise<boolean> {
    this.enter('stepAsync');
    try {
      await this.settleFully();
      const ran = this.runOne();
      await this.settleFully();
      return ran;
    } finally {
      this.running = false;
    }
  }

  /**
   * {@link runUntil} that settles promise continuations before the first event and
   * after every event, so async code reacts at the simulated time it was woken.
   */
  async runUntilAsync(timeMs: number): Promise<void> {
    this.checkTarget(timeMs);
    this.enter('runUntilAsync');
    try {
      await this.settleFully();
      let count = 0;
      for (;;) {
        const top = this.peekLive();
        if (top === undefined || top.timeMs > timeMs) break;
        this.countEvent(++count, this.maxEventsPerRun, 'maxEventsPerRun');
        this.runOne();
        await this.settleAfterEvent();
      }
      this.nowMs = timeMs;
    } finally {
      this.running = false;
    }
  }

  /** `runUntilAsync(now() + ms)`. */
  runForAsync(ms: number): Promise<void> {
    return this.runUntilAsync(this.nowMs + this.checkDuration(ms));
  }

  /** {@link runUntilIdle} that settles continuations after every event. */
  async runUntilIdleAsync(maxEvents = DEFAULT_MAX_EVENTS_UNTIL_IDLE): Promise<number> {
    this.enter('runUntilIdleAsync');
    try {
      await this.settleFully();
      let count = 0;
      while (this.peekLive() !== undefined) {
        this.countEvent(++count, maxEvents, 'maxEvents');
        this.runOne();
        await this.settleAfterEvent();
      }
      return count;
    } finally {
      this.running = false;
    }
  }

  /**
   * Runs events (settling after each) until `condition()` is true, checked before the
   * first event and after each one; throws `SimulationLimitError` if simulated time
   * would pass `deadlineMs` first. For tests that wait on an outcome ("a leader is
   * elected") instead of sleeping. Returns the time the condition became true.
   */
  async runUntilConditionAsync(condition: () => boolean, deadlineMs: number): Promise<number> {
    this.checkTarget(deadlineMs);
    this.enter('runUntilConditionAsync');
    try {
      await this.settleFully();
      let count = 0;
      while (!condition()) {
        const top = this.peekLive();
        if (top === undefined || top.timeMs > deadlineMs) {
          throw new SimulationLimitError(
            'deadlineMs',
            deadlineMs,
            top === undefined
              ? `the condition is false and no event is pending (now ${this.nowMs} ms)`
              : `the condition is still false at ${deadlineMs} ms`,
          );
        }
        this.countEvent(++count, this.maxEventsPerRun, 'maxEventsPerRun');
        this.runOne();
        await this.settleAfterEvent();
      }
      return this.nowMs;
    } finally {
      this.running = false;
    }
  }

  private async settleAfterEvent(): Promise<void> {
    if (this.settleMode !== 'microtasks') {
      await this.settleFully();
      return;
    }
    for (let i = 0; i < this.microtaskTurns; i++) await Promise.resolve();
    // Drain completely before the clock moves, so no continuation observes a later time.
    const next = this.peekLive();
    if (next === undefined || next.timeMs !== this.nowMs) await waitTick();
  }

  private settleFully(): Promise<void> {
    return this.settleMode === 'macrotask' ? waitMacrotask() : waitTick();
  }

  private enter(method: string): void {
    if (this.running) throw new SimulationReentryError(method);
    this.running = true;
  }

  private checkTarget(timeMs: number): void {
    if (!Number.isFinite(timeMs) || timeMs < this.nowMs) {
      throw new InvalidArgumentError(
        `cannot run until ${timeMs} ms: now is ${this.nowMs} ms and time never goes backwards`,
      );
    }
  }

  private checkDuration(ms: number): number {
    if (!Number.isFinite(ms) || ms < 0) {
      throw new InvalidArgumentError(`cannot run for ${ms} ms`);
    }
    return ms;
  }

  private countEvent(count: number, limit: number, name: string): void {
    if (count > limit) {
      throw new SimulationLimitError(
        name,
        limit,
        `events keep coming at ${this.nowMs} ms (a callback rescheduling itself, or an interval?)`,
      );
    }
  }

  private push(
    timeMs: number,
    callback: (arg: unknown) => void,
    arg: unknown,
    periodMs: number,
  ): TimerHandle {
    if (this.liveCount >= this.maxPendingEvents) {
      throw new SimulationLimitError(
        'maxPendingEvents',
        this.maxPendingEvents,
        `too many pending events at ${this.nowMs} ms`,
      );
    }
    const event = new SimEvent(this, timeMs, this.seq++, callback, arg, periodMs);
    this.heapPush(event);
    this.liveCount++;
    return event as unknown as TimerHandle;
  }

  /** Pops and runs the next live event. */
  private runOne(): boolean {
    const event = this.popLive();
    if (event === undefined) return false;
    this.nowMs = event.timeMs;
    this.executed++;
    if (event.periodMs > 0) {
      event.timeMs += event.periodMs;
      event.seq = this.seq++;
      this.heapPush(event);
    } else {
      this.liveCount--;
      // Marks the event as out of the heap, so a late clearTimeout does not miscount.
      event.seq = -1;
    }
    event.callback(event.arg);
    return true;
  }

  private peekLive(): SimEvent | undefined {
    const heap = this.heap;
    for (;;) {
      const top = heap[0];
      if (top === undefined || !top.cancelled) return top;
      this.heapPop();
      this.cancelledInHeap--;
    }
  }

  private popLive(): SimEvent | undefined {
    const top = this.peekLive();
    if (top !== undefined) this.heapPop();
    return top;
  }

  private maybeCompact(): void {
    const heap = this.heap;
    if (this.cancelledInHeap < COMPACT_MIN_CANCELLED || this.cancelledInHeap * 2 < heap.length) {
      return;
    }
    let kept = 0;
    for (let i = 0; i < heap.length; i++) {
      const event = heap[i]!;
      if (!event.cancelled) heap[kept++] = event;
    }
    heap.length = kept;
    this.cancelledInHeap = 0;
    for (let i = (kept >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  private heapPush(event: SimEvent): void {
    const heap = this.heap;
    let i = heap.length;
    heap.push(event);
    while (i > 0) {
      const parentIndex = (i - 1) >> 1;
      const parent = heap[parentIndex]!;
      if (!before(event, parent)) break;
      heap[i] = parent;
      i = parentIndex;
    }
    heap[i] = event;
  }

  private heapPop(): void {
    const heap = this.heap;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    heap[0] = last;
    this.siftDown(0);
  }

  private siftDown(start: number): void {
    const heap = this.heap;
    const length = heap.length;
    const event = heap[start]!;
    let i = start;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= length) break;
      const right = left + 1;
      let child = left;
      if (right < length && before(heap[right]!, heap[left]!)) child = right;
      const candidate = heap[child]!;
      if (!before(candidate, event)) break;
      heap[i] = candidate;
      i = child;
    }
    heap[i] = event;
  }
}
