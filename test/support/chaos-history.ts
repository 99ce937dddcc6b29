/**
 * Records the operations chaos clients issue, in the format of the linearizability
 * checker, and decides what a failure says about whether an operation took effect.
 */
import { performance } from 'node:perf_hooks';
import { RemoteError } from '../../src/transport/errors.js';
import { invariant } from '../../src/util/assert.js';
import { ShoalError } from '../../src/util/errors.js';
import type { IncrOutput, KvOperation, KvValue } from './linearizability.js';

/** What a failed operation proves. */
export type FailureOutcome = 'not-applied' | 'unknown';

/**
 * Error codes that prove an operation was not applied anywhere. Every other failure
 * (OutcomeUnknown, request timeouts, lost connections, anything unexpected) counts as
 * unknown: the operation may have taken effect at any point after its call, which is
 * the conservative reading and can never manufacture a violation.
 */
const NOT_APPLIED_CODES: ReadonlySet<string> = new Set([
  'ERR_NOT_PRIMARY',
  'ERR_NO_QUORUM',
  'ERR_WRITE_NOT_APPLIED',
]);

/** The code an error carries, looking through a transport `RemoteError`. */
export function errorCode(error: unknown): string {
  if (error instanceof RemoteError) return error.remoteCode;
  if (error instanceof ShoalError) return error.code;
  return error instanceof Error ? error.name : 'non-error';
}

/** Classifies a failed operation; see {@link NOT_APPLIED_CODES}. */
export function classifyFailure(error: unknown): FailureOutcome {
  return NOT_APPLIED_CODES.has(errorCode(error)) ? 'not-applied' : 'unknown';
}

/** An operation as invoked, before it completes. */
export type Invocation =
  | { readonly op: 'get' }
  | { readonly op: 'set'; readonly input: number }
  | { readonly op: 'delete' }
  | { readonly op: 'incr'; readonly input: number }
  | { readonly op: 'setnx'; readonly input: number };

/** Counts of completions by kind. */
export interface HistoryCounts {
  ok: number;
  notApplied: number;
  unknown: number;
}

/** Most operations one history keeps; past it {@link ChaosHistory.invoke} refuses. */
export const MAX_HISTORY_OPERATIONS = 2_000_000;

/** See the file comment. Times are `performance.now()` milliseconds. */
export class ChaosHistory {
  private readonly operations: KvOperation[] = [];
  readonly counts: HistoryCounts = { ok: 0, notApplied: 0, unknown: 0 };
  /** Failure codes seen, with how often: the summary shows what the faults caused. */
  readonly failureCodes = new Map<string, number>();
  private invoked = 0;

  /** Whether another operation may still be recorded. */
  get full(): boolean {
    return this.invoked >= MAX_HISTORY_OPERATIONS;
  }

  /**
   * Runs `execute` and records it as one operation of `clientId` on `key`. A
   * successful result is converted by the invocation's kind; a failure is recorded
   * as not applied (dropped from the history) or unknown (no return time).
   */
  async record(
    clientId: string,
    key: string,
    invocation: Invocation,
    execute: () => Promise<unknown>,
  ): Promise<'ok' | FailureOutcome> {
    invariant(!this.full, 'chaos history is full');
    this.invoked++;
    const callMs = performance.now();
    let result: unknown;
    try {
      result = await execute();
    } catch (error) {
      const code = errorCode(error);
      this.failureCodes.set(code, (this.failureCodes.get(code) ?? 0) + 1);
      const outcome = classifyFailure(error);
      if (outcome === 'not-applied') {
        this.counts.notApplied++;
      } else {
        this.counts.unknown++;
        // A read whose answer never came constrains nothing, so it is left out.
        if (invocation.op !== 'get') this.push(clientId, key, invocation, callMs, Infinity);
      }
      return outcome;
    }
    this.counts.ok++;
    this.push(clientId, key, invocation, callMs, performance.now(), result);
    return 'ok';
  }

  /** The recorded history (operations not applied are not in it). */
  history(): readonly KvOperation[] {
    return this.operations;
  }

  private push(
    clientId: string,
    key: string,
    invocation: Invocation,
    callMs: number,
    returnMs: number,
    result?: unknown,
  ): void {
    const timing = { clientId, key, callMs, returnMs };
    switch (invocation.op) {
      case 'get':
        this.operations.push({ ...timing, op: 'get', output: asValue(result) });
        return;
      case 'set':
        this.operations.push({ ...timing, op: 'set', input: invocation.input });
        return;
      case 'delete':
        this.operations.push({
          ...timing,
          op: 'delete',
          output: returnMs === Infinity ? undefined : result === true,
        });
        return;
      case 'incr':
        this.operations.push({
          ...timing,
          op: 'incr',
          input: invocation.input,
          output: returnMs === Infinity ? undefined : (result as IncrOutput),
        });
        return;
      case 'setnx':
        this.operations.push({
          ...timing,
          op: 'setnx',
          input: invocation.input,
          output: returnMs === Infinity ? undefined : result === true,
        });
        return;
    }
  }
}

/** A read result as the checker's value type; anything else is kept visible as text. */
function asValue(result: unknown): KvValue | undefined {
  if (result === undefined || typeof result === 'number' || typeof result === 'string') {
    return result;
  }
  return `unexpected:${JSON.stringify(result)}`;
}
