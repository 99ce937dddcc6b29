/**
 * A linearizability checker for histories of single-key operations on a key-value
 * store: the oracle the cluster simulation tests judge recorded histories with.
 *
 * Linearizability is compositional (Herlihy & Wing), so, as in Porcupine, the history
 * is split per key and each key's sub-history is checked on its own. Each key is
 * searched with the Wing & Gong algorithm as refined by Lowe ("just-in-time"
 * linearization): walk the time-ordered call/return events, linearize any operation
 * whose call has been seen, and backtrack when a return is reached whose operation is
 * not linearized yet. Configurations (set of linearized operations, model state) that
 * were already explored are memoised, which is what keeps the search polynomial on
 * realistic histories. The search is bounded; past the bound the answer is `unknown`,
 * never a pass.
 *
 * Real-time order: A precedes B only when `A.returnMs < B.callMs`. Equal timestamps
 * count as concurrent, so millisecond clocks cannot manufacture a false violation.
 */
import { invariant } from '../../src/util/assert.js';
import { InvalidArgumentError } from '../../src/util/errors.js';

/** A stored value. A key that holds nothing is `undefined`. */
export type KvValue = string | number;

/** What `incr` returned: the new number, or that the stored value was not a number. */
export type IncrOutput = number | 'not-a-number';

/** Fields every recorded operation has. */
export interface OperationTiming {
  /** Who issued the operation; only used in messages. */
  readonly clientId: string | number;
  /** The key operated on. */
  readonly key: string;
  /** When the call was issued. */
  readonly callMs: number;
  /**
   * When the response arrived, or `Infinity` when the outcome is unknown (timeout,
   * lost connection): the operation may then have taken effect at any point after
   * its call, or never, and its `output` is ignored.
   */
  readonly returnMs: number;
}

/**
 * One operation of a history. Semantics per key, starting from "absent":
 * - `get` outputs the value, or `undefined` when absent.
 * - `set` stores `input`; no output.
 * - `delete` removes the key; `output`, when given, says whether it existed.
 * - `incr` adds `input` to a number (absent counts as 0) and outputs the new number;
 *   on a string it changes nothing and outputs `'not-a-number'`.
 * - `setnx` stores `input` only when absent; `output` says whether it did.
 */
export type KvOperation = OperationTiming &
  (
    | { readonly op: 'get'; readonly input?: undefined; readonly output?: KvValue | undefined }
    | { readonly op: 'set'; readonly input: KvValue; readonly output?: undefined }
    | { readonly op: 'delete'; readonly input?: undefined; readonly output?: boolean | undefined }
    | { readonly op: 'incr'; readonly input: number; readonly output?: IncrOutput | undefined }
    | { readonly op: 'setnx'; readonly input: KvValue; readonly output?: boolean | undefined }
  );

/** Bounds on the work one check may do. */
export interface LinearizabilityOptions {
  /** Most memoised configurations per key before the key's verdict is `unknown`. */
  readonly maxStatesPerKey?: number;
  /**
   * Most extra searches spent shrinking a counterexample (each on a sub-history with
   * one more read removed). 0 disables shrinking.
   */
  readonly maxShrinkSearches?: number;
}

/** Default for {@link LinearizabilityOptions.maxStatesPerKey}. */
export const DEFAULT_MAX_STATES_PER_KEY = 250_000;
/** Default for {@link LinearizabilityOptions.maxShrinkSearches}. */
export const DEFAULT_MAX_SHRINK_SEARCHES = 200;

/** An operation that could not come next after the longest linearizable prefix. */
export interface RejectedCandidate {
  readonly operation: KvOperation;
  /** Why: the model rejects its output, or every continuation after it fails. */
  readonly whyNot: string;
}

/** Debugging detail for a key whose sub-history is not linearizable. */
export interface Counterexample {
  /** The key's whole sub-history, in call order. */
  readonly operations: readonly KvOperation[];
  /**
   * A sub-history that is still not linearizable after removing as many completed
   * `get`s as the shrink budget allowed. Removing reads cannot create a violation
   * (reads do not change state), so this is a genuine, smaller witness.
   */
  readonly minimalOperations: readonly KvOperation[];
  /** The longest sequence of operations the search could linearize, in order. */
  readonly longestLinearization: readonly KvOperation[];
  /** The model state after that sequence. */
  readonly stateAfterLinearization: KvValue | undefined;
  /**
   * The completed operation with the earliest return not in that sequence: something
   * had to be linearized before it returned, and nothing could be.
   */
  readonly blockedAt: KvOperation;
  /** Every operation that could have come next at that point, and why it did not. */
  readonly candidates: readonly RejectedCandidate[];
}

