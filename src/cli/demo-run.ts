import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { ShoalClient } from '../api/index.js';
import { Placement } from '../cluster/placement.js';
import { partitionOf } from '../ring/index.js';
import { ShoalError } from '../util/errors.js';
import { connectClient } from './client-connection.js';
import { ClusterProbe } from './cluster-probe.js';
import type { CommandContext } from './command.js';
import { DEMO_NODE_COUNT } from './demo-command.js';
import { EXIT_FAILURE, EXIT_OK } from './exit-codes.js';
import { freePorts } from './free-port.js';
import type { KnownNode } from './node-address.js';
import { NodeProcess } from './node-process.js';
import { ShutdownSignals } from './shutdown-signals.js';

/** Writes in flight at once while loading keys and during the failover. */
const WRITE_CONCURRENCY = 16;
/** How often the surviving nodes are asked for their view while waiting for failover. */
const VIEW_POLL_INTERVAL_MS = 100;
/** Attempts per key while loading, for writes refused with ERR_NO_QUORUM. */
const MAX_ATTEMPTS_PER_KEY = 20;
/** Pause before retrying a refused write (grows with each attempt). */
const REFUSED_RETRY_DELAY_MS = 50;
/** Keys written once the failover is over, to show writes are accepted again. */
const KEYS_AFTER_FAILOVER = 50;
/** Most writes attempted while the cluster fails over (the loop is bounded). */
const MAX_WRITES_DURING_FAILOVER = 100_000;

/** Ctrl-C during the demo. */
class DemoInterruptedError extends ShoalError {
  constructor() {
    super('ERR_CLI_INTERRUPTED', 'interrupted; the demo nodes were stopped');
  }
}

/** One write the client acknowledged: the value every later read must return. */
interface AckedWrite {
  readonly key: string;
  readonly value: string;
}

/**
 * The demo as a sequence of steps over the resources it must release: child
 * processes, a client and a probe, all stopped at the end, on failure and on Ctrl-C.
 */
export class Demo {
  private readonly context: CommandContext;
  private readonly keyCount: number;
  private readonly phaseTimeoutMs: number;
  private readonly startedAt = performance.now();
  private readonly secret = randomBytes(24).toString('hex');
  private readonly nodes: NodeProcess[] = [];
  private client: ShoalClient | undefined;
  private probe: ClusterProbe | undefined;
  private interrupted = false;
  private readonly interruption: Promise<never>;
  private interrupt: (() => void) | undefined;

  constructor(context: CommandContext, keyCount: number, phaseTimeoutMs: number) {
    this.context = context;
    this.keyCount = keyCount;
    this.phaseTimeoutMs = phaseTimeoutMs;
    this.interruption = new Promise<never>((_, reject) => {
      this.interrupt = () => reject(new DemoInterruptedError());
    });
    this.interruption.catch(() => {});
  }

  async run(): Promise<number> {
    const signals = new ShutdownSignals(() => {
      for (const node of this.nodes) void node.kill();
    });
    void signals.requested.then(() => {
      this.interrupted = true;
      this.log('interrupted; stopping the demo nodes (Ctrl-C again to kill them at once)');
      this.interrupt?.();
    });
    try {
      return await this.steps();
    } finally {
      await this.cleanUp();
      signals.dispose();
    }
  }

