import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/util/errors.js';
import { createRealScheduler, MAX_TIMER_DELAY_MS } from '../../src/util/scheduler.js';
import {
  SimScheduler,
  SimulationLimitError,
  SimulationReentryError,
} from '../../src/util/sim-scheduler.js';

describe('SimScheduler ordering', () => {
  it('runs events by time, then by insertion order, and moves the clock to each', () => {
    const sched = new SimScheduler();
    const seen: string[] = [];
    sched.setTimeout(() => seen.push(`b@${sched.now()}`), 20);
    sched.setTimeout(() => seen.push(`a@${sched.now()}`), 10);
    sched.setTimeout(() => seen.push(`c@${sched.now()}`), 20);
    sched.setTimeout(() => seen.push(`z@${sched.now()}`), 0);
    sched.runUntil(15);
    expect(seen).toEqual(['z@0', 'a@10']);
    expect(sched.now()).toBe(15);
    sched.runFor(5);
    expect(seen).toEqual(['z@0', 'a@10', 'b@20', 'c@20']);
    expect(sched.now()).toBe(20);
  });

  it('matches a reference sort of (time, sequence) for any schedule, including cancellations', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ delay: fc.integer({ min: 0, max: 50 }), cancel: fc.boolean() }), {
          maxLength: 200,
        }),
        (timers) => {
          const sched = new SimScheduler();
          const fired: number[] = [];
          const handles = timers.map((timer, index) =>
            sched.setTimeout(() => fired.push(index), timer.delay),
          );
          timers.forEach((timer, index) => {
            if (timer.cancel) sched.clearTimeout(handles[index]!);
          });
          const expected = timers
            .map((timer, index) => ({ ...timer, index }))
            .filter((timer) => !timer.cancel)
            .sort((x, y) => x.delay - y.delay || x.index - y.index)
            .map((timer) => timer.index);
          expect(sched.pendingCount).toBe(expected.length);
          expect(sched.runUntilIdle()).toBe(expected.length);
          expect(fired).toEqual(expected);
        },
      ),
    );
  });

  it('schedules events created by callbacks at the same instant after those already queued', () => {
    const sched = new SimScheduler();
    const seen: string[] = [];
    sched.setTimeout(() => {
      seen.push('first');
      sched.setTimeout(() => seen.push('spawned'), 0);
    }, 5);
    sched.setTimeout(() => seen.push('second'), 5);
    sched.runUntilIdle();
    expect(seen).toEqual(['first', 'second', 'spawned']);
  });

  it('runs intervals until cleared, including when cleared from their own callback', () => {
    const sched = new SimScheduler();
    const times: number[] = [];
    const handle = sched.setInterval(() => {
      times.push(sched.now());
      if (times.length === 3) sched.clearTimeout(handle);
    }, 7);
    sched.runUntil(100);
    expect(times).toEqual([7, 14, 21]);
    expect(sched.pendingCount).toBe(0);
  });

  it('passes the argument of callAfter/callAt to a shared callback', () => {
    const sched = new SimScheduler({ startMs: 100 });
    const seen: Array<[number, string]> = [];
    const record = (label: string) => seen.push([sched.now(), label]);
    sched.callAt(130, record, 'at');
    sched.callAfter(10, record, 'after');
    sched.runUntilIdle();
    expect(seen).toEqual([
      [110, 'after'],
      [130, 'at'],
    ]);
  });

  it('ignores clearing a fired or already cleared timer, and refuses foreign handles', () => {
    const sched = new SimScheduler();
    const handle = sched.setTimeout(() => {}, 1);
    sched.runUntilIdle();
    sched.clearTimeout(handle);
    sched.clearTimeout(handle);
    expect(sched.pendingCount).toBe(0);
    const other = new SimScheduler().setTimeout(() => {}, 1);
    expect(() => sched.clearTimeout(other)).toThrow(InvalidArgumentError);
  });

  it('compacts cancelled timers without losing live ones', () => {
    const sched = new SimScheduler();
    let fired = 0;
    for (let i = 0; i < 20_000; i++) {
      const handle = sched.setTimeout(() => fired++, 1000 + i);
      if (i % 10 !== 0) sched.clearTimeout(handle);
    }
    expect(sched.pendingCount).toBe(2000);
    expect(sched.nextEventTimeMs()).toBe(1000);
    sched.runUntilIdle();
    expect(fired).toBe(2000);
  });
});