/** The verdict on a whole history. */
export type LinearizabilityResult =
  | {
      readonly ok: true;
      readonly verdict: 'linearizable';
      readonly keysChecked: number;
      /** Memoised configurations over all keys: how hard the search worked. */
      readonly statesExplored: number;
    }
  | {
      readonly ok: false;
      readonly verdict: 'not-linearizable';
      readonly key: string;
      /** A readable explanation (multi-line) for test failure messages. */
      readonly reason: string;
      readonly counterexample: Counterexample;
    }
  | {
      readonly ok: false;
      readonly verdict: 'unknown';
      readonly key: string;
      readonly reason: string;
      readonly statesExplored: number;
    };

/**
 * Checks a history of single-key operations for linearizability.
 *
 * Keys are checked in code-unit order; the first key found not linearizable is
 * reported. When no key is found not linearizable but some search ran out of budget,
 * the verdict is `unknown`.
 *
 * @throws InvalidArgumentError when an operation is malformed (bad times, a completed
 *   `incr` or `setnx` without an output, inputs of the wrong type).
 */
export function checkLinearizability(
  history: readonly KvOperation[],
  options: LinearizabilityOptions = {},
): LinearizabilityResult {
  const maxStates = options.maxStatesPerKey ?? DEFAULT_MAX_STATES_PER_KEY;
  const maxShrinkSearches = options.maxShrinkSearches ?? DEFAULT_MAX_SHRINK_SEARCHES;
  if (!Number.isInteger(maxStates) || maxStates < 1) {
    throw new InvalidArgumentError(`maxStatesPerKey must be a positive integer, got ${maxStates}`);
  }
  if (!Number.isInteger(maxShrinkSearches) || maxShrinkSearches < 0) {
    throw new InvalidArgumentError(
      `maxShrinkSearches must be a non-negative integer, got ${maxShrinkSearches}`,
    );
  }
  history.forEach(validateOperation);

  const byKey = new Map<string, KvOperation[]>();
  for (const operation of history) {
    const ops = byKey.get(operation.key);
    if (ops === undefined) byKey.set(operation.key, [operation]);
    else ops.push(operation);
  }
  const keys = [...byKey.keys()].sort();

  let statesExplored = 0;
  let firstUnknown: { key: string; states: number } | undefined;
  for (const key of keys) {
    const ops = sortByCall(byKey.get(key)!);
    const outcome = searchKey(ops, maxStates);
    statesExplored += outcome.states;
    if (outcome.kind === 'budget') {
      firstUnknown ??= { key, states: outcome.states };
      continue;
    }
    if (outcome.kind === 'violation') {
      const minimal = shrinkReads(ops, maxStates, maxShrinkSearches);
      const counterexample = explain(ops, minimal, outcome.deepest);
      return {
        ok: false,
        verdict: 'not-linearizable',
        key,
        reason: describeCounterexample(key, counterexample),
        counterexample,
      };
    }
  }
  if (firstUnknown !== undefined) {
    return {
      ok: false,
      verdict: 'unknown',
      key: firstUnknown.key,
      reason:
        `the search for key ${JSON.stringify(firstUnknown.key)} gave up after ` +
        `${firstUnknown.states} states (maxStatesPerKey ${maxStates}); no key was found ` +
        'not linearizable, but this history is not proven linearizable either',
      statesExplored,
    };
  }
  return { ok: true, verdict: 'linearizable', keysChecked: keys.length, statesExplored };
}

/** One line describing an operation, for failure messages. */
export function formatOperation(operation: KvOperation): string {
  const input = operation.input === undefined ? '' : JSON.stringify(operation.input);
  const pending = isPending(operation);
  const output = pending
    ? ' -> ? (outcome unknown)'
    : operation.op === 'set'
      ? ''
      : operation.output === undefined
        ? operation.op === 'delete'
          ? ''
          : ' -> (absent)'
        : ` -> ${JSON.stringify(operation.output)}`;
  const end = pending ? 'inf' : String(operation.returnMs);
  return `client ${operation.clientId}: ${operation.op}(${input})${output} [${operation.callMs}, ${end}]`;
}

