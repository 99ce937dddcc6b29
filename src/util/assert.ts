import { InvariantViolationError } from './errors.js';

/**
 * Asserts something that must never happen. A failure means shoal has a bug, so it
 * throws rather than letting corrupt state spread.
 */
export function invariant(condition: unknown, message: string): asserts condition {
  if (!condition) throw new InvariantViolationError(message);
}
