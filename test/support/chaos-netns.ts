/**
 * Shoal nodes in separate Linux network namespaces, joined by veth links to one
 * bridge in the test's own namespace, so a partition is real dropped packets between
 * hosts rather than a proxy's decision:
 *
 * ```
 *   test process (root ns, 10.R.0.1 on bridge shb<R>)
 *     ├─ veth shh<R>n1 ── ns shoal-<R>-n1: eth shn<R>n1 10.R.0.11, node n1 on :7400
 *     ├─ veth shh<R>n2 ── ns shoal-<R>-n2: ...                 .12
 *     └─ veth shh<R>n3 ── ns shoal-<R>-n3: ...                 .13
 * ```
 *
 * - `cut(a, b)` adds blackhole routes for each other's address in both namespaces:
 *   packets between the two nodes are dropped, while the test (clients) still reaches
 *   both, so a node on the minority side is asked to serve and must refuse.
 * - `unplug(a)` sets the host end of `a`'s veth down: `a` loses every packet, to
 *   nodes and to clients alike.
 * - Nodes are killed with SIGKILL and restarted in their namespace with the same
 *   address and `dataDir`.
 *
 * Needs root and `ip` (iproute2). {@link netnsUnavailableReason} says why it cannot
 * run here, so the test can skip with that message.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ShoalOptions } from '../../src/api/shoal.js';
import { invariant } from '../../src/util/assert.js';

const NODE_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'shoal-node-process.ts');
/** Every node listens on this port, each in its own namespace. */
export const NETNS_NODE_PORT = 7400;
/** Longest a single `ip` command may take. */
const IP_TIMEOUT_MS = 10_000;

function ip(args: readonly string[]): { ok: boolean; output: string } {
  const result = spawnSync('ip', args, { encoding: 'utf8', timeout: IP_TIMEOUT_MS });
  return {
    ok: result.status === 0,
    output:
      `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? String(result.error) : ''}`.trim(),
  };
}

function mustIp(args: readonly string[]): void {
  const result = ip(args);
  if (!result.ok) throw new Error(`ip ${args.join(' ')} failed: ${result.output}`);
}

/** Why namespaces cannot be made here, or `undefined` when they can. */
export function netnsUnavailableReason(): string | undefined {
  if (process.platform !== 'linux') return `network namespaces need Linux, not ${process.platform}`;
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    return 'network namespaces need root (run the suite as root to include this test)';
  }
  if (spawnSync('sh', ['-c', 'command -v ip'], { stdio: 'ignore' }).status !== 0) {
    return "the 'ip' command (iproute2) is missing: apt-get install -y iproute2";
  }
  const probe = `shoal-probe-${process.pid}`;
  const added = ip(['netns', 'add', probe]);
  if (!added.ok) return `'ip netns add' is not permitted here: ${added.output}`;
  ip(['netns', 'del', probe]);
  return undefined;
}

/** One node's namespace, address and (while running) process. */
interface NsNode {
  readonly id: string;
  readonly ns: string;
  readonly address: string;
  readonly hostVeth: string;
  process: ChildProcess | undefined;
}

/** Settings of a {@link NetnsCluster}. */
export interface NetnsClusterOptions {
  readonly nodes: number;
  readonly secret: string;
  readonly replicationFactor: number;
  readonly maxMemoryBytes: number;
  readonly startTimeoutMs: number;
}

/** See the file comment. */
export class NetnsCluster {
  readonly ids: readonly string[];
  private readonly nodes: NsNode[];
  private readonly bridge: string;
  private readonly dataRoot: string;
  private readonly options: NetnsClusterOptions;
  private readonly cuts = new Set<string>();

  private constructor(options: NetnsClusterOptions, tag: string, subnet: number) {
    this.options = options;
    this.bridge = `shb${tag}`;
    this.dataRoot = mkdtempSync(join(tmpdir(), 'shoal-netns-'));
    this.nodes = Array.from({ length: options.nodes }, (_, i) => ({
      id: `n${i + 1}`,
      ns: `shoal-${tag}-n${i + 1}`,
      address: `10.${subnet}.0.${11 + i}`,
      hostVeth: `shh${tag}n${i + 1}`,
      process: undefined,
    }));
    this.ids = this.nodes.map((node) => node.id);
  }

  /**
   * Makes the bridge, namespaces and links, then starts every node. On failure,
   * everything made so far is torn down before the error is thrown.
   */
  static async start(options: NetnsClusterOptions): Promise<NetnsCluster> {
    invariant(options.nodes >= 1 && options.nodes <= 9, 'between 1 and 9 netns nodes');
    // Short random names: interface names are limited to 15 characters.
    const tag =
      (process.pid % 10_000).toString(36) + Math.floor(Math.random() * 36 ** 2).toString(36);
    const subnet = 100 + (process.pid % 100);
    const cluster = new NetnsCluster(options, tag, subnet);
    try {
      cluster.buildNetwork(subnet);
      await Promise.all(cluster.nodes.map((node) => cluster.launch(node)));
      return cluster;
    } catch (error) {
      await cluster.stop();
      throw error;
    }
  }

  /** `id=ws://address:port` of every node, as seen from the test's namespace. */
  get seeds(): string[] {
    return this.nodes.map((node) => `${node.id}=ws://${node.address}:${NETNS_NODE_PORT}`);
  }

