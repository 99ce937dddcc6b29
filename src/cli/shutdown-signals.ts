/** The signals that ask a foreground command to stop. */
const SHUTDOWN_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/** A shutdown signal. */
export type ShutdownSignal = (typeof SHUTDOWN_SIGNALS)[number];

/** Exit codes after a forced stop: 128 + the signal's number, as shells report them. */
const FORCED_EXIT_CODES: Readonly<Record<ShutdownSignal, number>> = { SIGINT: 130, SIGTERM: 143 };

/**
 * Turns SIGINT/SIGTERM into a graceful-stop request: the first one resolves
 * `requested`, a second one calls `force` and exits at once. Install it before
 * anything is printed or started: a signal that arrives in between would otherwise
 * kill the process with the default action, skipping the clean stop.
 */
export class ShutdownSignals {
  /** Resolves with the first signal received. */
  readonly requested: Promise<ShutdownSignal>;
  private received: ShutdownSignal | undefined;
  private resolve: ((signal: ShutdownSignal) => void) | undefined;
  private readonly onSignal: (signal: NodeJS.Signals) => void;

  /**
   * @param onSecond called on the second signal, just before the process exits
   *   (kill children, say why).
   */
  constructor(onSecond: (signal: ShutdownSignal) => void) {
    this.requested = new Promise((resolve) => {
      this.resolve = resolve;
    });
    this.onSignal = (raw) => {
      const signal = SHUTDOWN_SIGNALS.find((candidate) => candidate === raw);
      if (signal === undefined) return;
      if (this.received === undefined) {
        this.received = signal;
        this.resolve?.(signal);
        return;
      }
      onSecond(signal);
      process.exit(FORCED_EXIT_CODES[signal]);
    };
    for (const signal of SHUTDOWN_SIGNALS) process.on(signal, this.onSignal);
  }

  /** The first signal received, if any. */
  get first(): ShutdownSignal | undefined {
    return this.received;
  }

  /** Restores the default signal behaviour. */
  dispose(): void {
    for (const signal of SHUTDOWN_SIGNALS) process.off(signal, this.onSignal);
  }
}
