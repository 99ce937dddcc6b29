import type { ShoalNode, ShoalRespOptions } from '../api/index.js';
import { ShoalError } from '../util/errors.js';
import type { Command, CommandContext } from './command.js';
import { EXIT_FAILURE, EXIT_OK } from './exit-codes.js';
import { JsonLogger } from './json-logger.js';
import { formatNode, type KnownNode } from './node-address.js';
import {
  CLIENT_SECRET_ENV,
  type ResolvedSecret,
  resolveClientSecret,
  resolveSecret,
  SECRET_ENV,
} from './secret-source.js';
import { ShutdownSignals } from './shutdown-signals.js';
import {
  type RespSettings,
  resolveStartSettings,
  START_DEFAULTS,
  START_FLAGS,
  type StartSettings,
} from './start-settings.js';

/** How long a graceful stop may take before the process gives up on it. */
const STOP_TIMEOUT_MS = 10_000;
/** How often the running node is checked for a fatal failure (its storage died). */
const HEALTH_CHECK_INTERVAL_MS = 1_000;
/** Budget to learn the ids of `--join` addresses given without one. */
const JOIN_DISCOVERY_TIMEOUT_MS = 5_000;

/** `shoal start`. */
export const startCommand: Command = {
  name: 'start',
  summary: 'run a cluster node in the foreground',
  usage: `usage: shoal start [options]

Runs a node until SIGINT or SIGTERM; it then leaves the cluster cleanly: partitions
only it holds (replication factor 1) are handed to their next owners first, the
others' backups take over at once. A second signal forces the exit.
With no options: a single-node cluster on ${START_DEFAULTS.host}:${START_DEFAULTS.port}, id ${START_DEFAULTS.id}, with a
generated secret printed once.

  --id ID                  this node's id (default ${START_DEFAULTS.id}); ids, not addresses, name nodes
  --host HOST              interface to listen on (default ${START_DEFAULTS.host})
  --port PORT              port to listen on; 0 picks a free one (default ${START_DEFAULTS.port})
  --advertise ADDR         host:port other nodes dial to reach this one (default: where it listens)
  --voters ID=ADDR,...     the coordinator ensemble (1, 3 or 5 nodes), as this node dials them;
                           repeatable. A node whose id is not listed joins as a learner.
  --join ID=ADDR,...       join an existing cluster as a learner: its voters (an ADDR
                           without ID= is asked for its id)
  --secret-file FILE       read the cluster secret from FILE (default: $${SECRET_ENV}; else one
                           is generated and printed)
  --secret TEXT            the cluster secret (visible to other users in ps; prefer the above)
  --client-secret-file FILE  a client credential (default: $${CLIENT_SECRET_ENV}): clients holding
                           it instead of the secret may only run cache operations
  --replication-factor N   owners per partition, 1 to 16 (default 2; every node must agree)
  --max-memory SIZE        most bytes the store holds, e.g. 256mb, 1gb (default 256mb)
  --write-concern C        one, quorum or all: owners that hold a write before it is
                           acknowledged (default all)
  --data-dir DIR           persist the coordinator log there (a restarted voter keeps its promises)
  --log-level LEVEL        debug, info, warn or error: JSON lines on stderr (default ${START_DEFAULTS.logLevel})
  --join-timeout MS        how long to wait for a quorum of voters (default ${START_DEFAULTS.joinTimeoutMs})
  --resp-port PORT         also speak the Redis protocol (RESP2/3) on PORT, as a Redis Cluster
                           node (redis-cli -c, ioredis Cluster); 0 picks a free one
  --resp-host HOST         interface of the RESP port (default: --host)
  --resp-password TEXT     a password Redis clients may AUTH with besides the cluster secret
  --resp-proxy             serve every key on the RESP port like one standalone Redis
                           (forwarding to owners) instead of answering -MOVED
  --resp-allow-flush       allow FLUSHALL/FLUSHDB on the RESP port (they empty the whole cache)
  --config FILE            read settings from a JSON file; keys are the camelCase flag names
                           (port, voters, maxMemory, secretFile, ...); flags override it

Exit codes: 0 stopped cleanly, 1 failed to start or stop, 2 bad command line,
130/143 forced by a second SIGINT/SIGTERM.`,
  flags: START_FLAGS,
  async run(args, context) {
    const settings = await resolveStartSettings(args);
    const resolved = await resolveSecret(
      { flag: settings.secretFlag, file: settings.secretFile, env: context.env[SECRET_ENV] },
      true,
    );
    const clientSecret = await resolveClientSecret(
      settings.clientSecretFile,
      context.env[CLIENT_SECRET_ENV],
    );
    const secret = clientSecret === undefined ? resolved : { ...resolved, clientSecret };
    const signals = new ShutdownSignals((signal) =>
      context.err(`shoal: second ${signal}; exiting without a clean leave`),
    );
    try {
      return await serve(settings, secret, signals, context);
    } finally {
      signals.dispose();
    }
  },
};

