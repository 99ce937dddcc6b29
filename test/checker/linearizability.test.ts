import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkLinearizability,
  formatOperation,
  type IncrOutput,
  type KvOperation,
  type KvValue,
} from '../support/linearizability.js';

const PENDING = Number.POSITIVE_INFINITY;

function get(
  key: string,
  output: KvValue | undefined,
  callMs: number,
  returnMs: number,
  clientId = 'c',
): KvOperation {
  return { clientId, key, op: 'get', output, callMs, returnMs };
}
function set(
  key: string,
  input: KvValue,
  callMs: number,
  returnMs: number,
  clientId = 'c',
): KvOperation {
  return { clientId, key, op: 'set', input, callMs, returnMs };
}
function del(
  key: string,
  output: boolean | undefined,
  callMs: number,
  returnMs: number,
): KvOperation {
  return { clientId: 'c', key, op: 'delete', output, callMs, returnMs };
}
function incr(
  key: string,
  by: number,
  output: IncrOutput | undefined,
  callMs: number,
  returnMs: number,
): KvOperation {
  return { clientId: 'c', key, op: 'incr', input: by, output, callMs, returnMs };
}
function setnx(
  key: string,
  input: KvValue,
  output: boolean | undefined,
  callMs: number,
  returnMs: number,
): KvOperation {
  return { clientId: 'c', key, op: 'setnx', input, output, callMs, returnMs };
}

function expectLinearizable(history: readonly KvOperation[]): void {
  const result = checkLinearizability(history);
  if (!result.ok)
    throw new Error(`expected linearizable, got ${result.verdict}:\n${result.reason}`);
}

function expectViolation(history: readonly KvOperation[], key = 'k') {
  const result = checkLinearizability(history);
  expect(result.verdict).toBe('not-linearizable');
  if (result.verdict !== 'not-linearizable') throw new Error('unreachable');
  expect(result.key).toBe(key);
  return result;
}

describe('checkLinearizability: linearizable histories', () => {
  it('accepts an empty history', () => {
    expect(checkLinearizability([])).toMatchObject({ ok: true, keysChecked: 0 });
  });

  it('accepts a sequential history over every operation', () => {
    expectLinearizable([
      get('k', undefined, 0, 1),
      set('k', 'a', 2, 3),
      get('k', 'a', 4, 5),
      setnx('k', 'b', false, 6, 7),
      del('k', true, 8, 9),
      del('k', false, 10, 11),
      setnx('k', 'b', true, 12, 13),
      get('k', 'b', 14, 15),
      incr('k', 1, 'not-a-number', 16, 17),
      del('k', undefined, 18, 19),
      incr('k', 5, 5, 20, 21),
      incr('k', -2, 3, 22, 23),
      get('k', 3, 24, 25),
    ]);
  });

  it('accepts reads of either of two overlapping writes, in either order', () => {
    const writes = [set('k', 'a', 0, 10, 'w1'), set('k', 'b', 1, 9, 'w2')];
    expectLinearizable([...writes, get('k', 'a', 11, 12)]);
    expectLinearizable([...writes, get('k', 'b', 11, 12)]);
    // A read overlapping both writes may see the old value, or either new one.
    expectLinearizable([...writes, get('k', undefined, 2, 3, 'r')]);
    expectLinearizable([...writes, get('k', 'b', 2, 3, 'r'), get('k', 'a', 4, 5, 'r')]);
  });

  it('treats equal timestamps as concurrent', () => {
    // The get's call and the set's return share a millisecond: either order is allowed.
    expectLinearizable([get('k', undefined, 0, 5), set('k', 'a', 5, 6)]);
    expectLinearizable([set('k', 'a', 0, 5), get('k', undefined, 5, 6)]);
  });

  it('accepts a pending write that took effect, or one that never did', () => {
    const pending = set('k', 'x', 0, PENDING, 'lost');
    expectLinearizable([pending, get('k', 'x', 5, 6)]);
    expectLinearizable([pending, get('k', undefined, 5, 6)]);
    // It may take effect late: after a read that missed it.
    expectLinearizable([pending, get('k', undefined, 5, 6), get('k', 'x', 7, 8)]);
  });

  it('accepts pending non-idempotent operations with any effect', () => {
    expectLinearizable([incr('k', 1, undefined, 0, PENDING), get('k', 1, 5, 6)]);
    expectLinearizable([incr('k', 1, undefined, 0, PENDING), get('k', undefined, 5, 6)]);
    expectLinearizable([setnx('k', 'a', undefined, 0, PENDING), get('k', 'a', 5, 6)]);
    expectLinearizable([
      del('k', undefined, 2, PENDING),
      set('k', 'a', 0, 1),
      get('k', undefined, 5, 6),
    ]);
  });

  it('checks keys independently', () => {
    expectLinearizable([
      set('a', 1, 0, 10),
      set('b', 2, 0, 10),
      get('a', 1, 11, 12),
      get('b', 2, 11, 12),
    ]);
  });
});

