import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { ShoalClient } from '../api/index.js';
import { Placement } from '../cluster/placement.js';
import { partitionOf } from '../ring/index.js';
import { ShoalError } from '../util/errors.js';
import { connectClient } from './client-connection.js';
import { ClusterProbe } from './cluster-probe.js';
import type { Command, CommandContext } from './command.js';
import { EXIT_FAILURE, EXIT_OK } from './exit-codes.js';
import { type FlagSpec, integerFlag } from './flags.js';
import { freePorts } from './free-port.js';
import type { KnownNode } from './node-address.js';
import { NodeProcess } from './node-process.js';
import { CliUsageError } from './usage-error.js';

const NODE_COUNT = 3;
const DEFAULT_KEYS = 200;
const MAX_KEYS = 100_000;
/** Default budget of each phase (start, failover); generous for a busy laptop. */
const DEFAULT_PHASE_TIMEOUT_MS = 20_000;
const MAX_PHASE_TIMEOUT_MS = 600_000;
/** Writes in flight at once while loading keys and during the failover. */
const WRITE_CONCURRENCY = 16;
/** How often the surviving nodes are asked for their view while waiting for failover. */
const VIEW_POLL_INTERVAL_MS = 100;
/** Keys written once the failover is over, to show writes are accepted again. */
const KEYS_AFTER_FAILOVER = 50;
/** Most writes attempted while the cluster fails over (the loop is bounded). */
const MAX_WRITES_DURING_FAILOVER = 100_000;
/** Exit code after a second Ctrl-C (128 + SIGINT). */
const FORCED_EXIT_CODE = 130;

const demoFlags = {
  keys: 'string',
  timeout: 'string',
  help: 'boolean',
} as const satisfies FlagSpec;

/** Ctrl-C during the demo. */
class DemoInterruptedError extends ShoalError {
  constructor() {
    super('ERR_CLI_INTERRUPTED', 'interrupted; the demo nodes were stopped');
  }
}

/** `shoal demo`. */
export const demoCommand: Command = {
  name: 'demo',
  summary: 'run a local 3-node cluster, crash a node, and show that nothing acknowledged is lost',
  usage: `usage: shoal demo [--keys N] [--timeout MS]

Starts ${NODE_COUNT} nodes as child processes on free loopback ports (${NODE_COUNT} voters,
replication factor 2, a throwaway secret), writes keys through a client and reads
them back, kills with SIGKILL the node that is primary of some of them, keeps
writing while the cluster fails over, then checks that every acknowledged key is
still readable with its value. The nodes are stopped at the end, on failure and on
Ctrl-C.

  --keys N       keys written before the crash (default ${DEFAULT_KEYS})
  --timeout MS   budget for the nodes to start, and for the failover (default ${DEFAULT_PHASE_TIMEOUT_MS})

Exit codes: 0 nothing acknowledged was lost, 1 a key was lost or a step failed, 2 bad
command line.`,
  flags: demoFlags,
  async run(args, context) {
    if (args.positionals.length > 0) {
      throw new CliUsageError(`demo takes no arguments, got "${args.positionals[0]}"`);
    }
    const keyCount = integerFlag(args.values, 'keys', 1, MAX_KEYS) ?? DEFAULT_KEYS;
    const phaseTimeoutMs =
      integerFlag(args.values, 'timeout', 1_000, MAX_PHASE_TIMEOUT_MS) ?? DEFAULT_PHASE_TIMEOUT_MS;
    const demo = new Demo(context, keyCount, phaseTimeoutMs);
    return demo.run();
  },
};

/** One write the client acknowledged: the value every later read must return. */
interface AckedWrite {
  readonly key: string;
  readonly value: string;
}

/** The demo as a sequence of steps over the resources it must release. */
class Demo {
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
    const onSignal = (): void => {
      if (this.interrupted) {
        for (const node of this.nodes) void node.kill();
        process.exit(FORCED_EXIT_CODE);
      }
      this.interrupted = true;
      this.log('interrupted; stopping the demo nodes (Ctrl-C again to kill them at once)');
      this.interrupt?.();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      return await this.steps();
    } finally {
      await this.cleanUp();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  }

  private async steps(): Promise<number> {
    const members = await this.step(this.startNodes());
    const client = await this.step(
      connectClient({ seeds: members, secret: this.secret, timeoutMs: this.phaseTimeoutMs }),
    );
    this.client = client;
    this.probe = ClusterProbe.open(this.secret, { timeoutMs: this.phaseTimeoutMs });

    const acked: AckedWrite[] = [];
    const keys = Array.from({ length: this.keyCount }, (_, i) => `demo:key:${i}`);
    let began = performance.now();
    const loaded = await this.step(this.writeAll(client, keys, 'before'));
    acked.push(...loaded.acked);
    this.log(
      `wrote ${loaded.acked.length}/${keys.length} keys in ${since(began)} (${describeFailures(loaded.failures) || 'all acknowledged'})`,
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
      `while failing over: ${duringResult.acked.length} writes acknowledged${duringResult.failures.size === 0 ? '' : `, ${describeFailures(duringResult.failures)} (reported to the client, never acknowledged)`}`,
    );

    began = performance.now();
    const afterKeys = Array.from({ length: KEYS_AFTER_FAILOVER }, (_, i) => `demo:after:${i}`);
    const after = await this.step(this.writeAll(client, afterKeys, 'after'));
    acked.push(...after.acked);
    this.log(
      `after failover: wrote ${after.acked.length}/${afterKeys.length} new keys in ${since(began)}${after.failures.size === 0 ? '' : ` (${describeFailures(after.failures)})`}`,
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
    const ports = await freePorts(NODE_COUNT);
    const members = ports.map((port, i) => ({
      id: `demo-${i + 1}`,
      url: `ws://127.0.0.1:${port}`,
    }));
    const voters = members.map((member) => `${member.id}=${member.url}`).join(',');
    this.log(
      `starting ${NODE_COUNT} nodes (${members.map((member) => `${member.id} on ${member.url}`).join(', ')})`,
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
      `${NODE_COUNT} nodes formed a cluster in ${since(began)} (pids ${this.nodes.map((node) => node.pid).join(', ')})`,
    );
    return members;
  }

  /** Writes `key -> value-of-key`, a few at a time; collects what was acknowledged. */
  private async writeAll(
    client: ShoalClient,
    keys: readonly string[],
    phase: string,
  ): Promise<{ acked: AckedWrite[]; failures: Map<string, number> }> {
    const acked: AckedWrite[] = [];
    const failures = new Map<string, number>();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < keys.length && !this.interrupted) {
        const key = keys[next++]!;
        const value = `${phase}:${key}`;
        try {
          await client.set(key, value);
          acked.push({ key, value });
        } catch (error) {
          countFailure(failures, error);
        }
      }
    };
    await Promise.all(Array.from({ length: WRITE_CONCURRENCY }, worker));
    return { acked, failures };
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