  /** Drops every packet between `a` and `b` (blackhole routes in both namespaces). */
  cut(a: string, b: string): void {
    const [x, y] = [this.node(a), this.node(b)];
    mustIp(['-n', x.ns, 'route', 'add', 'blackhole', `${y.address}/32`]);
    mustIp(['-n', y.ns, 'route', 'add', 'blackhole', `${x.address}/32`]);
    this.cuts.add(`${a} ${b}`);
  }

  /** Takes `id`'s link down: it loses every packet, to nodes and clients alike. */
  unplug(id: string): void {
    mustIp(['link', 'set', this.node(id).hostVeth, 'down']);
  }

  /** Removes every cut and brings every link up. */
  heal(): void {
    for (const pair of this.cuts) {
      const [a, b] = pair.split(' ') as [string, string];
      const [x, y] = [this.node(a), this.node(b)];
      ip(['-n', x.ns, 'route', 'del', 'blackhole', `${y.address}/32`]);
      ip(['-n', y.ns, 'route', 'del', 'blackhole', `${x.address}/32`]);
    }
    this.cuts.clear();
    for (const node of this.nodes) ip(['link', 'set', node.hostVeth, 'up']);
  }

  /** SIGKILLs `id` and waits until it is gone. */
  async kill(id: string): Promise<void> {
    const node = this.node(id);
    const child = node.process;
    node.process = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }

  /** Starts `id` again in its namespace with its address and `dataDir`. */
  async restart(id: string): Promise<void> {
    const node = this.node(id);
    invariant(node.process === undefined, `node ${id} is running`);
    await this.launch(node);
  }

  /** `/shoal/status` of `id`, through its address (so it fails while `id` is cut off). */
  async status(id: string, timeoutMs: number): Promise<{ members: string[]; settled: boolean }> {
    const node = this.node(id);
    const response = await fetch(`http://${node.address}:${NETNS_NODE_PORT}/shoal/status`, {
      signal: AbortSignal.timeout(timeoutMs),
    });
    return (await response.json()) as { members: string[]; settled: boolean };
  }

  /** `/healthz` of `id` (200 in the view with quorum, 503 otherwise), or 0 when unreachable. */
  async health(id: string, timeoutMs: number): Promise<number> {
    const node = this.node(id);
    try {
      const response = await fetch(`http://${node.address}:${NETNS_NODE_PORT}/healthz`, {
        signal: AbortSignal.timeout(timeoutMs),
      });
      await response.arrayBuffer();
      return response.status;
    } catch {
      return 0;
    }
  }

  /** Kills every node, deletes the namespaces (and with them the veths) and the bridge. */
  async stop(): Promise<void> {
    for (const node of this.nodes) await this.kill(node.id);
    for (const node of this.nodes) ip(['netns', 'del', node.ns]);
    ip(['link', 'del', this.bridge]);
    rmSync(this.dataRoot, { recursive: true, force: true });
  }

  private buildNetwork(subnet: number): void {
    mustIp(['link', 'add', this.bridge, 'type', 'bridge']);
    mustIp(['addr', 'add', `10.${subnet}.0.1/24`, 'dev', this.bridge]);
    mustIp(['link', 'set', this.bridge, 'up']);
    for (const node of this.nodes) {
      const inner = node.hostVeth.replace(/^shh/, 'shn');
      mustIp(['netns', 'add', node.ns]);
      mustIp(['link', 'add', node.hostVeth, 'type', 'veth', 'peer', 'name', inner]);
      mustIp(['link', 'set', inner, 'netns', node.ns]);
      mustIp(['link', 'set', node.hostVeth, 'master', this.bridge]);
      mustIp(['link', 'set', node.hostVeth, 'up']);
      mustIp(['-n', node.ns, 'addr', 'add', `${node.address}/24`, 'dev', inner]);
      mustIp(['-n', node.ns, 'link', 'set', inner, 'up']);
      mustIp(['-n', node.ns, 'link', 'set', 'lo', 'up']);
    }
  }

  private launch(node: NsNode): Promise<void> {
    const options: ShoalOptions & { id: string } = {
      id: node.id,
      host: node.address,
      port: NETNS_NODE_PORT,
      secret: this.options.secret,
      voters: this.nodes.map((other) => `${other.id}=${other.address}:${NETNS_NODE_PORT}`),
      replicationFactor: this.options.replicationFactor,
      writeConcern: 'all',
      maxMemory: this.options.maxMemoryBytes,
      dataDir: join(this.dataRoot, node.id),
      joinTimeoutMs: this.options.startTimeoutMs,
    };
    // `ip netns exec` execs node in place, so signals reach the node process itself.
    const child = spawn(
      'ip',
      [
        'netns',
        'exec',
        node.ns,
        process.execPath,
        '--import',
        'tsx',
        NODE_SCRIPT,
        JSON.stringify(options),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    node.process = child;
    return new Promise((resolve, reject) => {
      let output = '';
      let errors = '';
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`node ${node.id} did not start in its namespace: ${errors.slice(-500)}`));
      }, this.options.startTimeoutMs + 5_000);
      child.stderr?.on('data', (chunk: Buffer) => {
        errors += chunk.toString();
      });
      child.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('READY ')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`node ${node.id} exited (${code ?? signal}): ${errors.slice(-500)}`));
      });
    });
  }

  private node(id: string): NsNode {
    const node = this.nodes.find((candidate) => candidate.id === id);
    invariant(node !== undefined, `unknown netns node ${id}`);
    return node;
  }
}