  private async steps(): Promise<number> {
    const members = await this.step(this.startNodes());
    const client = await this.step(
      connectClient({ seeds: members, secret: this.secret, timeoutMs: this.phaseTimeoutMs }),
    );
    this.client = client;
    this.probe = ClusterProbe.open(this.secret, { timeoutMs: this.phaseTimeoutMs });
    const settled = await this.step(this.awaitAgreement(members));
    this.log(`every node routes by view epoch ${settled} with all ${DEMO_NODE_COUNT} members`);

    const acked: AckedWrite[] = [];
    const keys = Array.from({ length: this.keyCount }, (_, i) => `demo:key:${i}`);
    let began = performance.now();
    const loaded = await this.step(this.writeAll(client, keys, 'before'));
    acked.push(...loaded.acked);
    this.log(
      `wrote ${loaded.acked.length}/${keys.length} keys in ${since(began)} (${describeWrites(loaded)})`,
    );
    began = performance.now();
    const readBack = await this.step(this.verify(client, acked));
    this.log(`read ${readBack.matching}/${acked.length} back in ${since(began)}`);

    const before = await this.step(this.probe.view(members));
    const placement = Placement.of(before.view, before.replicationFactor, before.vnodes);
    const victimId = placement.primaryOf(partitionOf(keys[0]!));
    const victim = this.nodes.find((node) => node.id === victimId);
    if (victim === undefined) throw new ShoalError('ERR_CLI_DEMO', `no process runs ${victimId}`);
    const victimKeys = keys.filter((key) => placement.primaryOf(partitionOf(key)) === victimId);
    this.log(
      `view epoch ${before.view.epoch}: ${before.view.members.map((member) => `${member.id} primary of ${placement.table.partitionsOwnedBy(member.id, 'primary').length}`).join(', ')} partitions (replication factor ${before.replicationFactor})`,
    );
    this.log(
      `${victimId} is the primary of ${victimKeys.length} of the ${keys.length} keys (e.g. ${keys[0]}); killing it with SIGKILL (pid ${victim.pid})`,
    );

    const survivors = members.filter((member) => member.id !== victimId);
    const killedAt = performance.now();
    await victim.kill();
    const during = this.writeDuringFailover(client);
    let failover: { epoch: number; members: string[] };
    try {
      failover = await this.step(this.awaitViewWithout(victimId, survivors));
    } finally {
      during.stop();
    }
    this.log(
      `failover: view epoch ${before.view.epoch} -> ${failover.epoch} (${failover.members.join(', ')}) ${since(killedAt)} after the kill`,
    );
    const duringResult = await this.step(during.done);
    acked.push(...duringResult.acked);
    this.log(
      `while failing over: ${duringResult.acked.length} writes acknowledged${duringResult.failures.size === 0 ? '' : `, ${describeFailures(duringResult.failures)} (each one an error at the client, so not counted as written)`}`,
    );

    began = performance.now();
    const afterKeys = Array.from({ length: KEYS_AFTER_FAILOVER }, (_, i) => `demo:after:${i}`);
    const after = await this.step(this.writeAll(client, afterKeys, 'after'));
    acked.push(...after.acked);
    this.log(
      `after failover: wrote ${after.acked.length}/${afterKeys.length} new keys in ${since(began)} (${describeWrites(after)})`,
    );

    began = performance.now();
    const final = await this.step(this.verify(client, acked));
    const lost = acked.length - final.matching;
    this.log(
      `checked every acknowledged write in ${since(began)}: ${final.matching}/${acked.length} readable with the value written (${victimKeys.length} of them had ${victimId} as primary); ${lost} lost`,
    );
    if (final.firstMismatch !== undefined) {
      this.log(`first lost key: ${final.firstMismatch}`);
      return EXIT_FAILURE;
    }
    return EXIT_OK;
  }

  private async startNodes(): Promise<KnownNode[]> {
    const ports = await freePorts(DEMO_NODE_COUNT);
    const members = ports.map((port, i) => ({
      id: `demo-${i + 1}`,
      url: `ws://127.0.0.1:${port}`,
    }));
    const voters = members.map((member) => `${member.id}=${member.url}`).join(',');
    this.log(
      `starting ${DEMO_NODE_COUNT} nodes (${members.map((member) => `${member.id} on ${member.url}`).join(', ')})`,
    );
    const began = performance.now();
    const script = fileURLToPath(new URL('../../bin/shoal.js', import.meta.url));
    for (const [i, member] of members.entries()) {
      this.nodes.push(
        NodeProcess.spawn({
          script,
          id: member.id,
          secret: this.secret,
          args: [
            '--port',
            String(ports[i]),
            '--voters',
            voters,
            '--replication-factor',
            '2',
            '--log-level',
            'error',
            '--join-timeout',
            String(this.phaseTimeoutMs),
          ],
        }),
      );
    }
    await Promise.all(this.nodes.map((node) => node.ready(this.phaseTimeoutMs)));
    this.log(
      `${DEMO_NODE_COUNT} nodes formed a cluster in ${since(began)} (pids ${this.nodes.map((node) => node.pid).join(', ')})`,
    );
    return members;
  }

