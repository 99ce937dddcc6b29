import { SimNetwork, type SimNetworkOptions } from '../../src/transport/sim-network.js';
import type { SimTransport } from '../../src/transport/sim-transport.js';
import type { NodeId } from '../../src/transport/transport.js';
import { SeededRandom } from '../../src/util/random.js';
import { SimScheduler, type SimSchedulerOptions } from '../../src/util/sim-scheduler.js';

/** A network, its scheduler, and one transport per id. */
export interface SimFixture {
  scheduler: SimScheduler;
  net: SimNetwork;
  t: Record<NodeId, SimTransport>;
}

/**
 * Starts `ids` on a fresh seeded network, has every endpoint dial every later one,
 * and runs until all connections are up.
 */
export function connectedNetwork(
  seed: number,
  ids: readonly NodeId[],
  options: Partial<Omit<SimNetworkOptions, 'scheduler' | 'random'>> = {},
  schedulerOptions: SimSchedulerOptions = {},
): SimFixture {
  const scheduler = new SimScheduler(schedulerOptions);
  const net = new SimNetwork({ scheduler, random: new SeededRandom(seed), ...options });
  const t: Record<NodeId, SimTransport> = {};
  for (const id of ids) t[id] = net.createTransport(id);
  for (let i = 0; i < ids.length; i++) {
    for (let j = i + 1; j < ids.length; j++) t[ids[i]!]!.addPeer(ids[j]!, `sim://${ids[j]}`);
  }
  const maxConnectMs = options.connectDelayMs?.maxMs ?? 5;
  scheduler.runFor(maxConnectMs);
  for (let i = 0; i < ids.length; i++) {
    for (let j = i + 1; j < ids.length; j++) {
      if (net.connectionState(ids[i]!, ids[j]!) !== 'up') {
        throw new Error(`fixture: ${ids[i]} and ${ids[j]} did not connect`);
      }
    }
  }
  return { scheduler, net, t };
}

/** Captures a promise's outcome (and when it settled) without an unhandled rejection. */
export function track<T>(
  scheduler: SimScheduler,
  promise: Promise<T>,
): {
  value?: T;
  error?: unknown;
  settledAtMs?: number;
} {
  const outcome: { value?: T; error?: unknown; settledAtMs?: number } = {};
  promise.then(
    (value) => {
      outcome.value = value;
      outcome.settledAtMs = scheduler.now();
    },
    (error: unknown) => {
      outcome.error = error;
      outcome.settledAtMs = scheduler.now();
    },
  );
  return outcome;
}