function validateOperation(operation: KvOperation, index: number): void {
  const where = `history[${index}]`;
  if (typeof operation.key !== 'string') {
    throw new InvalidArgumentError(`${where}: key must be a string`);
  }
  if (!Number.isFinite(operation.callMs)) {
    throw new InvalidArgumentError(`${where}: callMs must be finite, got ${operation.callMs}`);
  }
  const pending = operation.returnMs === Number.POSITIVE_INFINITY;
  if (!pending && !Number.isFinite(operation.returnMs)) {
    throw new InvalidArgumentError(
      `${where}: returnMs must be finite or Infinity, got ${operation.returnMs}`,
    );
  }
  if (operation.returnMs < operation.callMs) {
    throw new InvalidArgumentError(
      `${where}: returnMs ${operation.returnMs} is before callMs ${operation.callMs}`,
    );
  }
  switch (operation.op) {
    case 'get':
      if (!pending && operation.output !== undefined && !isValue(operation.output)) {
        throw new InvalidArgumentError(`${where}: get output must be a string, number or absent`);
      }
      return;
    case 'set':
    case 'setnx':
      if (!isValue(operation.input)) {
        throw new InvalidArgumentError(
          `${where}: ${operation.op} input must be a string or number`,
        );
      }
      if (operation.op === 'setnx' && !pending && typeof operation.output !== 'boolean') {
        throw new InvalidArgumentError(`${where}: a completed setnx needs a boolean output`);
      }
      return;
    case 'delete':
      if (!pending && operation.output !== undefined && typeof operation.output !== 'boolean') {
        throw new InvalidArgumentError(`${where}: delete output must be a boolean or undefined`);
      }
      return;
    case 'incr':
      if (!Number.isFinite(operation.input)) {
        throw new InvalidArgumentError(`${where}: incr input must be a finite number`);
      }
      if (
        !pending &&
        operation.output !== 'not-a-number' &&
        !(typeof operation.output === 'number' && Number.isFinite(operation.output))
      ) {
        throw new InvalidArgumentError(
          `${where}: a completed incr needs a number or 'not-a-number' output`,
        );
      }
      return;
    default:
      throw new InvalidArgumentError(
        `${where}: unknown op ${JSON.stringify((operation as { op: unknown }).op)}`,
      );
  }
}

function isValue(value: unknown): value is KvValue {
  return typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value));
}

function isPending(operation: KvOperation): boolean {
  return operation.returnMs === Number.POSITIVE_INFINITY;
}

function sortByCall(ops: readonly KvOperation[]): KvOperation[] {
  // Stable, so operations with equal call times keep their recorded order.
  return [...ops].sort((a, b) => a.callMs - b.callMs);
}

/** The model's answer to applying one operation: the next value, or why it cannot be. */
type Step = { readonly ok: true; readonly next: KvValue | undefined } | StepRejection;
interface StepRejection {
  readonly ok: false;
  readonly why: string;
}

function show(value: KvValue | undefined): string {
  return value === undefined ? '(absent)' : JSON.stringify(value);
}

/**
 * The sequential specification of one key. An operation with unknown outcome is
 * always applicable: its effect follows from the state, and its output is not checked.
 */
function step(state: KvValue | undefined, operation: KvOperation): Step {
  const checked = !isPending(operation);
  switch (operation.op) {
    case 'get':
      if (checked && operation.output !== state) {
        return {
          ok: false,
          why: `returned ${show(operation.output)} but the key held ${show(state)}`,
        };
      }
      return { ok: true, next: state };
    case 'set':
      return { ok: true, next: operation.input };
    case 'delete':
      if (checked && operation.output !== undefined && operation.output !== (state !== undefined)) {
        return {
          ok: false,
          why: `reported existed=${operation.output} but the key held ${show(state)}`,
        };
      }
      return { ok: true, next: undefined };
    case 'incr': {
      if (typeof state === 'string') {
        if (checked && operation.output !== 'not-a-number') {
          return {
            ok: false,
            why: `returned ${JSON.stringify(operation.output)} but the key held the string ${show(state)}`,
          };
        }
        return { ok: true, next: state };
      }
      const next = (state ?? 0) + operation.input;
      if (checked && operation.output !== next) {
        return {
          ok: false,
          why: `returned ${JSON.stringify(operation.output)} but ${show(state)} + ${operation.input} = ${next}`,
        };
      }
      return { ok: true, next };
    }
    case 'setnx': {
      const applied = state === undefined;
      if (checked && operation.output !== applied) {
        return {
          ok: false,
          why: `reported applied=${operation.output} but the key held ${show(state)}`,
        };
      }
      return { ok: true, next: applied ? operation.input : state };
    }
  }
}

