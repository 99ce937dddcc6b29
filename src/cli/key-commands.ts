import type { ShoalClient } from '../api/index.js';
import { TTL_MISSING } from '../cluster/cache-api.js';
import { CLIENT_FLAGS, CLIENT_FLAGS_HELP, resolveClientTarget } from './client-target.js';
import type { Command, CommandContext } from './command.js';
import { EXIT_MISSING, EXIT_OK } from './exit-codes.js';
import { type FlagSpec, integerFlag, type ParsedFlags } from './flags.js';
import { CliUsageError } from './usage-error.js';
import { formatValue, NIL, parseValue } from './value-format.js';

/** Longest `--ttl` accepted: about 24 days, what a 32-bit timer can hold. */
const MAX_TTL_MS = 2 ** 31 - 1;

const EXIT_CODES_HELP = `Exit codes: 0 done, 1 cluster unreachable or failed, 2 bad command line,
3 key not found (or not written by --nx/--xx).`;

/** Runs `work` with a connected client and always stops the client. */
export async function withClient(
  args: ParsedFlags,
  context: CommandContext,
  work: (client: ShoalClient) => Promise<number>,
): Promise<number> {
  const target = await resolveClientTarget(args.values, context.env);
  const { connectClient } = await import('./client-connection.js');
  const client = await connectClient(target);
  try {
    return await work(client);
  } finally {
    await client.stop();
  }
}

/** Checks the positional arguments: the key, then `extra` more. */
function positionals(args: ParsedFlags, names: readonly string[]): string[] {
  if (args.positionals.length !== names.length) {
    throw new CliUsageError(
      `expected ${names.join(' ')}, got ${args.positionals.length} argument${args.positionals.length === 1 ? '' : 's'}`,
    );
  }
  return [...args.positionals];
}

const getFlags = { ...CLIENT_FLAGS, json: 'boolean' } as const satisfies FlagSpec;

/** `shoal get KEY`. */
export const getCommand: Command = {
  name: 'get',
  summary: 'print the value of a key',
  usage: `usage: shoal get KEY [--json] [connection flags]

Prints the value: strings as they are, anything else as JSON. Prints ${NIL} and
exits 3 when the key does not exist.

  --json               print strings as JSON too ("1" vs 1)

${CLIENT_FLAGS_HELP}

${EXIT_CODES_HELP}`,
  flags: getFlags,
  async run(args, context) {
    const [key] = positionals(args, ['KEY']);
    return withClient(args, context, async (client) => {
      const value = await client.get(key!);
      if (value === undefined) {
        context.out(NIL);
        return EXIT_MISSING;
      }
      context.out(formatValue(value, args.values.json === true));
      return EXIT_OK;
    });
  },
};

const setFlags = {
  ...CLIENT_FLAGS,
  json: 'boolean',
  ttl: 'string',
  nx: 'boolean',
  xx: 'boolean',
} as const satisfies FlagSpec;

/** `shoal set KEY VALUE`. */
export const setCommand: Command = {
  name: 'set',
  summary: 'store a value under a key',
  usage: `usage: shoal set KEY VALUE [--ttl MS] [--json] [--nx | --xx] [connection flags]

Stores VALUE (a string, or with --json any JSON value) and prints OK once the
cluster acknowledged it. Put -- before a VALUE that starts with a dash.

  --ttl MS             expire the key after MS milliseconds
  --json               parse VALUE as JSON (42, true, {"a":1})
  --nx                 write only if the key does not exist
  --xx                 write only if the key exists

${CLIENT_FLAGS_HELP}

${EXIT_CODES_HELP}`,
  flags: setFlags,
  async run(args, context) {
    const [key, text] = positionals(args, ['KEY', 'VALUE']);
    const value = parseValue(text!, args.values.json === true);
    const ttlMs = integerFlag(args.values, 'ttl', 1, MAX_TTL_MS);
    const nx = args.values.nx === true;
    const xx = args.values.xx === true;
    if (nx && xx) throw new CliUsageError('give --nx or --xx, not both');
    return withClient(args, context, async (client) => {
      const written = await client.set(key!, value, {
        ...(ttlMs === undefined ? {} : { ttlMs }),
        nx,
        xx,
      });
      context.out(written ? 'OK' : NIL);
      return written ? EXIT_OK : EXIT_MISSING;
    });
  },
};

/** `shoal del KEY`. */
export const delCommand: Command = {
  name: 'del',
  summary: 'delete a key',
  usage: `usage: shoal del KEY [connection flags]

Deletes the key; prints 1 if it existed, 0 if not (both exit 0: the key is gone).

${CLIENT_FLAGS_HELP}

${EXIT_CODES_HELP}`,
  flags: CLIENT_FLAGS,
  async run(args, context) {
    const [key] = positionals(args, ['KEY']);
    return withClient(args, context, async (client) => {
      context.out((await client.delete(key!)) ? '1' : '0');
      return EXIT_OK;
    });
  },
};

/** `shoal ttl KEY`. */
export const ttlCommand: Command = {
  name: 'ttl',
  summary: "print a key's remaining time to live in ms",
  usage: `usage: shoal ttl KEY [connection flags]

Prints the milliseconds the key has left, or -1 when it never expires. Prints
${NIL} and exits 3 when the key does not exist.

${CLIENT_FLAGS_HELP}

${EXIT_CODES_HELP}`,
  flags: CLIENT_FLAGS,
  async run(args, context) {
    const [key] = positionals(args, ['KEY']);
    return withClient(args, context, async (client) => {
      const ttl = await client.ttl(key!);
      if (ttl === TTL_MISSING) {
        context.out(NIL);
        return EXIT_MISSING;
      }
      // The store keeps fractional milliseconds; round up so a live key never shows 0.
      context.out(String(ttl < 0 ? ttl : Math.ceil(ttl)));
      return EXIT_OK;
    });
  },
};
