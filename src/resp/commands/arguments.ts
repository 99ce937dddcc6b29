import { RespCommandError } from '../errors.js';

/**
 * True when `arg` equals `lowerAsciiWord` ignoring ASCII case, without allocating
 * (option names are parsed on every SET).
 */
export function isWord(arg: Uint8Array, lowerAsciiWord: string): boolean {
  if (arg.length !== lowerAsciiWord.length) return false;
  for (let i = 0; i < arg.length; i++) {
    const byte = arg[i]!;
    const lower = byte >= 0x41 && byte <= 0x5a ? byte + 0x20 : byte;
    if (lower !== lowerAsciiWord.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * The bytes of `arg` as a one-char-per-byte (Latin-1) string, cut at the first NUL
 * and at `maxBytes`, the way Redis prints an argument into an error with `%.Ns`:
 * echoed back through the reply writer's Latin-1 path it is byte-identical.
 */
export function argForMessage(arg: Buffer, maxBytes: number): string {
  const nul = arg.indexOf(0);
  const end = Math.min(nul === -1 ? arg.length : nul, maxBytes);
  return arg.toString('latin1', 0, end);
}

/**
 * A copy of an argument that the backend will keep: arguments are views into the
 * connection's input buffer, which must not be pinned by stored values.
 */
export function ownedCopy(arg: Buffer): Buffer {
  return Buffer.from(arg);
}

/** Redis's shared `syntax error` reply. */
export function syntaxError(): RespCommandError {
  return new RespCommandError('ERR syntax error');
}

/** Redis's arity error for the command's full name (`client|setname`). */
export function wrongArityError(fullName: string): RespCommandError {
  return new RespCommandError(`ERR wrong number of arguments for '${fullName}' command`);
}