/** Interns model states as small integers so memo entries compare and hash cheaply. */
class StateTable {
  private readonly ids = new Map<string, number>();
  readonly values: (KvValue | undefined)[] = [];

  idOf(value: KvValue | undefined): number {
    const key = value === undefined ? 'u' : typeof value === 'number' ? `n${value}` : `s${value}`;
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.values.length;
      this.ids.set(key, id);
      this.values.push(value);
    }
    return id;
  }
}

interface MemoEntry {
  readonly bits: Uint32Array;
  readonly state: number;
}

/** Memo of explored (linearized set, state) configurations, keyed by a Zobrist hash. */
class Memo {
  private readonly buckets = new Map<number, MemoEntry[]>();
  size = 0;

  /** Adds the configuration; false when it was already there. */
  add(hash: number, bits: Uint32Array, state: number): boolean {
    const key = (hash ^ Math.imul(state + 1, 0x9e3779b1)) >>> 0;
    const bucket = this.buckets.get(key);
    if (bucket !== undefined) {
      for (const entry of bucket) {
        if (entry.state === state && sameBits(entry.bits, bits)) return false;
      }
      bucket.push({ bits: bits.slice(), state });
    } else {
      this.buckets.set(key, [{ bits: bits.slice(), state }]);
    }
    this.size++;
    return true;
  }
}

