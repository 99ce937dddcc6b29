/**
 * Every command the RESP front end serves, described as Redis 7 describes it in
 * `COMMAND INFO` / `COMMAND DOCS`: name, arity (negative = at least that many
 * arguments, counting the name), flags, key positions, ACL categories, tips and key
 * specs. The dispatcher uses `arity` and the key positions (for CROSSSLOT/MOVED);
 * clients that probe (redis-cli, ioredis) read the rest. Values are Redis 7.0's, so
 * a client cannot tell the two apart from this table.
 */

/** How one command is described (see the module comment). */
export interface RespCommandSpec {
  /** Lowercase full name: `get`, or `client|setname` for a subcommand. */
  readonly name: string;
  /** Redis's arity: exact argument count, or -n for "at least n" (name included). */
  readonly arity: number;
  readonly flags: readonly string[];
  /** Position of the first key argument (0 = no keys). */
  readonly firstKey: number;
  /** Position of the last key argument; negative counts from the end (-1 = last). */
  readonly lastKey: number;
  /** Distance between key arguments (2 for MSET's key/value pairs). */
  readonly keyStep: number;
  readonly aclCategories: readonly string[];
  readonly tips: readonly string[];
  /** Redis's key-spec flags (RO, RW, OW, RM, access, update, ...); empty for keyless commands. */
  readonly keySpecFlags: readonly string[];
  /** Redis's key-spec note, when it has one. */
  readonly keySpecNotes?: string;
  readonly group: string;
  readonly since: string;
  readonly summary: string;
  readonly complexity: string;
  /** Subcommands of a container command (CLIENT, COMMAND, CLUSTER). */
  readonly subcommands?: readonly RespCommandSpec[];
}

type SpecInput = Omit<
  RespCommandSpec,
  'firstKey' | 'lastKey' | 'keyStep' | 'tips' | 'keySpecFlags' | 'group'
> &
  Partial<Pick<RespCommandSpec, 'firstKey' | 'lastKey' | 'keyStep' | 'tips' | 'keySpecFlags'>>;

function command(group: string, input: SpecInput): RespCommandSpec {
  const keyed = input.keySpecFlags !== undefined;
  return {
    firstKey: keyed ? 1 : 0,
    lastKey: keyed ? 1 : 0,
    keyStep: keyed ? 1 : 0,
    tips: [],
    keySpecFlags: [],
    ...input,
    group,
  };
}

const CONNECTION_FAST = ['@fast', '@connection'];
const CONNECTION_SLOW = ['@slow', '@connection'];
const NO_AUTH_FLAGS = ['noscript', 'loading', 'stale', 'fast', 'no_auth', 'allow_busy'];
const CLIENT_FLAGS = ['noscript', 'loading', 'stale'];
const HELP_FLAGS = ['loading', 'stale'];
const STRING_FAST_WRITE = ['@write', '@string', '@fast'];
const KEYSPACE_FAST_WRITE = ['@keyspace', '@write', '@fast'];
const KEYSPACE_FAST_READ = ['@keyspace', '@read', '@fast'];
const MULTI_SHARD_SUM = ['request_policy:multi_shard', 'response_policy:agg_sum'];
const ALL_SHARDS_SUCCEEDED = ['request_policy:all_shards', 'response_policy:all_succeeded'];
const HELP_SUMMARY = 'Show helpful text about the different subcommands';

