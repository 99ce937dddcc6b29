import { InvalidArgumentError } from '../util/errors.js';
import type { Random } from '../util/random.js';

/** Failures after which the delay has certainly reached its cap (2^40 > any sane ratio). */
const MAX_EXPONENT = 40;

/**
 * Exponential backoff with "equal jitter": after the k-th consecutive failure the
 * delay is drawn uniformly from [d/2, d) where d = min(max, initial * 2^k). Half the
 * delay is fixed, so retries never hammer a peer; half is random, so nodes that lost
 * the same peer at the same moment do not reconnect in lockstep.
 */
export class ExponentialBackoff {
  private failures = 0;

  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
    private readonly random: Random,
  ) {
    if (!(initialMs > 0) || !(maxMs >= initialMs)) {
      throw new InvalidArgumentError('backoff needs 0 < initialMs <= maxMs');
    }
  }

  /** The delay before the next attempt; each call counts one more failure. */
  nextDelayMs(): number {
    const exponent = Math.min(this.failures, MAX_EXPONENT);
    this.failures++;
    const capMs = Math.min(this.maxMs, this.initialMs * 2 ** exponent);
    return capMs / 2 + this.random.next() * (capMs / 2);
  }

  /** A success: the next failure starts again from `initialMs`. */
  reset(): void {
    this.failures = 0;
  }
}