/** Starts the node, prints the banner, and stops it on a signal or a fatal failure. */
async function serve(
  settings: StartSettings,
  secret: ResolvedSecret,
  signals: ShutdownSignals,
  context: CommandContext,
): Promise<number> {
  const logger = new JsonLogger(settings.logLevel, {
    secrets: [
      secret.secret,
      ...(secret.clientSecret === undefined ? [] : [secret.clientSecret]),
      ...(settings.resp?.password === undefined ? [] : [settings.resp.password]),
    ],
  });
  const voters = await votersOf(settings);
  if (voters !== undefined && voters.length > 1) {
    context.out(
      `waiting up to ${Math.round(settings.joinTimeoutMs / 1000)} s for a quorum of voters (${voters.map((voter) => voter.id).join(', ')}) ...`,
    );
  }
  const starting = startNode(settings, secret, voters, logger);
  const first = await Promise.race([starting, signals.requested]);
  if (typeof first === 'string') {
    // Shoal.start cannot be cancelled; the process exits without waiting for it.
    starting.then(
      (node) => node.stop(),
      () => {},
    );
    context.err(`shoal: ${first} received while starting; exiting`);
    return EXIT_FAILURE;
  }
  const node = first;
  for (const line of banner(node, settings, secret, voters, context)) context.out(line);
  const failure = watchForFailure(node);
  try {
    const reason = await Promise.race([
      signals.requested.then((signal) => ({ why: `${signal} received`, code: EXIT_OK })),
      failure.failed.then((why) => ({ why: `the node failed (${why})`, code: EXIT_FAILURE })),
    ]);
    return await stopNode(node, reason.why, reason.code, logger, context);
  } finally {
    failure.dispose();
  }
}

/** The voters to pass to `Shoal.start`: `--voters`, or `--join` with every id known. */
async function votersOf(settings: StartSettings): Promise<KnownNode[] | undefined> {
  if (settings.voters !== undefined) return [...settings.voters];
  if (settings.join === undefined) return undefined;
  const { discoverNodes } = await import('./node-discovery.js');
  return discoverNodes(settings.join, JOIN_DISCOVERY_TIMEOUT_MS);
}

async function startNode(
  settings: StartSettings,
  secret: ResolvedSecret,
  voters: readonly KnownNode[] | undefined,
  logger: JsonLogger,
): Promise<ShoalNode> {
  const { Shoal } = await import('../api/index.js');
  try {
    return await Shoal.start({
      id: settings.id,
      host: settings.host,
      port: settings.port,
      secret: secret.secret,
      ...(secret.clientSecret === undefined ? {} : { clientSecret: secret.clientSecret }),
      ...(voters === undefined ? {} : { voters: voters.map(formatNode) }),
      ...(settings.advertisedAddress === undefined
        ? {}
        : { advertisedAddress: settings.advertisedAddress }),
      ...(settings.replicationFactor === undefined
        ? {}
        : { replicationFactor: settings.replicationFactor }),
      ...(settings.maxMemoryBytes === undefined ? {} : { maxMemory: settings.maxMemoryBytes }),
      ...(settings.writeConcern === undefined ? {} : { writeConcern: settings.writeConcern }),
      ...(settings.dataDir === undefined ? {} : { dataDir: settings.dataDir }),
      joinTimeoutMs: settings.joinTimeoutMs,
      ...respOptions(settings.resp),
      logger,
    });
  } catch (error) {
    throw new ShoalError('ERR_CLI_START', startFailure(error, settings, voters), { cause: error });
  }
}

/** `Shoal.start`'s RESP options from `--resp-*`. */
function respOptions(resp: RespSettings | undefined): ShoalRespOptions {
  if (resp === undefined) return {};
  return {
    respPort: resp.port,
    ...(resp.host === undefined ? {} : { respHost: resp.host }),
    ...(resp.password === undefined ? {} : { respPassword: resp.password }),
    ...(resp.proxy ? { respProxy: true } : {}),
    ...(resp.allowFlush ? { respAllowFlush: true } : {}),
  };
}

/** One line saying why the node did not start, in the user's terms. */
function startFailure(
  error: unknown,
  settings: StartSettings,
  voters: readonly KnownNode[] | undefined,
): string {
  const code = (error as { code?: unknown }).code;
  const where = `${settings.host}:${settings.port}`;
  if (code === 'EADDRINUSE')
    return `cannot listen on ${where}: the port is in use (choose another with --port)`;
  if (code === 'EADDRNOTAVAIL')
    return `cannot listen on ${where}: no such local address (check --host)`;
  if (code === 'EACCES') return `cannot listen on ${where}: permission denied`;
  if (code === 'ERR_COORD_TIMEOUT') {
    const ids = (voters ?? []).map((voter) => voter.id).join(', ');
    return `did not join the cluster within ${settings.joinTimeoutMs} ms: no quorum of the voters (${ids}) answered (are they running, with the same secret?)`;
  }
  return `cannot start ${settings.id}: ${error instanceof Error ? error.message : String(error)}`;
}

