import type { RespClusterNode, RespShard, RespTopology } from '../backend.js';
import { RespCommandError } from '../errors.js';
import { respKeyToString } from '../key-encoding.js';
import { respKeySlot } from '../key-slot.js';
import type { ReplyWriter } from '../reply-writer.js';
import type { ClientSession } from '../session.js';
import type { CommandHandler, CommandHandlers } from './command-handler.js';
import { writeHelp } from './connection-commands.js';

const CLUSTER_HELP = [
  'CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  'INFO',
  '    Return information about the cluster.',
  'KEYSLOT <key>',
  '    Return the hash slot for <key>.',
  'MYID',
  '    Return the node id.',
  'NODES',
  '    Return cluster configuration seen by node. Output format:',
  '    <id> <ip:port@bus-port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...',
  'SHARDS',
  '    Return information about slot range mappings and the nodes associated with them.',
  'SLOTS',
  '    Return information about slots range mappings. Each range is made of:',
  '    start, end, master and replicas IP addresses, ports and ids',
  'HELP',
  '    Print this help.',
];

/** Every distinct node of the topology, primaries first, in shard order. */
function distinctNodes(topology: RespTopology): RespClusterNode[] {
  const nodes = new Map<string, RespClusterNode>();
  for (const shard of topology.shards) {
    if (!nodes.has(shard.primary.id)) nodes.set(shard.primary.id, shard.primary);
  }
  for (const shard of topology.shards) {
    for (const replica of shard.replicas)
      if (!nodes.has(replica.id)) nodes.set(replica.id, replica);
  }
  return [...nodes.values()];
}

function slotCount(shard: RespShard): number {
  let count = 0;
  for (const [first, last] of shard.slotRanges) count += last - first + 1;
  return count;
}

function writeNodeAddress(writer: ReplyWriter, node: RespClusterNode): void {
  writer.arrayHeader(4);
  writer.bulkString(node.host);
  writer.integer(node.port);
  writer.bulkString(node.id);
  writer.mapHeader(0);
}

function writeSlots(session: ClientSession): void {
  const writer = session.writer;
  const entries: [number, number, RespShard][] = [];
  for (const shard of session.server.backend.topology().shards) {
    for (const [first, last] of shard.slotRanges) entries.push([first, last, shard]);
  }
  entries.sort((a, b) => a[0] - b[0]);
  writer.arrayHeader(entries.length);
  for (const [first, last, shard] of entries) {
    writer.arrayHeader(3 + shard.replicas.length);
    writer.integer(first);
    writer.integer(last);
    writeNodeAddress(writer, shard.primary);
    for (const replica of shard.replicas) writeNodeAddress(writer, replica);
  }
}

function writeShardNode(writer: ReplyWriter, node: RespClusterNode, role: string): void {
  writer.mapHeader(7);
  writer.bulkString('id');
  writer.bulkString(node.id);
  writer.bulkString('port');
  writer.integer(node.port);
  writer.bulkString('ip');
  writer.bulkString(node.host);
  writer.bulkString('endpoint');
  writer.bulkString(node.host);
  writer.bulkString('role');
  writer.bulkString(role);
  writer.bulkString('replication-offset');
  writer.integer(0);
  writer.bulkString('health');
  writer.bulkString(node.health);
}

function writeShards(session: ClientSession): void {
  const writer = session.writer;
  const shards = session.server.backend.topology().shards;
  writer.arrayHeader(shards.length);
  for (const shard of shards) {
    writer.mapHeader(2);
    writer.bulkString('slots');
    writer.arrayHeader(shard.slotRanges.length * 2);
    for (const [first, last] of shard.slotRanges) {
      writer.integer(first);
      writer.integer(last);
    }
    writer.bulkString('nodes');
    writer.arrayHeader(1 + shard.replicas.length);
    writeShardNode(writer, shard.primary, 'master');
    for (const replica of shard.replicas) writeShardNode(writer, replica, 'replica');
  }
}

/**
 * CLUSTER NODES text. A shoal node can be primary of some slots and a backup of
 * others, which this format cannot say; a node that is primary of any slot is listed
 * as a master with all its slots, any other node as a replica of the first primary
 * it backs up.
 */