  /**
   * Writes `key -> value-of-key`, a few at a time; collects what was acknowledged.
   * A write refused with ERR_NO_QUORUM was provably not applied (a freshly formed or
   * just failed-over cluster can refuse a few while its leases settle, more so on a
   * busy machine), so it is retried, bounded; the refusals are still reported.
   */
  private async writeAll(
    client: ShoalClient,
    keys: readonly string[],
    phase: string,
  ): Promise<{ acked: AckedWrite[]; failures: Map<string, number>; refusals: number }> {
    const acked: AckedWrite[] = [];
    const failures = new Map<string, number>();
    let refusals = 0;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < keys.length && !this.interrupted) {
        const key = keys[next++]!;
        const value = `${phase}:${key}`;
        for (let attempt = 1; !this.interrupted; attempt++) {
          try {
            await client.set(key, value);
            acked.push({ key, value });
            break;
          } catch (error) {
            const refused = error instanceof ShoalError && error.code === 'ERR_NO_QUORUM';
            if (!refused || attempt >= MAX_ATTEMPTS_PER_KEY) {
              countFailure(failures, error);
              break;
            }
            refusals++;
            await new Promise((resolve) => setTimeout(resolve, REFUSED_RETRY_DELAY_MS * attempt));
          }
        }
      }
    };
    await Promise.all(Array.from({ length: WRITE_CONCURRENCY }, worker));
    return { acked, failures, refusals };
  }

  /** Keeps writing new keys until `stop()`; `done` resolves what was acknowledged. */
  private writeDuringFailover(client: ShoalClient): {
    stop(): void;
    done: Promise<{ acked: AckedWrite[]; failures: Map<string, number> }>;
  } {
    let stopped = false;
    let next = 0;
    const acked: AckedWrite[] = [];
    const failures = new Map<string, number>();
    const worker = async (): Promise<void> => {
      while (!stopped && !this.interrupted && next < MAX_WRITES_DURING_FAILOVER) {
        const key = `demo:during:${next++}`;
        const value = `during:${key}`;
        try {
          await client.set(key, value);
          acked.push({ key, value });
        } catch (error) {
          countFailure(failures, error);
        }
      }
    };
    const done = Promise.all(Array.from({ length: WRITE_CONCURRENCY }, worker)).then(() => ({
      acked,
      failures,
    }));
    return {
      stop: () => {
        stopped = true;
      },
      done,
    };
  }

  /** Polls until every node answers with the same view of all of them; resolves its epoch. */
  private async awaitAgreement(members: readonly KnownNode[]): Promise<number> {
    const probe = this.probe!;
    const deadline = performance.now() + this.phaseTimeoutMs;
    while (!this.interrupted) {
      try {
        const report = await probe.report(members);
        const agreed =
          report.members.length === members.length &&
          report.members.every((member) => member.viewEpoch === report.viewEpoch);
        if (agreed) return report.viewEpoch;
      } catch {
        // A node may still be applying its first view; ask again.
      }
      if (performance.now() > deadline) {
        throw new ShoalError(
          'ERR_CLI_DEMO',
          `the nodes did not agree on a view of all ${members.length} within ${this.phaseTimeoutMs} ms`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, VIEW_POLL_INTERVAL_MS));
    }
    throw new DemoInterruptedError();
  }

  /** Polls the survivors until their view no longer has `victimId`. */
  private async awaitViewWithout(
    victimId: string,
    survivors: readonly KnownNode[],
  ): Promise<{ epoch: number; members: string[] }> {
    const probe = this.probe!;
    const deadline = performance.now() + this.phaseTimeoutMs;
    while (!this.interrupted) {
      try {
        const { view } = await probe.view(survivors);
        if (!view.members.some((member) => member.id === victimId)) {
          return { epoch: view.epoch, members: view.members.map((member) => member.id) };
        }
      } catch {
        // A survivor may be busy electing a leader; ask again.
      }
      if (performance.now() > deadline) {
        throw new ShoalError(
          'ERR_CLI_DEMO',
          `the cluster did not remove ${victimId} from its view within ${this.phaseTimeoutMs} ms`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, VIEW_POLL_INTERVAL_MS));
    }
    throw new DemoInterruptedError();
  }

  /** Reads every acknowledged key back; counts those holding the value written. */
  private async verify(
    client: ShoalClient,
    acked: readonly AckedWrite[],
  ): Promise<{ matching: number; firstMismatch: string | undefined }> {
    const values = await client.mget<string>(acked.map((write) => write.key));
    let matching = 0;
    let firstMismatch: string | undefined;
    for (const [i, write] of acked.entries()) {
      if (values[i] === write.value) matching++;
      else
        firstMismatch ??= `${write.key} (expected "${write.value}", read ${JSON.stringify(values[i] ?? null)})`;
    }
    return { matching, firstMismatch };
  }

  /** Awaits `work` unless Ctrl-C comes first. */
  private step<T>(work: Promise<T>): Promise<T> {
    work.catch(() => {});
    return Promise.race([work, this.interruption]);
  }

  private async cleanUp(): Promise<void> {
    const began = performance.now();
    await this.client?.stop().catch(() => {});
    await this.probe?.close().catch(() => {});
    const running = this.nodes.filter((node) => node.running);
    await Promise.all(running.map((node) => node.stop()));
    if (running.length > 0) this.log(`stopped ${running.length} nodes in ${since(began)}`);
  }

  private log(message: string): void {
    const seconds = ((performance.now() - this.startedAt) / 1000).toFixed(2);
    this.context.out(`[${seconds.padStart(6)}s] ${message}`);
  }
}

function since(startMs: number): string {
  const ms = performance.now() - startMs;
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function countFailure(failures: Map<string, number>, error: unknown): void {
  const code = error instanceof ShoalError ? error.code : 'ERR_UNKNOWN';
  failures.set(code, (failures.get(code) ?? 0) + 1);
}

function describeFailures(failures: ReadonlyMap<string, number>): string {
  return [...failures].map(([code, count]) => `${count} failed with ${code}`).join(', ');
}

function describeWrites(result: {
  failures: ReadonlyMap<string, number>;
  refusals: number;
}): string {
  const parts: string[] = [];
  if (result.failures.size > 0) parts.push(describeFailures(result.failures));
  else parts.push('all acknowledged');
  if (result.refusals > 0) {
    parts.push(
      `${result.refusals} refused with ERR_NO_QUORUM while the cluster settled, then retried`,
    );
  }
  return parts.join('; ');
}