function sameBits(a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A fixed pseudo-random 32-bit value per operation index (splitmix-style mixing). */
function zobrist(index: number): number {
  let z = Math.imul(index + 1, 0x9e3779b9);
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

type SearchOutcome =
  | { readonly kind: 'ok'; readonly states: number }
  | { readonly kind: 'budget'; readonly states: number }
  | { readonly kind: 'violation'; readonly states: number; readonly deepest: readonly number[] };

const HEAD = -2;
const END = -1;

/**
 * Lowe's just-in-time search over one key's operations (sorted by call). Pending
 * reads are dropped up front (they neither constrain nor change anything); other
 * pending operations have no return event, so they may be linearized anywhere after
 * their call, or left out, which is the same as linearizing them after everything.
 */
function searchKey(allOps: readonly KvOperation[], maxStates: number): SearchOutcome {
  const opIndexes: number[] = [];
  allOps.forEach((operation, index) => {
    if (!(operation.op === 'get' && isPending(operation))) opIndexes.push(index);
  });
  const count = opIndexes.length;

  // Events: call of op i is event 2i, its return (when it has one) is 2i + 1.
  const events: number[] = [];
  let remaining = 0;
  for (let i = 0; i < count; i++) {
    events.push(2 * i);
    if (!isPending(allOps[opIndexes[i]!]!)) {
      events.push(2 * i + 1);
      remaining++;
    }
  }
  const opAt = (i: number): KvOperation => allOps[opIndexes[i]!]!;
  const timeOf = (event: number): number =>
    event % 2 === 0 ? opAt(event >> 1).callMs : opAt(event >> 1).returnMs;
  events.sort((a, b) => timeOf(a) - timeOf(b) || (a % 2) - (b % 2) || a - b);

  // A doubly linked list over events, so lifting an operation out and putting it
  // back (dancing-links style, strictly last-out-first-in) is O(1).
  const next = new Int32Array(2 * count);
  const prev = new Int32Array(2 * count);
  let headNext = events.length > 0 ? events[0]! : END;
  for (let k = 0; k < events.length; k++) {
    prev[events[k]!] = k === 0 ? HEAD : events[k - 1]!;
    next[events[k]!] = k === events.length - 1 ? END : events[k + 1]!;
  }
  const unlink = (event: number): void => {
    const before = prev[event]!;
    const after = next[event]!;
    if (before === HEAD) headNext = after;
    else next[before] = after;
    if (after !== END) prev[after] = before;
  };
  const relink = (event: number): void => {
    const before = prev[event]!;
    const after = next[event]!;
    if (before === HEAD) headNext = event;
    else next[before] = event;
    if (after !== END) prev[after] = event;
  };
  const hasReturn = (i: number): boolean => !isPending(opAt(i));

  const states = new StateTable();
  const memo = new Memo();
  const bits = new Uint32Array(Math.ceil(count / 32) || 1);
  let hash = 0;
  let state = states.idOf(undefined);
  const stackOps: number[] = [];
  const stackStates: number[] = [];
  let deepest: number[] = [];

  let entry = headNext;
  while (remaining > 0) {
    if (memo.size > maxStates) return { kind: 'budget', states: memo.size };
    // Every completed operation still unlinearized has its return event ahead.
    invariant(entry !== END, 'event list ended with completed operations unlinearized');
    const i = entry >> 1;
    if (entry % 2 === 0) {
      const result = step(states.values[state], opAt(i));
      if (result.ok) {
        const nextState = states.idOf(result.next);
        bits[i >> 5]! ^= 1 << (i & 31);
        hash ^= zobrist(i);
        if (memo.add(hash, bits, nextState)) {
          stackOps.push(i);
          stackStates.push(state);
          state = nextState;
          unlink(2 * i);
          if (hasReturn(i)) {
            unlink(2 * i + 1);
            remaining--;
          }
          if (stackOps.length > deepest.length) deepest = stackOps.slice();
          entry = headNext;
          continue;
        }
        bits[i >> 5]! ^= 1 << (i & 31);
        hash ^= zobrist(i);
      }
      entry = next[entry]!;
      continue;
    }
    // A return of an operation not yet linearized: undo the last choice.
    const undone = stackOps.pop();
    if (undone === undefined) {
      return {
        kind: 'violation',
        states: memo.size,
        deepest: deepest.map((k) => opIndexes[k]!),
      };
    }
    state = stackStates.pop()!;
    bits[undone >> 5]! ^= 1 << (undone & 31);
    hash ^= zobrist(undone);
    if (hasReturn(undone)) {
      relink(2 * undone + 1);
      remaining++;
    }
    relink(2 * undone);
    entry = next[2 * undone]!;
  }
  // Only pending operations are left: they go after everything (or never happened).
  return { kind: 'ok', states: memo.size };
}

/**
 * Drops completed reads one at a time while the rest stays not linearizable. Reads
 * never change state, so any linearization of a history restricts to one of the
 * history without some reads: the shrunk history is a sound witness.
 */
function shrinkReads(
  ops: readonly KvOperation[],
  maxStates: number,
  maxSearches: number,
): KvOperation[] {
  let current = [...ops];
  let searches = 0;
  for (let index = current.length - 1; index >= 0 && searches < maxSearches; index--) {
    if (current[index]!.op !== 'get') continue;
    const candidate = current.filter((_, k) => k !== index);
    searches++;
    if (searchKey(candidate, maxStates).kind === 'violation') current = candidate;
  }
  return current;
}

function explain(
  ops: readonly KvOperation[],
  minimal: readonly KvOperation[],
  deepest: readonly number[],
): Counterexample {
  let state: KvValue | undefined;
  for (const index of deepest) {
    const result = step(state, ops[index]!);
    if (result.ok) state = result.next;
  }
  const linearized = new Set(deepest);
  let blockedIndex = -1;
  ops.forEach((operation, index) => {
    if (linearized.has(index) || isPending(operation)) return;
    if (blockedIndex === -1 || operation.returnMs < ops[blockedIndex]!.returnMs)
      blockedIndex = index;
  });
  const blockedAt = ops[blockedIndex]!;
  const candidates: RejectedCandidate[] = [];
  ops.forEach((operation, index) => {
    if (linearized.has(index) || operation.callMs > blockedAt.returnMs) return;
    if (operation.op === 'get' && isPending(operation)) return;
    const result = step(state, operation);
    candidates.push({
      operation,
      whyNot: result.ok
        ? `possible here (key would hold ${show(result.next)}), but no way to continue after it`
        : result.why,
    });
  });
  return {
    operations: ops,
    minimalOperations: minimal,
    longestLinearization: deepest.map((index) => ops[index]!),
    stateAfterLinearization: state,
    blockedAt,
    candidates,
  };
}

function describeCounterexample(key: string, counterexample: Counterexample): string {
  const lines = [
    `key ${JSON.stringify(key)} is not linearizable (${counterexample.operations.length} operations).`,
    `Longest linearizable prefix (${counterexample.longestLinearization.length} operations):`,
    ...counterexample.longestLinearization.map((op) => `  ${formatOperation(op)}`),
    `then the key holds ${show(counterexample.stateAfterLinearization)}, and before`,
    `  ${formatOperation(counterexample.blockedAt)}`,
    'returns, one of these must take effect, but none can:',
    ...counterexample.candidates.map((c) => `  ${formatOperation(c.operation)}: ${c.whyNot}`),
    `A smaller witness (${counterexample.minimalOperations.length} operations, reads removed):`,
    ...counterexample.minimalOperations.map((op) => `  ${formatOperation(op)}`),
  ];
  return lines.join('\n');
}