describe('checkLinearizability: non-linearizable histories', () => {
  it('rejects a stale read after a completed write', () => {
    const result = expectViolation([set('k', 'a', 0, 1), set('k', 'b', 2, 3), get('k', 'a', 4, 5)]);
    expect(result.reason).toContain('returned "a" but the key held "b"');
    expect(result.counterexample.blockedAt.op).toBe('get');
    expect(result.counterexample.stateAfterLinearization).toBe('b');
  });

  it('rejects a read of a value never written', () => {
    const result = expectViolation([set('k', 'a', 0, 1), get('k', 'zzz', 2, 3)]);
    expect(result.counterexample.longestLinearization).toHaveLength(1);
    expect(result.counterexample.candidates).toEqual([
      expect.objectContaining({ whyNot: 'returned "zzz" but the key held "a"' }),
    ]);
  });

  it('rejects two reads seeing new then old', () => {
    expectViolation([
      set('k', 'old', 0, 1),
      set('k', 'new', 2, 20, 'writer'),
      get('k', 'new', 3, 4, 'r1'),
      get('k', 'old', 5, 6, 'r2'),
    ]);
  });

  it('rejects a lost increment', () => {
    expectViolation([incr('k', 1, 1, 0, 1), incr('k', 1, 1, 2, 3)]);
    // Even when the two overlap, one of them must see the other.
    expectViolation([incr('k', 1, 1, 0, 10), incr('k', 1, 1, 1, 9)]);
  });

  it('rejects a pending write seen and then unseen', () => {
    expectViolation([set('k', 'x', 0, PENDING), get('k', 'x', 5, 6), get('k', undefined, 7, 8)]);
  });

  it('rejects wrong delete and setnx outcomes', () => {
    expectViolation([del('k', true, 0, 1)]);
    expectViolation([set('k', 'a', 0, 1), setnx('k', 'b', true, 2, 3)]);
    expectViolation([setnx('k', 'a', true, 0, 1), setnx('k', 'b', true, 0, 1)]);
  });

  it('names the failing key and leaves other keys out of the counterexample', () => {
    const result = expectViolation(
      [set('good', 1, 0, 1), get('good', 1, 2, 3), set('bad', 1, 0, 1), get('bad', 2, 2, 3)],
      'bad',
    );
    expect(result.counterexample.operations.every((op) => op.key === 'bad')).toBe(true);
  });

  it('shrinks the counterexample to the reads that matter', () => {
    const history: KvOperation[] = [set('k', 'a', 0, 1)];
    for (let i = 0; i < 10; i++) history.push(get('k', 'a', 2 + 2 * i, 3 + 2 * i));
    history.push(get('k', 'b', 30, 31));
    const result = expectViolation(history);
    expect(result.counterexample.minimalOperations).toEqual([history[0], history[11]]);
    expect(checkLinearizability(result.counterexample.minimalOperations).ok).toBe(false);
  });

  it('says unknown, not ok, when the search budget runs out', () => {
    // Many fully concurrent increments: the search must explore many subsets.
    const history: KvOperation[] = [];
    for (let i = 1; i <= 12; i++) history.push(incr('k', 1, i, 0, 100));
    history.push(get('k', 12, 101, 102));
    const result = checkLinearizability(history, { maxStatesPerKey: 5 });
    expect(result).toMatchObject({ ok: false, verdict: 'unknown', key: 'k' });
    expect(checkLinearizability(history).ok).toBe(true);
  });
});

