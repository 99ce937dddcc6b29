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
 * A copy of an argument that the backend will keep. Arguments are views into the
 * connection's input buffer, which a stored value must not pin; the copy is an
 * exact-size allocation rather than a slice of Node's shared 8 KiB pool, so a value
 * cached for hours never keeps a pool slab (and its neighbours' garbage) alive.
 */
export function ownedCopy(arg: Buffer): Buffer {
  const copy = Buffer.allocUnsafeSlow(arg.length);
  arg.copy(copy);
  return copy;
}

/** Redis's shared `syntax error` reply. */
export function syntaxError(): RespCommandError {
  return new RespCommandError('ERR syntax error');
}

/** Redis's arity error for the command's full name (`client|setname`). */
export function wrongArityError(fullName: string): RespCommandError {
  return new RespCommandError(`ERR wrong number of arguments for '${fullName}' command`);
}
