/**
 * A RESP2/RESP3 reply decoder for tests: turns the bytes a server sends into plain
 * values that can be compared between shoal and a real redis-server.
 */

/** One decoded reply. Bulk strings stay bytes (as Latin-1 text) so binary compares exactly. */
export type Reply =
  | { readonly type: 'simple'; readonly value: string }
  | { readonly type: 'error'; readonly value: string }
  | { readonly type: 'integer'; readonly value: bigint }
  | { readonly type: 'bulk'; readonly value: string }
  | { readonly type: 'verbatim'; readonly format: string; readonly value: string }
  | { readonly type: 'null' }
  | { readonly type: 'double'; readonly value: string }
  | { readonly type: 'boolean'; readonly value: boolean }
  | { readonly type: 'array' | 'set' | 'push'; readonly items: Reply[] }
  | { readonly type: 'map'; readonly entries: [Reply, Reply][] };

/** Thrown when the bytes are not a well-formed reply (a bug in the server under test). */
export class MalformedReplyError extends Error {}

/**
 * Decodes one reply from `bytes` at `offset`. Returns the reply and the offset after
 * it, or `undefined` when the bytes end before the reply does.
 */
export function readReply(
  bytes: Buffer,
  offset: number,
): { reply: Reply; next: number } | undefined {
  const lineEnd = bytes.indexOf('\r\n', offset, 'latin1');
  if (lineEnd === -1) return undefined;
  const marker = String.fromCharCode(bytes[offset]!);
  const line = bytes.toString('latin1', offset + 1, lineEnd);
  const after = lineEnd + 2;
  const aggregate = (
    count: number,
    make: (items: Reply[]) => Reply,
  ): { reply: Reply; next: number } | undefined => {
    const items: Reply[] = [];
    let next = after;
    for (let i = 0; i < count; i++) {
      const item = readReply(bytes, next);
      if (item === undefined) return undefined;
      items.push(item.reply);
      next = item.next;
    }
    return { reply: make(items), next };
  };
  switch (marker) {
    case '+':
      return { reply: { type: 'simple', value: line }, next: after };
    case '-':
      return { reply: { type: 'error', value: line }, next: after };
    case ':':
      return { reply: { type: 'integer', value: BigInt(line) }, next: after };
    case '_':
      return { reply: { type: 'null' }, next: after };
    case ',':
      return { reply: { type: 'double', value: line }, next: after };
    case '#':
      return { reply: { type: 'boolean', value: line === 't' }, next: after };
    case '$':
    case '=': {
      const length = Number(line);
      if (length === -1) return { reply: { type: 'null' }, next: after };
      if (bytes.length < after + length + 2) return undefined;
      const body = bytes.toString('latin1', after, after + length);
      const next = after + length + 2;
      if (marker === '$') return { reply: { type: 'bulk', value: body }, next };
      return {
        reply: { type: 'verbatim', format: body.slice(0, 3), value: body.slice(4) },
        next,
      };
    }
    case '*':
    case '~':
    case '>': {
      const count = Number(line);
      if (count === -1) return { reply: { type: 'null' }, next: after };
      const type = marker === '*' ? 'array' : marker === '~' ? 'set' : 'push';
      return aggregate(count, (items) => ({ type, items }));
    }
    case '%':
      return aggregate(Number(line) * 2, (items) => {
        const entries: [Reply, Reply][] = [];
        for (let i = 0; i < items.length; i += 2) entries.push([items[i]!, items[i + 1]!]);
        return { type: 'map', entries };
      });
    default:
      throw new MalformedReplyError(`unknown reply marker ${JSON.stringify(marker)}`);
  }
}

/** Decodes every complete reply in `bytes`; throws if trailing bytes are not a whole reply. */
export function readAllReplies(bytes: Buffer): Reply[] {
  const replies: Reply[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const next = readReply(bytes, offset);
    if (next === undefined) throw new MalformedReplyError('truncated reply');
    replies.push(next.reply);
    offset = next.next;
  }
  return replies;
}
