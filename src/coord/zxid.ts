import { invariant } from '../util/assert.js';

/**
 * A zxid orders every proposal of the coordinator: the epoch of the leader that made
 * it in the high bits, a per-epoch counter in the low 32 bits. It is a plain number
 * (not a bigint) so it encodes compactly and compares with `<`; that is exact as long
 * as it stays below 2^53, hence the epoch bound.
 */

/** 2^32: the counter occupies the low 32 bits. */
const COUNTER_SPAN = 4_294_967_296;

/** Epochs stay below 2^21 so `epoch * 2^32 + counter` stays a safe integer. */
export const MAX_EPOCH = 2 ** 21 - 1;

/**
 * The last counter a leader may use in one epoch. ZooKeeper forces a new election
 * when the counter would roll over; so does shoal (the leader steps down).
 */
export const MAX_COUNTER = COUNTER_SPAN - 1;

/** Builds the zxid of proposal `counter` in `epoch`. */
export function makeZxid(epoch: number, counter: number): number {
  invariant(Number.isInteger(epoch) && epoch >= 0 && epoch <= MAX_EPOCH, `bad epoch ${epoch}`);
  invariant(
    Number.isInteger(counter) && counter >= 0 && counter <= MAX_COUNTER,
    `bad counter ${counter}`,
  );
  return epoch * COUNTER_SPAN + counter;
}

/** The epoch of the leader that proposed `zxid`. */
export function epochOf(zxid: number): number {
  return Math.floor(zxid / COUNTER_SPAN);
}

/** The position of `zxid` within its epoch. */
export function counterOf(zxid: number): number {
  return zxid % COUNTER_SPAN;
}

/** Whether `value` is a well-formed zxid (a non-negative safe integer with a valid epoch). */
export function isZxid(value: unknown): value is number {
  return (
    typeof value === 'number' &&
    Number.isSafeInteger(value) &&
    value >= 0 &&
    epochOf(value) <= MAX_EPOCH
  );
}

/** `epoch:counter`, for logs and traces. */
export function formatZxid(zxid: number): string {
  return `${epochOf(zxid)}:${counterOf(zxid)}`;
}
