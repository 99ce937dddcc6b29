import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { CliUsageError } from './usage-error.js';

/** The environment variable every command reads the cluster secret from. */
export const SECRET_ENV = 'SHOAL_SECRET';

/** The environment variable holding the client credential (see `clientSecret`). */
export const CLIENT_SECRET_ENV = 'SHOAL_CLIENT_SECRET';

/**
 * Shortest secret accepted. The handshake is an HMAC challenge on the secret, so a
 * very short one could be guessed offline from one recorded handshake.
 */
export const MIN_SECRET_CHARS = 8;
/** Longest secret accepted (and largest secret file read). */
export const MAX_SECRET_CHARS = 4096;
/** Random bytes in a generated secret (printed as hex). */
const GENERATED_SECRET_BYTES = 24;

/** Where the secret came from; decides whether it may be printed. */
export type SecretOrigin = 'flag' | 'file' | 'env' | 'generated';

/** A resolved cluster secret. */
export interface ResolvedSecret {
  readonly secret: string;
  readonly origin: SecretOrigin;
  /** The file it was read from, for `origin: 'file'`. */
  readonly file?: string;
  /** The client credential, when one was given (`start` only). */
  readonly clientSecret?: string;
}

/** The inputs a secret can come from, highest precedence first. */
export interface SecretInputs {
  readonly flag: string | undefined;
  readonly file: string | undefined;
  readonly env: string | undefined;
}

/**
 * Resolves the cluster secret from `--secret`, `--secret-file` or `SHOAL_SECRET`
 * (in that order; giving both flags is a mistake). Without any of them, `generate`
 * decides: `start` makes a fresh random secret, client commands refuse.
 */
export async function resolveSecret(
  inputs: SecretInputs,
  generate: boolean,
): Promise<ResolvedSecret> {
  if (inputs.flag !== undefined && inputs.file !== undefined) {
    throw new CliUsageError('give either --secret or --secret-file, not both');
  }
  if (inputs.flag !== undefined)
    return { secret: checked(inputs.flag, '--secret'), origin: 'flag' };
  if (inputs.file !== undefined) {
    return { secret: await readSecretFile(inputs.file), origin: 'file', file: inputs.file };
  }
  if (inputs.env !== undefined && inputs.env !== '') {
    return { secret: checked(inputs.env, SECRET_ENV), origin: 'env' };
  }
  if (generate)
    return { secret: randomBytes(GENERATED_SECRET_BYTES).toString('hex'), origin: 'generated' };
  throw new CliUsageError(
    `no cluster secret: set ${SECRET_ENV}, or give --secret-file FILE (or --secret TEXT)`,
  );
}

/**
 * The client credential from `--client-secret-file` or `SHOAL_CLIENT_SECRET`, or
 * `undefined` when neither is given. There is no text flag on purpose: command lines
 * are visible to other users in `ps`.
 */
export async function resolveClientSecret(
  file: string | undefined,
  env: string | undefined,
): Promise<string | undefined> {
  if (file !== undefined) return readSecretFile(file);
  if (env !== undefined && env !== '') return checked(env, CLIENT_SECRET_ENV);
  return undefined;
}

/** Reads a secret file: its text without the trailing newline editors add. */
async function readSecretFile(path: string): Promise<string> {
  let text: string;
  try {
    const bytes = await readFile(path);
    if (bytes.length > MAX_SECRET_CHARS + 2) {
      throw new CliUsageError(`secret file ${path} is larger than ${MAX_SECRET_CHARS} bytes`);
    }
    text = bytes.toString('utf8');
  } catch (error) {
    if (error instanceof CliUsageError) throw error;
    const code = (error as { code?: unknown }).code;
    throw new CliUsageError(
      `cannot read secret file ${path}${typeof code === 'string' ? ` (${code})` : ''}`,
    );
  }
  return checked(text.replace(/\r?\n$/, ''), `secret file ${path}`);
}

function checked(secret: string, source: string): string {
  if (secret.length < MIN_SECRET_CHARS) {
    throw new CliUsageError(
      `the secret from ${source} is shorter than ${MIN_SECRET_CHARS} characters`,
    );
  }
  if (secret.length > MAX_SECRET_CHARS) {
    throw new CliUsageError(
      `the secret from ${source} is longer than ${MAX_SECRET_CHARS} characters`,
    );
  }
  return secret;
}
