/**
 * N shoal node processes on loopback, each behind a {@link ChaosProxy}, for the
 * nemesis suite. Nodes and clients reach each node only through its proxy (the node
 * advertises the proxy's address and every voter list names proxies), so a partition
 * is made by setting proxy link modes. Every voter starts with its own `dataDir` under
 * one temporary directory, so a node killed with SIGKILL restarts with its coordinator
 * log; `restart(id, { dataDir: false })` restarts it without one instead (amnesiac), and
 * that slot stays memory-only from then on (a later restart from its old, stale log
 * could undo acks the amnesiac incarnation gave). Learners join (`join`) under fresh
 * ids and leave (`leave`) cleanly or by SIGKILL, never to return.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ShoalOptions } from '../../src/api/shoal.js';
import { invariant } from '../../src/util/assert.js';
import { ChaosProxy, type LinkMode } from './chaos-proxy.js';
import { ownerOfConnection } from './chaos-socket-owner.js';
import { freePort, killNodeProcess, type NodeProcess, startNodeProcess } from './node-processes.js';

/** The name chaos links give every dialer that is not a node process (test clients). */
export const CLIENT = 'client';

/** Settings of a {@link ChaosCluster}. */
export interface ChaosClusterOptions {
  readonly nodes: number;
  readonly secret: string;
  /** `maxMemory` of every node, in bytes. */
  readonly maxMemoryBytes: number;
  /** How long a (re)starting node may take to be in the committed view. */
  readonly startTimeoutMs: number;
  /** Owners per partition. */
  readonly replicationFactor: number;
}

/** One member slot: its id, real port, proxy and (while running) process. */
interface Member {
  readonly id: string;
  /** Voters are the static ensemble; the others joined as learners. */
  readonly voter: boolean;
  /** Runs without a `dataDir` (restarted amnesiac once, so for good). */
  memoryOnly: boolean;
  /** A learner that left; it never runs again. */
  retired: boolean;
  /** Where the node itself listens; only the proxy and status polls use it. */
  port: number;
  readonly proxy: ChaosProxy;
  process: NodeProcess | undefined;
  paused: boolean;
  /** Highest resident set size seen for any process of this slot, in bytes. */
  peakRssBytes: number;
}

/** Most attempts to start a node whose port was taken meanwhile. */
const MAX_LAUNCH_ATTEMPTS = 3;

/** Resident set size of `pid` from /proc, in bytes (0 when gone). */
function rssBytes(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match === null ? 0 : Number(match[1]) * 1024;
  } catch {
    return 0;
  }
}

/**
 * This process's child processes that run a node, by node id. Read from /proc rather
 * than from the `NodeProcess` handles because a (re)starting node dials its peers
 * before it reports ready, and those connections must already count as that node's.
 */
