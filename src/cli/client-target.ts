import { type FlagSpec, integerFlag, listFlag, type ParsedFlags, stringFlag } from './flags.js';
import { type NodeAddress, parseNodeAddress } from './node-address.js';
import {
  CLIENT_SECRET_ENV,
  resolveClientSecret,
  resolveSecret,
  SECRET_ENV,
} from './secret-source.js';
import { CliUsageError } from './usage-error.js';

/** The environment variable holding default seeds (comma-separated). */
export const SEEDS_ENV = 'SHOAL_SEEDS';
/** Where client commands look for a cluster when given no seed. */
export const DEFAULT_SEED = 'ws://127.0.0.1:7400';
/** Default budget of a client command (connect, then the operation). */
export const DEFAULT_CLIENT_TIMEOUT_MS = 5_000;
/** Longest `--timeout` accepted. */
const MAX_CLIENT_TIMEOUT_MS = 600_000;
/** Most seeds one command takes. */
const MAX_SEEDS = 64;

/** Flags every command that talks to a running cluster accepts. */
export const CLIENT_FLAGS = {
  seed: 'list',
  seeds: 'list',
  secret: 'string',
  'secret-file': 'string',
  'client-secret-file': 'string',
  timeout: 'string',
  help: 'boolean',
} as const satisfies FlagSpec;

/** The help lines of {@link CLIENT_FLAGS}. */
export const CLIENT_FLAGS_HELP = `Connection:
  --seed ADDR          a node to ask first: [id=]host:port or [id=]ws://host:port
                       (repeatable, or comma-separated; default $${SEEDS_ENV}, else ${DEFAULT_SEED})
  --secret-file FILE   read the cluster secret from FILE (default: $${SECRET_ENV})
  --secret TEXT        the cluster secret (visible to other users in ps; prefer the above)
  --client-secret-file FILE  connect with the client credential instead (default:
                       $${CLIENT_SECRET_ENV} when no cluster secret is given); cache operations only
  --timeout MS         give up after MS milliseconds (default ${DEFAULT_CLIENT_TIMEOUT_MS})`;

/** Where and how a client command reaches the cluster. */
export interface ClientTarget {
  readonly seeds: readonly NodeAddress[];
  /** The cluster secret, or the client credential when `clientRole`. */
  readonly secret: string;
  /** Whether `secret` is the client credential (the connection may only run cache operations). */
  readonly clientRole?: boolean;
  readonly timeoutMs: number;
}

/** Reads the connection flags (seeds, secret, timeout). */
export async function resolveClientTarget(
  values: ParsedFlags['values'],
  env: Readonly<Record<string, string | undefined>>,
): Promise<ClientTarget> {
  let texts = [...listFlag(values, 'seed'), ...listFlag(values, 'seeds')];
  let label = '--seed';
  if (texts.length === 0 && env[SEEDS_ENV] !== undefined && env[SEEDS_ENV] !== '') {
    texts = listFlag({ seeds: env[SEEDS_ENV] }, 'seeds');
    label = SEEDS_ENV;
  }
  if (texts.length === 0) texts = [DEFAULT_SEED];
  if (texts.length > MAX_SEEDS) {
    throw new CliUsageError(`${label}: at most ${MAX_SEEDS} seeds, got ${texts.length}`);
  }
  const seeds = texts.map((text) => parseNodeAddress(text, label));
  const timeoutMs =
    integerFlag(values, 'timeout', 1, MAX_CLIENT_TIMEOUT_MS) ?? DEFAULT_CLIENT_TIMEOUT_MS;
  const secretFlags =
    stringFlag(values, 'secret') !== undefined || stringFlag(values, 'secret-file') !== undefined;
  const clientFile = stringFlag(values, 'client-secret-file');
  if (clientFile !== undefined && secretFlags) {
    throw new CliUsageError('give either the cluster secret or --client-secret-file, not both');
  }
  // An explicit --client-secret-file wins over SHOAL_SECRET; the client env var is used
  // only when no cluster secret is given at all.
  if (clientFile !== undefined || (!secretFlags && (env[SECRET_ENV] ?? '') === '')) {
    const clientSecret = await resolveClientSecret(clientFile, env[CLIENT_SECRET_ENV]);
    if (clientSecret !== undefined) {
      return { seeds, secret: clientSecret, clientRole: true, timeoutMs };
    }
  }
  const { secret } = await resolveSecret(
    {
      flag: stringFlag(values, 'secret'),
      file: stringFlag(values, 'secret-file'),
      env: env[SECRET_ENV],
    },
    false,
  );
  return { seeds, secret, timeoutMs };
}