const CLIENT_SUBCOMMANDS: readonly RespCommandSpec[] = [
  command('connection', {
    name: 'client|getname',
    arity: 2,
    flags: CLIENT_FLAGS,
    aclCategories: CONNECTION_SLOW,
    since: '2.6.9',
    summary: 'Get the current connection name',
    complexity: 'O(1)',
  }),
  command('connection', {
    name: 'client|help',
    arity: 2,
    flags: HELP_FLAGS,
    aclCategories: CONNECTION_SLOW,
    since: '5.0.0',
    summary: HELP_SUMMARY,
    complexity: 'O(1)',
  }),
  command('connection', {
    name: 'client|id',
    arity: 2,
    flags: CLIENT_FLAGS,
    aclCategories: CONNECTION_SLOW,
    since: '5.0.0',
    summary: 'Returns the client ID for the current connection',
    complexity: 'O(1)',
  }),
  command('connection', {
    name: 'client|info',
    arity: 2,
    flags: CLIENT_FLAGS,
    aclCategories: CONNECTION_SLOW,
    tips: ['nondeterministic_output'],
    since: '6.2.0',
    summary: 'Returns information about the current client connection.',
    complexity: 'O(1)',
  }),
  command('connection', {
    name: 'client|setinfo',
    arity: 4,
    flags: CLIENT_FLAGS,
    aclCategories: CONNECTION_SLOW,
    tips: ['request_policy:all_nodes', 'response_policy:all_succeeded'],
    since: '7.2.0',
    summary: 'Set client or connection specific info',
    complexity: 'O(1)',
  }),
  command('connection', {
    name: 'client|setname',
    arity: 3,
    flags: CLIENT_FLAGS,
    aclCategories: CONNECTION_SLOW,
    since: '2.6.9',
    summary: 'Set the current connection name',
    complexity: 'O(1)',
  }),
];

const COMMAND_SUBCOMMANDS: readonly RespCommandSpec[] = [
  command('server', {
    name: 'command|count',
    arity: 2,
    flags: HELP_FLAGS,
    aclCategories: CONNECTION_SLOW,
    since: '2.8.13',
    summary: 'Get total number of Redis commands',
    complexity: 'O(1)',
  }),
  command('server', {
    name: 'command|docs',
    arity: -2,
    flags: HELP_FLAGS,
    aclCategories: CONNECTION_SLOW,
    tips: ['nondeterministic_output_order'],
    since: '7.0.0',
    summary: 'Get array of specific Redis command documentation',
    complexity: 'O(N) where N is the number of commands to look up',
  }),
  command('server', {
    name: 'command|help',
    arity: 2,
    flags: HELP_FLAGS,
    aclCategories: CONNECTION_SLOW,
    since: '5.0.0',
    summary: HELP_SUMMARY,
    complexity: 'O(1)',
  }),
  command('server', {
    name: 'command|info',
    arity: -2,
    flags: HELP_FLAGS,
    aclCategories: CONNECTION_SLOW,
    tips: ['nondeterministic_output_order'],
    since: '2.8.13',
    summary: 'Get array of specific Redis command details, or all when no argument is given.',
    complexity: 'O(N) where N is the number of commands to look up',
  }),
];

const CLUSTER_READ = ['stale'];
const CLUSTER_SUBCOMMANDS: readonly RespCommandSpec[] = [
  command('cluster', {
    name: 'cluster|help',
    arity: 2,
    flags: HELP_FLAGS,
    aclCategories: ['@slow'],
    since: '5.0.0',
    summary: HELP_SUMMARY,
    complexity: 'O(1)',
  }),
  command('cluster', {
    name: 'cluster|info',
    arity: 2,
    flags: CLUSTER_READ,
    aclCategories: ['@slow'],
    tips: ['nondeterministic_output'],
    since: '3.0.0',
    summary: 'Provides info about Redis Cluster node state',
    complexity: 'O(1)',
  }),
  command('cluster', {
    name: 'cluster|keyslot',
    arity: 3,
    flags: CLUSTER_READ,
    aclCategories: ['@slow'],
    since: '3.0.0',
    summary: 'Returns the hash slot of the specified key',
    complexity: 'O(N) where N is the number of bytes in the key',
  }),
  command('cluster', {
    name: 'cluster|myid',
    arity: 2,
    flags: CLUSTER_READ,
    aclCategories: ['@slow'],
    since: '3.0.0',
    summary: 'Return the node id',
    complexity: 'O(1)',
  }),
  command('cluster', {
    name: 'cluster|nodes',
    arity: 2,
    flags: CLUSTER_READ,
    aclCategories: ['@slow'],
    tips: ['nondeterministic_output'],
    since: '3.0.0',
    summary: 'Get Cluster config for the node',
    complexity: 'O(N) where N is the total number of Cluster nodes',
  }),
  command('cluster', {
    name: 'cluster|shards',
    arity: 2,
    flags: CLUSTER_READ,
    aclCategories: ['@slow'],
    tips: ['nondeterministic_output'],
    since: '7.0.0',
    summary: 'Get array of cluster slots to node mappings',
    complexity: 'O(N) where N is the total number of cluster nodes',
  }),
  command('cluster', {
    name: 'cluster|slots',
    arity: 2,
    flags: CLUSTER_READ,
    aclCategories: ['@slow'],
    tips: ['nondeterministic_output'],
    since: '3.0.0',
    summary: 'Get array of Cluster slot to node mappings',
    complexity: 'O(N) where N is the total number of Cluster nodes',
  }),
];