describe('checkLinearizability: input validation', () => {
  it.each([
    ['return before call', set('k', 'a', 5, 4)],
    ['non-finite call', set('k', 'a', Number.NaN, 4)],
    ['NaN return', set('k', 'a', 0, Number.NaN)],
    ['completed incr without output', incr('k', 1, undefined, 0, 1)],
    ['completed setnx without output', setnx('k', 'a', undefined, 0, 1)],
    ['object value', { clientId: 'c', key: 'k', op: 'set', input: {}, callMs: 0, returnMs: 1 }],
    ['unknown op', { clientId: 'c', key: 'k', op: 'append', callMs: 0, returnMs: 1 }],
  ])('rejects %s with a typed error', (_name, operation) => {
    expect(() => checkLinearizability([operation as KvOperation])).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
    );
  });

  it('formats operations for messages', () => {
    expect(formatOperation(get('k', 'a', 1, 2, 'c1'))).toBe('client c1: get() -> "a" [1, 2]');
    expect(formatOperation(incr('k', 2, undefined, 3, PENDING))).toBe(
      'client c: incr(2) -> ? (outcome unknown) [3, inf]',
    );
  });
});

/** One randomly chosen operation, before it is executed. */
type PlannedOp =
  | { op: 'get' }
  | { op: 'set'; value: KvValue }
  | { op: 'delete' }
  | { op: 'incr'; by: number }
  | { op: 'setnx'; value: KvValue };

const valueArb = fc.constantFrom<KvValue>('a', 'b', 'c', 1, 2);
const plannedArb = fc.oneof(
  fc.constant<PlannedOp>({ op: 'get' }),
  fc.constant<PlannedOp>({ op: 'get' }),
  valueArb.map<PlannedOp>((value) => ({ op: 'set', value })),
  fc.constant<PlannedOp>({ op: 'delete' }),
  fc.integer({ min: -2, max: 3 }).map<PlannedOp>((by) => ({ op: 'incr', by })),
  valueArb.map<PlannedOp>((value) => ({ op: 'setnx', value })),
);
const stepArb = fc.record({
  planned: plannedArb,
  key: fc.constantFrom('x', 'y', 'z'),
  client: fc.integer({ min: 0, max: 4 }),
  before: fc.integer({ min: 0, max: 30 }),
  after: fc.integer({ min: 0, max: 30 }),
  // 'lost-applied': the response never came, but the operation took effect.
  fate: fc.constantFrom('done', 'done', 'done', 'done', 'lost-applied', 'lost-never'),
});

type Step = typeof stepArb extends fc.Arbitrary<infer T> ? T : never;

/**
 * Executes the steps one after another against a Map (step i takes effect at time
 * 100 i, unless it is lost and never applied) and records each one with a random
 * interval around that point, so intervals of nearby steps overlap.
 */
function runSequentially(steps: readonly Step[]): KvOperation[] {
  const store = new Map<string, KvValue>();
  return steps.map((step, index) => {
    const at = 100 * index;
    const timing = {
      clientId: step.client,
      key: step.key,
      callMs: at - step.before * 5,
      returnMs: step.fate === 'done' ? at + step.after * 5 : PENDING,
    };
    const applies = step.fate !== 'lost-never';
    const current = store.get(step.key);
    const { planned } = step;
    switch (planned.op) {
      case 'get':
        return { ...timing, op: 'get', output: current };
      case 'set':
        if (applies) store.set(step.key, planned.value);
        return { ...timing, op: 'set', input: planned.value };
      case 'delete':
        if (applies) store.delete(step.key);
        return { ...timing, op: 'delete', output: current !== undefined };
      case 'incr': {
        if (typeof current === 'string') {
          return { ...timing, op: 'incr', input: planned.by, output: 'not-a-number' };
        }
        const next = (current ?? 0) + planned.by;
        if (applies) store.set(step.key, next);
        return { ...timing, op: 'incr', input: planned.by, output: next };
      }
      default:
        if (applies && current === undefined) store.set(step.key, planned.value);
        return { ...timing, op: 'setnx', input: planned.value, output: current === undefined };
    }
  });
}

describe('checkLinearizability: properties', () => {
  it('judges every history produced by a real sequential execution linearizable', () => {
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 40 }), (steps) => {
        const result = checkLinearizability(runSequentially(steps));
        if (!result.ok) throw new Error(result.reason);
      }),
      { numRuns: 300 },
    );
  });

  it('judges such a history with one read corrupted to an unwritten value not linearizable', () => {
    fc.assert(
      fc.property(fc.array(stepArb, { minLength: 1, maxLength: 40 }), fc.nat(), (steps, pick) => {
        const history = runSequentially(steps);
        const reads = history
          .map((op, index) => ({ op, index }))
          .filter(({ op }) => op.op === 'get' && op.returnMs !== PENDING);
        fc.pre(reads.length > 0);
        const target = reads[pick % reads.length]!;
        const corrupted = [...history];
        const { clientId, key, callMs, returnMs } = target.op;
        corrupted[target.index] = get(key, 'never-written', callMs, returnMs, String(clientId));
        const result = checkLinearizability(corrupted);
        expect(result.verdict).toBe('not-linearizable');
        expect(result.ok === false && result.key).toBe(target.op.key);
      }),
      { numRuns: 300 },
    );
  });
});