function nodeChildren(): Map<string, number> {
  const nodes = new Map<string, number>();
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${process.pid}/task`);
  } catch {
    return nodes;
  }
  for (const task of tasks) {
    let children: string[];
    try {
      children = readFileSync(`/proc/${process.pid}/task/${task}/children`, 'utf8')
        .trim()
        .split(' ')
        .filter((pid) => pid !== '');
    } catch {
      continue;
    }
    for (const pid of children) {
      try {
        const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        const match = /"id":"([^"]+)"/.exec(argv.find((arg) => arg.startsWith('{')) ?? '');
        if (match?.[1] !== undefined) nodes.set(match[1], Number(pid));
      } catch {
        // The child exited while we looked.
      }
    }
  }
  return nodes;
}

function newMember(id: string, voter: boolean, port: number, proxy: ChaosProxy): Member {
  return {
    id,
    voter,
    // Learners hold nothing the coordinator's agreement depends on.
    memoryOnly: !voter,
    retired: false,
    port,
    proxy,
    process: undefined,
    paused: false,
    peakRssBytes: 0,
  };
}

/** Most learners that may join over one run (each gets a fresh id and proxy). */
const MAX_JOINED_LEARNERS = 1_000;

/** See the file comment. */
export class ChaosCluster {
  /** The voters' ids (the static ensemble). */
  readonly ids: readonly string[];
  private readonly options: ChaosClusterOptions;
  private readonly members: Member[];
  private readonly dataRoot: string;
  private learnersJoined = 0;
  private readonly identify: (dialerPort: number, proxyPort: number) => string;

  private constructor(
    options: ChaosClusterOptions,
    members: Member[],
    dataRoot: string,
    identify: (dialerPort: number, proxyPort: number) => string,
  ) {
    this.options = options;
    this.members = members;
    this.ids = members.map((member) => member.id);
    this.dataRoot = dataRoot;
    this.identify = identify;
  }

  /**
   * Starts the proxies and node processes. On any failure everything already started
   * is stopped before the error is thrown.
   */
  static async start(options: ChaosClusterOptions): Promise<ChaosCluster> {
    invariant(options.nodes >= 1 && options.nodes <= 9, 'between 1 and 9 chaos nodes');
    const dataRoot = mkdtempSync(join(tmpdir(), 'shoal-chaos-'));
    const members: Member[] = [];
    let cluster: ChaosCluster | undefined;
    const identify = (dialerPort: number, proxyPort: number): string =>
      ownerOfConnection(dialerPort, proxyPort, nodeChildren()) ?? CLIENT;
    try {
      for (let i = 0; i < options.nodes; i++) {
        const id = `n${i + 1}`;
        const port = await freePort();
        const proxy = await ChaosProxy.start(id, port, identify);
        members.push(newMember(id, true, port, proxy));
      }
      cluster = new ChaosCluster(options, members, dataRoot, identify);
      const started = cluster;
      await Promise.all(members.map((member) => started.launch(member)));
      return cluster;
    } catch (error) {
      if (cluster !== undefined) await cluster.stop();
      else {
        for (const member of members) await member.proxy.close();
        rmSync(dataRoot, { recursive: true, force: true });
      }
      throw error;
    }
  }

  /** `id=ws://127.0.0.1:proxyPort` for every node: what clients use as seeds. */
  get seeds(): string[] {
    return this.members.map((member) => `${member.id}=ws://127.0.0.1:${member.proxy.port}`);
  }

  /** Ids of every node whose process runs now (voters and learners, paused or not). */
  runningIds(): string[] {
    return this.members.filter((member) => member.process !== undefined).map((m) => m.id);
  }

  /** Ids of the running learners. */
  runningLearners(): string[] {
    return this.members
      .filter((member) => !member.voter && member.process !== undefined)
      .map((member) => member.id);
  }

  /** Ids of the voters that run without a `dataDir`. */
  memoryOnlyVoters(): string[] {
    return this.members.filter((member) => member.voter && member.memoryOnly).map((m) => m.id);
  }

  /** Starts a new learner under a fresh id; resolves once it is in the view. */
  async join(): Promise<string> {
    invariant(this.learnersJoined < MAX_JOINED_LEARNERS, 'too many learners joined');
    this.learnersJoined++;
    const id = `l${this.learnersJoined}`;
    const port = await freePort();
    const proxy = await ChaosProxy.start(id, port, this.identify);
    const member = newMember(id, false, port, proxy);
    this.members.push(member);
    await this.launch(member);
    return id;
  }

  /**
   * Makes learner `id` leave for good: `clean` stops it with SIGTERM (it leaves the
   * view itself), otherwise SIGKILL (its session expires and the leader removes it).
   */
  async leave(id: string, clean: boolean): Promise<void> {
    const member = this.member(id);
    invariant(!member.voter, `only learners leave, not ${id}`);
    this.sampleMemory();
    if (member.process !== undefined) {
      await killNodeProcess(member.process, clean ? 'SIGTERM' : 'SIGKILL');
    }
    member.process = undefined;
    member.retired = true;
  }

  /** Whether `id`'s process is running (possibly paused). */
  isRunning(id: string): boolean {
    return this.member(id).process !== undefined;
  }

  /** Kills `id` with SIGKILL and waits until its process is gone. */
  async kill(id: string): Promise<void> {
    const member = this.member(id);
    this.sampleMemory();
    if (member.process !== undefined) await killNodeProcess(member.process, 'SIGKILL');
    member.process = undefined;
    member.paused = false;
  }

  /**
   * Starts `id` again on the same port; resolves once it is in the view. With
   * `dataDir: false` its data directory is deleted and it restarts amnesiac, and stays
   * memory-only (see the file comment).
   */
  async restart(id: string, options: { dataDir: boolean } = { dataDir: true }): Promise<void> {
    const member = this.member(id);
    invariant(member.process === undefined, `node ${id} is not running`);
    invariant(!member.retired, `node ${id} left for good`);
    if (!options.dataDir && !member.memoryOnly) {
      member.memoryOnly = true;
      rmSync(join(this.dataRoot, member.id), { recursive: true, force: true });
    }
    await this.launch(member);
  }

  /** SIGSTOPs `id`: its sockets stay open but it answers nothing. */
  pause(id: string): void {
    const member = this.member(id);
    if (member.process === undefined || member.paused) return;
    member.process.child.kill('SIGSTOP');
    member.paused = true;
  }

  /** SIGCONTs `id`. */
  resume(id: string): void {
    const member = this.member(id);
    if (member.process === undefined || !member.paused) return;
    member.process.child.kill('SIGCONT');
    member.paused = false;
  }

  /** Sets the link between `a` and `b` (either a node id or {@link CLIENT}) both ways. */
  setLink(a: string, b: string, mode: LinkMode): void {
    for (const member of this.members) {
      if (member.id === a) member.proxy.setMode(b, mode);
      if (member.id === b) member.proxy.setMode(a, mode);
    }
  }

  /** Cuts every link between the two sides with `mode` (`drop` or `close`). */
  partition(sides: readonly [readonly string[], readonly string[]], mode: LinkMode): void {
    for (const a of sides[0]) for (const b of sides[1]) this.setLink(a, b, mode);
  }

  /** Every link back to `pass`, every paused node resumed. */
  heal(): void {
    for (const member of this.members) {
      member.proxy.healAll();
      this.resume(member.id);
    }
  }

  /** Records each running node's current RSS into its peak. */
  sampleMemory(): void {
    for (const member of this.members) {
      const pid = member.process?.child.pid;
      if (pid !== undefined) {
        member.peakRssBytes = Math.max(member.peakRssBytes, rssBytes(pid));
      }
    }
  }

  /** Peak RSS per node id, in bytes, over every process that slot ran. */
  peakRss(): Record<string, number> {
    return Object.fromEntries(this.members.map((member) => [member.id, member.peakRssBytes]));
  }

  /**
   * Connections the proxies accepted, keyed `dialer->node`: shows that node-to-node
   * links were told apart from clients (otherwise partitions would cut nothing).
   */
  connectionsByLink(): Record<string, number> {
    const links: Record<string, number> = {};
    for (const member of this.members) {
      for (const [source, count] of member.proxy.acceptedBySource) {
        links[`${source}->${member.id}`] = count;
      }
    }
    return links;
  }

  /** The node's status endpoint (through the real port, never through a proxy). */
  async status(id: string, timeoutMs: number): Promise<NodeStatus> {
    const member = this.member(id);
    const response = await fetch(`http://127.0.0.1:${member.port}/shoal/status`, {
      signal: AbortSignal.timeout(timeoutMs),
    });
    return (await response.json()) as NodeStatus;
  }

  /**
   * Kills every process (SIGCONT first so a paused one can die), closes every proxy
   * and removes the data directories. Safe to call twice.
   */
  async stop(): Promise<void> {
    for (const member of this.members) {
      if (member.process !== undefined) {
        member.process.child.kill('SIGCONT');
        await killNodeProcess(member.process, 'SIGKILL');
        member.process = undefined;
      }
    }
    for (const member of this.members) await member.proxy.close();
    rmSync(this.dataRoot, { recursive: true, force: true });
  }

  /**
   * Starts `member`'s process. A port from `freePort` can be taken by someone else
   * before the node binds it; the node is then started again on a fresh port (peers
   * only ever dial the proxy, which is pointed at the new one).
   */
  private async launch(member: Member): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.launchOnce(member);
        return;
      } catch (error) {
        if (attempt >= MAX_LAUNCH_ATTEMPTS || !String(error).includes('EADDRINUSE')) throw error;
        member.port = await freePort();
        member.proxy.retarget(member.port);
      }
    }
  }

  private async launchOnce(member: Member): Promise<void> {
    const options: ShoalOptions & { id: string } = {
      id: member.id,
      port: member.port,
      secret: this.options.secret,
      advertisedAddress: `ws://127.0.0.1:${member.proxy.port}`,
      voters: this.members
        .filter((other) => other.voter)
        .map((other) => `${other.id}=127.0.0.1:${other.proxy.port}`),
      replicationFactor: this.options.replicationFactor,
      writeConcern: 'all',
      maxMemory: this.options.maxMemoryBytes,
      ...(member.memoryOnly ? {} : { dataDir: join(this.dataRoot, member.id) }),
      joinTimeoutMs: this.options.startTimeoutMs,
    };
    member.process = await startNodeProcess(options, this.options.startTimeoutMs + 5_000);
    member.paused = false;
  }

  private member(id: string): Member {
    const member = this.members.find((candidate) => candidate.id === id);
    invariant(member !== undefined, `unknown chaos node ${id}`);
    return member;
  }
}

/** What a node's `/shoal/status` answers (the fields the suite reads). */
export interface NodeStatus {
  readonly id: string;
  readonly viewEpoch: number;
  readonly members: readonly string[];
  readonly settled: boolean;
}