/** Every top-level command, sorted by name. */
export const COMMAND_SPECS: readonly RespCommandSpec[] = [
  command('string', {
    name: 'append',
    arity: 3,
    flags: ['write', 'denyoom', 'fast'],
    aclCategories: STRING_FAST_WRITE,
    keySpecFlags: ['RW', 'insert'],
    since: '2.0.0',
    summary: 'Append a value to a key',
    complexity:
      'O(1). The amortized time complexity is O(1) assuming the appended value is small and the already present value is of any size, since the dynamic string library used by Redis will double the free space available on every reallocation.',
  }),
  command('cluster', {
    name: 'asking',
    arity: 1,
    flags: ['fast'],
    aclCategories: CONNECTION_FAST,
    since: '3.0.0',
    summary: 'Sent by cluster clients after an -ASK redirect',
    complexity: 'O(1)',
  }),
  command('connection', {
    name: 'auth',
    arity: -2,
    flags: NO_AUTH_FLAGS,
    aclCategories: CONNECTION_FAST,
    since: '1.0.0',
    summary: 'Authenticate to the server',
    complexity: 'O(N) where N is the number of passwords defined for the user',
  }),
  command('connection', {
    name: 'client',
    arity: -2,
    flags: [],
    aclCategories: ['@slow'],
    since: '2.4.0',
    summary: 'A container for client connection commands',
    complexity: 'Depends on subcommand.',
    subcommands: CLIENT_SUBCOMMANDS,
  }),
  command('cluster', {
    name: 'cluster',
    arity: -2,
    flags: [],
    aclCategories: ['@slow'],
    since: '3.0.0',
    summary: 'A container for cluster commands',
    complexity: 'Depends on subcommand.',
    subcommands: CLUSTER_SUBCOMMANDS,
  }),
  command('server', {
    name: 'command',
    arity: -1,
    flags: HELP_FLAGS,
    aclCategories: CONNECTION_SLOW,
    tips: ['nondeterministic_output_order'],
    since: '2.8.13',
    summary: 'Get array of Redis command details',
    complexity: 'O(N) where N is the total number of Redis commands',
    subcommands: COMMAND_SUBCOMMANDS,
  }),
  command('server', {
    name: 'dbsize',
    arity: 1,
    flags: ['readonly', 'fast'],
    aclCategories: ['@keyspace', '@read', '@fast'],
    tips: ['request_policy:all_shards', 'response_policy:agg_sum'],
    since: '1.0.0',
    summary: 'Return the number of keys in the selected database',
    complexity: 'O(1)',
  }),
  command('string', {
    name: 'decr',
    arity: 2,
    flags: ['write', 'denyoom', 'fast'],
    aclCategories: STRING_FAST_WRITE,
    keySpecFlags: ['RW', 'access', 'update'],
    since: '1.0.0',
    summary: 'Decrement the integer value of a key by one',
    complexity: 'O(1)',
  }),
  command('string', {
    name: 'decrby',
    arity: 3,
    flags: ['write', 'denyoom', 'fast'],
    aclCategories: STRING_FAST_WRITE,
    keySpecFlags: ['RW', 'access', 'update'],
    since: '1.0.0',
    summary: 'Decrement the integer value of a key by the given number',
    complexity: 'O(1)',
  }),
  command('generic', {
    name: 'del',
    arity: -2,
    flags: ['write'],
    lastKey: -1,
    aclCategories: ['@keyspace', '@write', '@slow'],
    tips: MULTI_SHARD_SUM,
    keySpecFlags: ['RM', 'delete'],
    since: '1.0.0',
    summary: 'Delete a key',
    complexity:
      'O(N) where N is the number of keys that will be removed. When a key to remove holds a value other than a string, the individual complexity for this key is O(M) where M is the number of elements in the list, set, sorted set or hash. Removing a single key that holds a string value is O(1).',
  }),
  command('connection', {
    name: 'echo',
    arity: 2,
    flags: ['loading', 'stale', 'fast'],
    aclCategories: CONNECTION_FAST,
    since: '1.0.0',
    summary: 'Echo the given string',
    complexity: 'O(1)',
  }),
  command('generic', {
    name: 'exists',
    arity: -2,
    flags: ['readonly', 'fast'],
    lastKey: -1,
    aclCategories: KEYSPACE_FAST_READ,
    tips: MULTI_SHARD_SUM,
    keySpecFlags: ['RO'],
    since: '1.0.0',
    summary: 'Determine if a key exists',
    complexity: 'O(N) where N is the number of keys to check.',
  }),
  command('generic', {
    name: 'expire',
    arity: -3,
    flags: ['write', 'fast'],
    aclCategories: KEYSPACE_FAST_WRITE,
    keySpecFlags: ['RW', 'update'],
    since: '1.0.0',
    summary: "Set a key's time to live in seconds",
    complexity: 'O(1)',
  }),
  command('generic', {
    name: 'expireat',
    arity: -3,
    flags: ['write', 'fast'],
    aclCategories: KEYSPACE_FAST_WRITE,
    keySpecFlags: ['RW', 'update'],
    since: '1.2.0',
    summary: 'Set the expiration for a key as a UNIX timestamp',
    complexity: 'O(1)',
  }),
  command('server', {
    name: 'flushall',
    arity: -1,
    flags: ['write'],
    aclCategories: ['@keyspace', '@write', '@slow', '@dangerous'],
    tips: ALL_SHARDS_SUCCEEDED,
    since: '1.0.0',
    summary: 'Remove all keys from all databases',
    complexity: 'O(N) where N is the total number of keys in all databases',
  }),
  command('server', {
    name: 'flushdb',
    arity: -1,
    flags: ['write'],
    aclCategories: ['@keyspace', '@write', '@slow', '@dangerous'],
    tips: ALL_SHARDS_SUCCEEDED,
    since: '1.0.0',
    summary: 'Remove all keys from the current database',
    complexity: 'O(N) where N is the number of keys in the selected database',
  }),
  command('string', {
    name: 'get',
    arity: 2,
    flags: ['readonly', 'fast'],
    aclCategories: ['@read', '@string', '@fast'],
    keySpecFlags: ['RO', 'access'],
    since: '1.0.0',
    summary: 'Get the value of a key',
    complexity: 'O(1)',
  }),
  command('string', {
    name: 'getdel',
    arity: 2,
    flags: ['write', 'fast'],
    aclCategories: STRING_FAST_WRITE,
    keySpecFlags: ['RW', 'access', 'delete'],
    since: '6.2.0',
    summary: 'Get the value of a key and delete the key',
    complexity: 'O(1)',
  }),
  command('string', {
    name: 'getex',
    arity: -2,
    flags: ['write', 'fast'],
    aclCategories: STRING_FAST_WRITE,
    keySpecFlags: ['RW', 'access', 'update'],
    keySpecNotes: 'RW and UPDATE because it changes the TTL',
    since: '6.2.0',
    summary: 'Get the value of a key and optionally set its expiration',
    complexity: 'O(1)',
  }),
  command('string', {
    name: 'getset',
    arity: 3,
    flags: ['write', 'denyoom', 'fast'],
    aclCategories: STRING_FAST_WRITE,
    keySpecFlags: ['RW', 'access', 'update'],
    since: '1.0.0',
    summary: 'Set the string value of a key and return its old value',
    complexity: 'O(1)',
  }),
  command('connection', {
    name: 'hello',
    arity: -1,
    flags: NO_AUTH_FLAGS,
    aclCategories: CONNECTION_FAST,
    since: '6.0.0',
    summary: 'Handshake with Redis',
    complexity: 'O(1)',
  }),
  command('string', {
    name: 'incr',
    arity: 2,
    flags: ['write', 'denyoom', 'fast'],
    aclCategories: STRING_FAST_WRITE,
    keySpecFlags: ['RW', 'access', 'update'],
    since: '1.0.0',
    summary: 'Increment the integer value of a key by one',
    complexity: 'O(1)',
  }),
  command('string', {
    name: 'incrby',
    arity: 3,
    flags: ['write', 'denyoom', 'fast'],
    aclCategories: STRING_FAST_WRITE,
    keySpecFlags: ['RW', 'access', 'update'],
    since: '1.0.0',
    summary: 'Increment the integer value of a key by the given amount',
    complexity: 'O(1)',
  }),
  command('server', {
    name: 'info',
    arity: -1,
    flags: HELP_FLAGS,
    aclCategories: ['@slow', '@dangerous'],
    tips: ['nondeterministic_output', 'request_policy:all_shards', 'response_policy:special'],
    since: '1.0.0',
    summary: 'Get information and statistics about the server',
    complexity: 'O(1)',
  }),
  command('string', {
    name: 'mget',
    arity: -2,
    flags: ['readonly', 'fast'],
    lastKey: -1,
    aclCategories: ['@read', '@string', '@fast'],
    tips: ['request_policy:multi_shard'],
    keySpecFlags: ['RO', 'access'],
    since: '1.0.0',
    summary: 'Get the values of all the given keys',
    complexity: 'O(N) where N is the number of keys to retrieve.',
  }),
  command('string', {
    name: 'mset',
    arity: -3,
    flags: ['write', 'denyoom'],
    lastKey: -1,
    keyStep: 2,
    aclCategories: ['@write', '@string', '@slow'],
    tips: ['request_policy:multi_shard', 'response_policy:all_succeeded'],
    keySpecFlags: ['OW', 'update'],
    since: '1.0.1',
    summary: 'Set multiple keys to multiple values',
    complexity: 'O(N) where N is the number of keys to set.',
  }),
  command('generic', {
    name: 'persist',
    arity: 2,
    flags: ['write', 'fast'],
    aclCategories: KEYSPACE_FAST_WRITE,
    keySpecFlags: ['RW', 'update'],
    since: '2.2.0',
    summary: 'Remove the expiration from a key',
    complexity: 'O(1)',
  }),
  command('generic', {
    name: 'pexpire',
    arity: -3,
    flags: ['write', 'fast'],
    aclCategories: KEYSPACE_FAST_WRITE,
    keySpecFlags: ['RW', 'update'],
    since: '2.6.0',
    summary: "Set a key's time to live in milliseconds",
    complexity: 'O(1)',
  }),
  command('generic', {
    name: 'pexpireat',
    arity: -3,
    flags: ['write', 'fast'],
    aclCategories: KEYSPACE_FAST_WRITE,
    keySpecFlags: ['RW', 'update'],
    since: '2.6.0',
    summary: 'Set the expiration for a key as a UNIX timestamp specified in milliseconds',
    complexity: 'O(1)',
  }),
  command('connection', {
    name: 'ping',
    arity: -1,
    flags: ['fast'],
    aclCategories: CONNECTION_FAST,
    tips: ALL_SHARDS_SUCCEEDED,
    since: '1.0.0',
    summary: 'Ping the server',
    complexity: 'O(1)',
  }),
  command('string', {
    name: 'psetex',
    arity: 4,
    flags: ['write', 'denyoom'],
    aclCategories: ['@write', '@string', '@slow'],
    keySpecFlags: ['OW', 'update'],
    since: '2.6.0',
    summary: 'Set the value and expiration in milliseconds of a key',
    complexity: 'O(1)',
  }),
  command('generic', {
    name: 'pttl',
    arity: 2,
    flags: ['readonly', 'fast'],
    aclCategories: KEYSPACE_FAST_READ,
    tips: ['nondeterministic_output'],
    keySpecFlags: ['RO', 'access'],
    since: '2.6.0',
    summary: 'Get the time to live for a key in milliseconds',
    complexity: 'O(1)',
  }),
  command('connection', {
    name: 'quit',
    arity: -1,
    flags: NO_AUTH_FLAGS,
    aclCategories: CONNECTION_FAST,
    since: '1.0.0',
    summary: 'Close the connection',
    complexity: 'O(1)',
  }),
  command('cluster', {
    name: 'readonly',
    arity: 1,
    flags: ['loading', 'stale', 'fast'],
    aclCategories: CONNECTION_FAST,
    since: '3.0.0',
    summary: 'Enables read queries for a connection to a cluster replica node',
    complexity: 'O(1)',
  }),
  command('cluster', {
    name: 'readwrite',
    arity: 1,
    flags: ['loading', 'stale', 'fast'],
    aclCategories: CONNECTION_FAST,
    since: '3.0.0',
    summary: 'Disables read queries for a connection to a cluster replica node',
    complexity: 'O(1)',
  }),
  command('connection', {
    name: 'select',
    arity: 2,
    flags: ['loading', 'stale', 'fast'],
    aclCategories: CONNECTION_FAST,
    since: '1.0.0',
    summary: 'Change the selected database for the current connection',
    complexity: 'O(1)',
  }),
  command('string', {
    name: 'set',
    arity: -3,
    flags: ['write', 'denyoom'],
    aclCategories: ['@write', '@string', '@slow'],
    keySpecFlags: ['RW', 'access', 'update', 'variable_flags'],
    keySpecNotes: 'RW and ACCESS due to the optional `GET` argument',
    since: '1.0.0',
    summary: 'Set the string value of a key',
    complexity: 'O(1)',
  }),
  command('string', {
    name: 'setex',
    arity: 4,
    flags: ['write', 'denyoom'],
    aclCategories: ['@write', '@string', '@slow'],
    keySpecFlags: ['OW', 'update'],
    since: '2.0.0',
    summary: 'Set the value and expiration of a key',
    complexity: 'O(1)',
  }),
  command('string', {
    name: 'setnx',
    arity: 3,
    flags: ['write', 'denyoom', 'fast'],
    aclCategories: STRING_FAST_WRITE,
    keySpecFlags: ['OW', 'insert'],
    since: '1.0.0',
    summary: 'Set the value of a key, only if the key does not exist',
    complexity: 'O(1)',
  }),
  command('string', {
    name: 'strlen',
    arity: 2,
    flags: ['readonly', 'fast'],
    aclCategories: ['@read', '@string', '@fast'],
    keySpecFlags: ['RO'],
    since: '2.2.0',
    summary: 'Get the length of the value stored in a key',
    complexity: 'O(1)',
  }),
  command('generic', {
    name: 'ttl',
    arity: 2,
    flags: ['readonly', 'fast'],
    aclCategories: KEYSPACE_FAST_READ,
    tips: ['nondeterministic_output'],
    keySpecFlags: ['RO', 'access'],
    since: '1.0.0',
    summary: 'Get the time to live for a key in seconds',
    complexity: 'O(1)',
  }),
  command('generic', {
    name: 'type',
    arity: 2,
    flags: ['readonly', 'fast'],
    aclCategories: KEYSPACE_FAST_READ,
    keySpecFlags: ['RO'],
    since: '1.0.0',
    summary: 'Determine the type stored at key',
    complexity: 'O(1)',
  }),
  command('generic', {
    name: 'unlink',
    arity: -2,
    flags: ['write', 'fast'],
    lastKey: -1,
    aclCategories: KEYSPACE_FAST_WRITE,
    tips: MULTI_SHARD_SUM,
    keySpecFlags: ['RM', 'delete'],
    since: '4.0.0',
    summary:
      'Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.',
    complexity:
      'O(1) for each key removed regardless of its size. Then the command does O(N) work in a different thread in order to reclaim memory, where N is the number of allocations the deleted objects where composed of.',
  }),
];