describe('SimScheduler bounds and misuse', () => {
  it('refuses invalid delays, including the ones Node would silently shorten', () => {
    const sched = new SimScheduler();
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, MAX_TIMER_DELAY_MS + 1]) {
      expect(() => sched.setTimeout(() => {}, bad)).toThrow(InvalidArgumentError);
    }
    expect(() => sched.setInterval(() => {}, 0)).toThrow(InvalidArgumentError);
    expect(() => sched.runUntil(-1)).toThrow(InvalidArgumentError);
    expect(() => sched.callAt(-1, () => {}, null)).toThrow(InvalidArgumentError);
  });

  it('stops runUntilIdle with a named limit when an interval keeps it busy', () => {
    const sched = new SimScheduler();
    sched.setInterval(() => {}, 1);
    expect(() => sched.runUntilIdle(500)).toThrow(SimulationLimitError);
    expect(sched.executedCount).toBe(500);
  });

  it('stops runUntil when a callback reschedules itself at the same instant forever', () => {
    const sched = new SimScheduler({ maxEventsPerRun: 1000 });
    const spin = (): void => {
      sched.setTimeout(spin, 0);
    };
    sched.setTimeout(spin, 0);
    const error = (() => {
      try {
        sched.runUntil(10);
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(SimulationLimitError);
    expect((error as SimulationLimitError).limit).toBe('maxEventsPerRun');
  });

  it('bounds the number of pending events', () => {
    const sched = new SimScheduler({ maxPendingEvents: 3 });
    for (let i = 0; i < 3; i++) sched.setTimeout(() => {}, i);
    expect(() => sched.setTimeout(() => {}, 1)).toThrow(SimulationLimitError);
  });

  it('refuses to run from inside a simulated callback', () => {
    const sched = new SimScheduler();
    let caught: unknown;
    sched.setTimeout(() => {
      try {
        sched.runFor(1);
      } catch (error) {
        caught = error;
      }
    }, 1);
    sched.runUntilIdle();
    expect(caught).toBeInstanceOf(SimulationReentryError);
  });

  it('propagates a throwing callback and stays usable afterwards', () => {
    const sched = new SimScheduler();
    const seen: number[] = [];
    sched.setTimeout(() => {
      throw new Error('boom');
    }, 1);
    sched.setTimeout(() => seen.push(sched.now()), 2);
    expect(() => sched.runUntilIdle()).toThrow('boom');
    sched.runUntilIdle();
    expect(seen).toEqual([2]);
  });
});

describe('SimScheduler with async code', () => {
  const sleep = (sched: SimScheduler, ms: number) =>
    new Promise<void>((resolve) => sched.setTimeout(resolve, ms));

  for (const settleMode of ['tick', 'macrotask', 'microtasks'] as const) {
    it(`${settleMode}: continuations run at the simulated time of the event that woke them`, async () => {
      const sched = new SimScheduler({ settleMode });
      const log: string[] = [];
      const worker = async (name: string, period: number) => {
        for (let i = 0; i < 3; i++) {
          await sleep(sched, period);
          // A few nested awaits, as a driver calling async helpers would have.
          await Promise.resolve();
          await (async () => {
            await Promise.resolve();
          })();
          log.push(`${name}${i}@${sched.now()}`);
        }
      };
      const done = Promise.all([worker('a', 10), worker('b', 15)]);
      await sched.runUntilIdleAsync();
      await done;
      expect(log).toEqual(['a0@10', 'b0@15', 'a1@20', 'b1@30', 'a2@30', 'b2@45']);
    });
  }

  it('sync runs defer continuations until the run returns (the documented difference)', async () => {
    const sched = new SimScheduler();
    const times: number[] = [];
    void (async () => {
      await sleep(sched, 10);
      times.push(sched.now());
    })();
    sched.runUntil(50);
    await sched.settle();
    expect(times).toEqual([50]);
  });

  it('runUntilConditionAsync returns when the condition holds and fails past the deadline', async () => {
    const sched = new SimScheduler();
    let ticks = 0;
    sched.setInterval(() => ticks++, 10);
    expect(await sched.runUntilConditionAsync(() => ticks >= 3, 1000)).toBe(30);
    await expect(sched.runUntilConditionAsync(() => ticks >= 1000, 100)).rejects.toThrow(
      SimulationLimitError,
    );
  });

  it('tick and macrotask modes settle arbitrarily deep continuation chains before the next event', async () => {
    for (const settleMode of ['tick', 'macrotask'] as const) {
      const sched = new SimScheduler({ settleMode });
      const log: string[] = [];
      const deep = async (depth: number): Promise<void> => {
        if (depth === 0) {
          log.push(`deep done@${sched.now()}`);
          return;
        }
        await Promise.resolve();
        await deep(depth - 1);
      };
      sched.setTimeout(() => void deep(500), 1);
      sched.setTimeout(() => log.push(`next@${sched.now()}`), 1);
      await sched.runUntilIdleAsync();
      expect(log).toEqual(['deep done@1', 'next@1']);
    }
  });

  it('replays an async script identically', async () => {
    const runOnce = async () => {
      const sched = new SimScheduler({ settleMode: 'microtasks', microtaskTurns: 2 });
      const log: string[] = [];
      const chain = async (name: string, depth: number): Promise<void> => {
        if (depth === 0) return;
        await Promise.resolve();
        log.push(`${name}${depth}@${sched.now()}`);
        await chain(name, depth - 1);
      };
      for (let i = 0; i < 5; i++) sched.setTimeout(() => void chain(`t${i}`, 4), i % 2);
      await sched.runUntilIdleAsync();
      return log;
    };
    const first = await runOnce();
    expect(first).toHaveLength(20);
    expect(await runOnce()).toEqual(first);
  });
});

describe('realScheduler', () => {
  it('fires timeouts and intervals on the real loop and clears them', async () => {
    const sched = createRealScheduler({ unrefTimers: true });
    const start = sched.now();
    const fired = await new Promise<number>((resolve) => sched.setTimeout(() => resolve(1), 1));
    expect(fired).toBe(1);
    expect(sched.now()).toBeGreaterThanOrEqual(start);
    let count = 0;
    await new Promise<void>((resolve) => {
      const handle = sched.setInterval(() => {
        count++;
        if (count === 2) {
          sched.clearTimeout(handle);
          resolve();
        }
      }, 1);
    });
    expect(count).toBe(2);
    expect(() => sched.setTimeout(() => {}, MAX_TIMER_DELAY_MS + 1)).toThrow(InvalidArgumentError);
  });
});
