import { isClusterSetting } from '../cluster/cluster-settings.js';
import { CLIENT_FLAGS, CLIENT_FLAGS_HELP } from './client-target.js';
import type { Command } from './command.js';
import { EXIT_MISSING, EXIT_OK } from './exit-codes.js';
import { type FlagSpec, integerFlag } from './flags.js';
import { withClient } from './key-commands.js';
import { CliUsageError } from './usage-error.js';
import { formatValue, NIL, parseValue } from './value-format.js';

const configFlags = {
  ...CLIENT_FLAGS,
  json: 'boolean',
  'if-version': 'string',
} as const satisfies FlagSpec;

/** `shoal config get KEY` and `shoal config set KEY VALUE`. */
export const configCommand: Command = {
  name: 'config',
  summary: 'read or write the cluster-wide config',
  usage: `usage: shoal config get KEY [--json] [connection flags]
       shoal config set KEY VALUE [--json] [--if-version N] [connection flags]

get prints the committed value of KEY (strings as they are, anything else as
JSON); with --json it prints {"value":...,"version":N}. Prints ${NIL} and exits 3
when KEY was never set.

set commits VALUE (a string, or with --json any JSON value) through the
coordinator and prints OK and the new version. shoal's own settings apply on every
node at once, in commit order; a VALUE that reads as a number is a number for them,
and an invalid one is refused before it is committed:

  defaultTtlMs N       TTL in ms of a set without one (0: none)
  ttlJitter F          0 to 1: each set's TTL is drawn from [ttl*(1-F), ttl]
  maxValueBytes SIZE   largest encoded value, e.g. 1mb
  maxMemory SIZE       per node: the store's byte bound (shrinking it evicts), e.g. 256mb
  writeConcern C       one, quorum or all: the default for new writes
  replicationFactor N  owners per partition, applied at the next membership change

  --json               get: print value and version as JSON; set: parse VALUE as JSON
  --if-version N       set only if KEY is at version N (0: only if it was never set);
                       otherwise change nothing and exit 1

${CLIENT_FLAGS_HELP}

Exit codes: 0 done, 1 cluster unreachable, refused, or a version conflict,
2 bad command line, 3 key never set (get).`,
  flags: configFlags,
  async run(args, context) {
    const [action, key, ...rest] = args.positionals;
    const json = args.values.json === true;
    if (action === 'get') {
      if (key === undefined || rest.length > 0) throw new CliUsageError('expected get KEY');
      if (args.values['if-version'] !== undefined) {
        throw new CliUsageError('--if-version applies to set only');
      }
      return withClient(args, context, async (client) => {
        const { value, version } = await client.config.get(key);
        if (json) {
          context.out(formatValue({ value: value ?? null, version }, true));
          return version === 0 ? EXIT_MISSING : EXIT_OK;
        }
        if (version === 0) {
          context.out(NIL);
          return EXIT_MISSING;
        }
        context.out(formatValue(value, false));
        return EXIT_OK;
      });
    }
    if (action === 'set') {
      const [text, ...extra] = rest;
      if (key === undefined || text === undefined || extra.length > 0) {
        throw new CliUsageError('expected set KEY VALUE');
      }
      const value = settingValue(key, parseValue(text, json));
      const ifVersion = integerFlag(args.values, 'if-version', 0, Number.MAX_SAFE_INTEGER);
      return withClient(args, context, async (client) => {
        const { version } = await client.config.set(
          key,
          value,
          ifVersion === undefined ? {} : { ifVersion },
        );
        context.out(`OK version ${version}`);
        return EXIT_OK;
      });
    }
    throw new CliUsageError(
      action === undefined
        ? 'expected get or set'
        : `unknown config action "${action}" (get or set)`,
    );
  },
};

/** For shoal's own settings, a plain VALUE that reads as a number is that number. */
function settingValue(key: string, value: unknown): unknown {
  if (typeof value !== 'string' || !isClusterSetting(key)) return value;
  const number = Number(value);
  return value.trim() !== '' && Number.isFinite(number) ? number : value;
}
