import { arch, release, type } from 'node:os';
import type { RespBackendStats, RespKeyCount, RespTopology } from './backend.js';
import { REDIS_COMPAT_VERSION, type RespServerContext } from './session.js';

/** INFO's sections, in the order Redis prints them. */
export const INFO_SECTIONS = [
  'server',
  'clients',
  'memory',
  'stats',
  'replication',
  'cluster',
  'keyspace',
] as const;

/** One INFO section name. */
export type InfoSection = (typeof INFO_SECTIONS)[number];

/** The live figures one INFO reply is built from. */
export interface InfoFigures {
  readonly server: RespServerContext;
  readonly backendStats: RespBackendStats;
  readonly keyCount: RespKeyCount;
  readonly topology: RespTopology;
}

const SECTION_TITLES: Record<InfoSection, string> = {
  server: 'Server',
  clients: 'Clients',
  memory: 'Memory',
  stats: 'Stats',
  replication: 'Replication',
  cluster: 'Cluster',
  keyspace: 'Keyspace',
};

/**
 * Which sections an INFO call asks for: none, `default`, `all` or `everything` mean
 * every section shoal has; otherwise the named ones (any case). Unknown names are
 * ignored, as Redis does. Output order is always Redis's.
 */
export function requestedSections(names: readonly string[]): InfoSection[] {
  const lower = names.map((name) => name.toLowerCase());
  if (
    lower.length === 0 ||
    lower.some((name) => name === 'default' || name === 'all' || name === 'everything')
  ) {
    return [...INFO_SECTIONS];
  }
  return INFO_SECTIONS.filter((section) => lower.includes(section));
}

/** Redis's `bytesToHuman`: `1.50M` style. */
export function bytesToHuman(bytes: number): string {
  const units = ['B', 'K', 'M', 'G', 'T', 'P'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes}B` : `${value.toFixed(2)}${units[unit]}`;
}

/** Distinct nodes replicating the shards this node is primary of (Redis's connected_slaves). */
function replicaCount(topology: RespTopology): number {
  const replicas = new Set<string>();
  for (const shard of topology.shards) {
    if (shard.primary.id !== topology.myId) continue;
    for (const replica of shard.replicas) replicas.add(replica.id);
  }
  return replicas.size;
}

function sectionLines(section: InfoSection, figures: InfoFigures): string[] {
  const lines = redisSectionLines(section, figures);
  if (section === 'stats' || section === 'replication' || section === 'cluster') {
    lines.push(...(figures.backendStats.extraInfo?.[section] ?? []));
  }
  return lines;
}

function redisSectionLines(section: InfoSection, figures: InfoFigures): string[] {
  const { server, backendStats, keyCount, topology } = figures;
  const stats = server.stats;
  switch (section) {
    case 'server': {
      const uptimeSeconds = Math.floor((server.monotonicClock.now() - server.startedAtMs) / 1000);
      return [
        `redis_version:${REDIS_COMPAT_VERSION}`,
        `shoal_version:${server.shoalVersion}`,
        `redis_mode:${server.mode === 'cluster' ? 'cluster' : 'standalone'}`,
        `os:${type()} ${release()} ${arch()}`,
        'arch_bits:64',
        `process_id:${process.pid}`,
        `run_id:${server.runId}`,
        `tcp_port:${server.port}`,
        `uptime_in_seconds:${uptimeSeconds}`,
        `uptime_in_days:${Math.floor(uptimeSeconds / 86400)}`,
        `executable:${process.execPath}`,
      ];
    }
    case 'clients': {
      let connected = 0;
      for (const _session of server.sessions()) connected++;
      return [`connected_clients:${connected}`, `maxclients:${server.maxClients}`];
    }
    case 'memory': {
      const rss = process.memoryUsage.rss();
      return [
        `used_memory:${backendStats.usedMemoryBytes}`,
        `used_memory_human:${bytesToHuman(backendStats.usedMemoryBytes)}`,
        `used_memory_rss:${rss}`,
        `used_memory_rss_human:${bytesToHuman(rss)}`,
        `maxmemory:${backendStats.maxMemoryBytes}`,
        `maxmemory_human:${bytesToHuman(backendStats.maxMemoryBytes)}`,
        'maxmemory_policy:allkeys-lru',
      ];
    }
    case 'stats':
      return [
        `total_connections_received:${stats.connectionsReceived}`,
        `total_commands_processed:${stats.commandsProcessed}`,
        `total_net_input_bytes:${stats.netInputBytes}`,
        `total_net_output_bytes:${stats.netOutputBytes}`,
        `rejected_connections:${stats.connectionsRejected}`,
        `expired_keys:${backendStats.expiredKeys}`,
        `evicted_keys:${backendStats.evictedKeys}`,
        `keyspace_hits:${stats.keyspaceHits}`,
        `keyspace_misses:${stats.keyspaceMisses}`,
        `total_error_replies:${stats.errorReplies}`,
      ];
    case 'replication':
      return ['role:master', `connected_slaves:${replicaCount(topology)}`];
    case 'cluster':
      return [`cluster_enabled:${server.mode === 'cluster' ? 1 : 0}`];
    case 'keyspace':
      return keyCount.keys === 0
        ? []
        : [`db0:keys=${keyCount.keys},expires=${keyCount.keysWithTtl},avg_ttl=0`];
  }
}

/** The INFO text for `sections`, formatted as Redis formats it. */
export function buildInfoReport(sections: readonly InfoSection[], figures: InfoFigures): string {
  let text = '';
  sections.forEach((section, index) => {
    if (index > 0) text += '\r\n';
    text += `# ${SECTION_TITLES[section]}\r\n`;
    for (const line of sectionLines(section, figures)) text += `${line}\r\n`;
  });
  return text;
}