/**
 * The definition, executed literally: some total order of the operations that
 * respects real time is legal for the sequential key-value model. Operations with
 * unknown outcome are unchecked and may go last (which is how "never took effect"
 * looks). Exponential; only for tiny single-key histories.
 */
function bruteForceLinearizable(ops: readonly KvOperation[]): boolean {
  const used = new Array<boolean>(ops.length).fill(false);
  const search = (state: KvValue | undefined, placed: number): boolean => {
    if (placed === ops.length) return true;
    for (let i = 0; i < ops.length; i++) {
      if (used[i]) continue;
      const op = ops[i]!;
      // Every unplaced operation that returned before op was called must come first.
      if (ops.some((other, j) => !used[j] && j !== i && other.returnMs < op.callMs)) continue;
      const next = apply(state, op);
      if (next === REJECTED) continue;
      used[i] = true;
      const found = search(next, placed + 1);
      used[i] = false;
      if (found) return true;
    }
    return false;
  };
  return search(undefined, 0);
}

const REJECTED = Symbol('rejected');

function apply(state: KvValue | undefined, op: KvOperation): KvValue | undefined | typeof REJECTED {
  const checked = op.returnMs !== PENDING;
  switch (op.op) {
    case 'get':
      return checked && op.output !== state ? REJECTED : state;
    case 'set':
      return op.input;
    case 'delete':
      return checked && op.output !== undefined && op.output !== (state !== undefined)
        ? REJECTED
        : undefined;
    case 'incr': {
      if (typeof state === 'string')
        return checked && op.output !== 'not-a-number' ? REJECTED : state;
      const next = (state ?? 0) + op.input;
      return checked && op.output !== next ? REJECTED : next;
    }
    default:
      return checked && op.output !== (state === undefined)
        ? REJECTED
        : state === undefined
          ? op.input
          : state;
  }
}

const tinyValueArb = fc.constantFrom<KvValue>('a', 1, 2);
const randomOpArb: fc.Arbitrary<KvOperation> = fc
  .record({
    callMs: fc.integer({ min: 0, max: 20 }),
    span: fc.integer({ min: 0, max: 12 }),
    kind: fc.constantFrom('get', 'set', 'delete', 'incr', 'setnx'),
    value: tinyValueArb,
    maybeAbsent: fc.option(tinyValueArb, { nil: undefined }),
    flag: fc.boolean(),
    by: fc.integer({ min: 1, max: 2 }),
    // 0 means the response was lost (1 in 8).
    lost: fc.integer({ min: 0, max: 7 }),
  })
  .map((r): KvOperation => {
    const timing = {
      clientId: 'c',
      key: 'k',
      callMs: r.callMs,
      returnMs: r.lost === 0 ? PENDING : r.callMs + r.span,
    };
    switch (r.kind) {
      case 'get':
        return { ...timing, op: 'get', output: r.maybeAbsent };
      case 'set':
        return { ...timing, op: 'set', input: r.value };
      case 'delete':
        return { ...timing, op: 'delete', output: r.flag };
      case 'incr':
        return {
          ...timing,
          op: 'incr',
          input: r.by,
          output: typeof r.value === 'number' ? r.value + r.by - 1 : 'not-a-number',
        };
      default:
        return { ...timing, op: 'setnx', input: r.value, output: r.flag };
    }
  });

describe('checkLinearizability: agrees with the definition', () => {
  it('gives the brute-force verdict on small random single-key histories', () => {
    let linearizable = 0;
    fc.assert(
      fc.property(fc.array(randomOpArb, { maxLength: 6 }), (history) => {
        const expected = bruteForceLinearizable(history);
        if (expected) linearizable++;
        expect(checkLinearizability(history).ok).toBe(expected);
      }),
      { numRuns: 1000 },
    );
    // Both verdicts must actually have been exercised.
    expect(linearizable).toBeGreaterThan(50);
    expect(linearizable).toBeLessThan(950);
  });
});