const TOP_LEVEL = new Map(COMMAND_SPECS.map((spec) => [spec.name, spec]));

/** Top-level commands grouped by name length, for allocation-free lookup by bytes. */
const BY_LENGTH = new Map<number, RespCommandSpec[]>();
for (const spec of COMMAND_SPECS) {
  const group = BY_LENGTH.get(spec.name.length) ?? [];
  group.push(spec);
  BY_LENGTH.set(spec.name.length, group);
}

/**
 * The top-level command named by `name` (any ASCII case), or `undefined`. Compares
 * bytes directly: this runs for every command, and decoding the name to a string
 * first costs more than the comparison.
 */
export function findCommand(name: Uint8Array): RespCommandSpec | undefined {
  const candidates = BY_LENGTH.get(name.length);
  if (candidates === undefined) return undefined;
  for (const spec of candidates) {
    const wanted = spec.name;
    let i = 0;
    for (; i < name.length; i++) {
      const byte = name[i]!;
      if ((byte >= 0x41 && byte <= 0x5a ? byte + 0x20 : byte) !== wanted.charCodeAt(i)) break;
    }
    if (i === name.length) return spec;
  }
  return undefined;
}

/** The subcommand `sub` (any case) of the container `parent`, or `undefined`. */
export function findSubcommand(parent: RespCommandSpec, sub: string): RespCommandSpec | undefined {
  const wanted = `${parent.name}|${sub.toLowerCase()}`;
  return parent.subcommands?.find((candidate) => candidate.name === wanted);
}

/**
 * Resolves `COMMAND INFO`/`COMMAND DOCS` style names: `get`, or `client|setname`
 * for a subcommand (any case).
 */
export function findCommandByFullName(fullName: string): RespCommandSpec | undefined {
  const lower = fullName.toLowerCase();
  const bar = lower.indexOf('|');
  if (bar === -1) return TOP_LEVEL.get(lower);
  const parent = TOP_LEVEL.get(lower.slice(0, bar));
  return parent === undefined ? undefined : findSubcommand(parent, lower.slice(bar + 1));
}

/**
 * The argument positions holding keys for a call with `argc` arguments, following
 * `spec`'s first/last/step (Redis's legacy key positions, which are exact for every
 * command in this table).
 */
export function keyPositions(spec: RespCommandSpec, argc: number): number[] {
  if (spec.firstKey === 0) return [];
  const last = spec.lastKey < 0 ? argc + spec.lastKey : spec.lastKey;
  const positions: number[] = [];
  for (let i = spec.firstKey; i <= last && i < argc; i += spec.keyStep) positions.push(i);
  return positions;
}