/** What a person needs after the node is up: where it is, how to add nodes and clients. */
function banner(
  node: ShoalNode,
  settings: StartSettings,
  secret: ResolvedSecret,
  voters: readonly KnownNode[] | undefined,
  context: CommandContext,
): string[] {
  const status = node.status();
  const ensemble = voters ?? [{ id: node.id, url: node.url }];
  const isVoter = ensemble.some((voter) => voter.id === node.id);
  const seed = `${node.id}=${node.url}`;
  const shoal = context.invocation;
  const secretFlag =
    secret.origin === 'file' && secret.file !== undefined ? ` --secret-file ${secret.file}` : '';
  const lines = [
    `shoal node ${node.id} listening on ${node.url} (${isVoter ? `voter, ${status.role}` : 'learner'}; view epoch ${status.viewEpoch}, ${status.members.length} member${status.members.length === 1 ? '' : 's'})`,
  ];
  if (secret.origin === 'generated') {
    lines.push(`export ${SECRET_ENV}=${secret.secret}   # generated secret, shown only this once`);
  } else if (secret.origin === 'flag') {
    lines.push(`give other nodes and clients the same secret (${SECRET_ENV} or --secret-file)`);
  }
  lines.push(
    `join another node:  ${shoal} start --id ${nextId(node.id, ensemble)} --port ${nextPort(settings.port, ensemble)} --join ${ensemble.map(formatNode).join(',')}${secretFlag}`,
    `connect a client:   ${shoal} set greeting hello --seed ${seed}${secretFlag} && ${shoal} get greeting --seed ${seed}${secretFlag}`,
    `cluster status:     ${shoal} status --seed ${seed}${secretFlag}`,
    ...(node.respPort === undefined
      ? []
      : [
          `Redis clients:      redis-cli -c -p ${node.respPort} -a <secret or --resp-password> (RESP on port ${node.respPort})`,
        ]),
    'press Ctrl-C to stop (the node leaves the cluster cleanly)',
  );
  return lines;
}

/** `node-1` -> `node-2` (skipping ids in use); other ids get a `-2` suffix. */
function nextId(id: string, taken: readonly KnownNode[]): string {
  const match = /^(.*?)(\d+)$/.exec(id);
  const stem = match === null ? `${id}-` : match[1]!;
  let number = match === null ? 2 : Number(match[2]) + 1;
  while (taken.some((node) => node.id === `${stem}${number}`)) number++;
  return `${stem}${number}`;
}

/** The next port after `port` that no node of the ensemble uses (0 when none is left). */
function nextPort(port: number, taken: readonly KnownNode[]): number {
  if (port === 0) return 0;
  const used = new Set(taken.map((node) => portOf(node.url)));
  let candidate = port + 1;
  while (used.has(candidate)) candidate++;
  return candidate > 65_535 ? 0 : candidate;
}

function portOf(url: string): number | undefined {
  try {
    return Number(new URL(url).port);
  } catch {
    return undefined;
  }
}

/** Resolves with the reason once the node reports a fatal failure (its storage died). */
function watchForFailure(node: ShoalNode): { failed: Promise<string>; dispose(): void } {
  let timer: NodeJS.Timeout | undefined;
  const failed = new Promise<string>((resolve) => {
    timer = setInterval(() => {
      const reason = node.status().failed;
      if (reason !== undefined) resolve(reason);
    }, HEALTH_CHECK_INTERVAL_MS);
  });
  return { failed, dispose: () => clearInterval(timer) };
}

/** Stops the node gracefully, bounded by STOP_TIMEOUT_MS; resolves the exit code. */
async function stopNode(
  node: ShoalNode,
  reason: string,
  code: number,
  logger: JsonLogger,
  context: CommandContext,
): Promise<number> {
  context.err(`shoal: ${reason}; stopping ${node.id} (leaving the cluster) ...`);
  logger.info('stopping', { reason });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), STOP_TIMEOUT_MS);
  });
  try {
    const outcome = await Promise.race([node.stop().then(() => 'stopped' as const), timeout]);
    if (outcome === 'timeout') {
      context.err(`shoal: ${node.id} did not stop within ${STOP_TIMEOUT_MS} ms`);
      return EXIT_FAILURE;
    }
    context.err(`shoal: ${node.id} stopped`);
    return code;
  } catch (error) {
    context.err(
      `shoal: stopping ${node.id} failed: ${error instanceof Error ? error.message : String(error)}`,
    );
    return EXIT_FAILURE;
  } finally {
    clearTimeout(timer);
  }
}