function nodesReport(topology: RespTopology): string {
  const ranges = new Map<string, string[]>();
  const primaryOf = new Map<string, string>();
  for (const shard of topology.shards) {
    const list = ranges.get(shard.primary.id) ?? [];
    for (const [first, last] of shard.slotRanges) {
      list.push(first === last ? `${first}` : `${first}-${last}`);
    }
    ranges.set(shard.primary.id, list);
    for (const replica of shard.replicas) {
      if (!primaryOf.has(replica.id)) primaryOf.set(replica.id, shard.primary.id);
    }
  }
  let text = '';
  for (const node of distinctNodes(topology)) {
    const isPrimary = ranges.has(node.id);
    const flags = [
      ...(node.id === topology.myId ? ['myself'] : []),
      isPrimary ? 'master' : 'slave',
      ...(node.health === 'failed' ? ['fail'] : []),
    ].join(',');
    const master = isPrimary ? '-' : (primaryOf.get(node.id) ?? '-');
    const link = node.health === 'failed' ? 'disconnected' : 'connected';
    const slots = isPrimary ? ranges.get(node.id)! : [];
    const fields = [
      node.id,
      `${node.host}:${node.port}@${node.busPort}`,
      flags,
      master,
      '0',
      '0',
      String(topology.epoch),
      link,
      ...slots,
    ];
    text += `${fields.join(' ')}\n`;
  }
  return text;
}

function infoReport(topology: RespTopology): string {
  let assigned = 0;
  let failed = 0;
  const primaries = new Set<string>();
  for (const shard of topology.shards) {
    const count = slotCount(shard);
    assigned += count;
    if (shard.primary.health === 'failed') failed += count;
    if (count > 0) primaries.add(shard.primary.id);
  }
  const lines = [
    `cluster_state:${topology.state}`,
    `cluster_slots_assigned:${assigned}`,
    `cluster_slots_ok:${assigned - failed}`,
    'cluster_slots_pfail:0',
    `cluster_slots_fail:${failed}`,
    `cluster_known_nodes:${distinctNodes(topology).length}`,
    `cluster_size:${primaries.size}`,
    `cluster_current_epoch:${topology.epoch}`,
    `cluster_my_epoch:${topology.epoch}`,
    'cluster_stats_messages_sent:0',
    'cluster_stats_messages_received:0',
    'total_cluster_links_buffer_limit_exceeded:0',
  ];
  return `${lines.join('\r\n')}\r\n`;
}

/**
 * Wraps a cluster command so that in proxy mode it fails as it does on a standalone
 * Redis: the node then presents itself as one server holding every key.
 */
function clusterOnly(handler: CommandHandler): CommandHandler {
  return (session, args, keys) => {
    if (session.server.mode !== 'cluster') {
      throw new RespCommandError('ERR This instance has cluster support disabled');
    }
    return handler(session, args, keys);
  };
}

/** CLUSTER SLOTS|SHARDS|NODES|INFO|KEYSLOT|MYID|HELP, ASKING, READONLY, READWRITE. */
export const CLUSTER_COMMANDS: CommandHandlers = {
  'cluster|slots': clusterOnly(writeSlots),
  'cluster|shards': clusterOnly(writeShards),
  'cluster|nodes': clusterOnly((session) => {
    session.writer.verbatim(nodesReport(session.server.backend.topology()));
  }),
  'cluster|info': clusterOnly((session) => {
    session.writer.verbatim(infoReport(session.server.backend.topology()));
  }),
  'cluster|keyslot': clusterOnly((session, args) => {
    const key = args[2]!;
    session.writer.integer(respKeySlot(key, respKeyToString(key)));
  }),
  'cluster|myid': clusterOnly((session) => {
    session.writer.bulkString(session.server.backend.topology().myId);
  }),
  'cluster|help': clusterOnly((session) => {
    writeHelp(session, CLUSTER_HELP);
  }),
  asking: clusterOnly((session) => {
    session.asking = true;
    session.writer.ok();
  }),
  readonly: clusterOnly((session) => {
    session.readOnly = true;
    session.writer.ok();
  }),
  readwrite: clusterOnly((session) => {
    session.readOnly = false;
    session.writer.ok();
  }),
};
