import { CliUsageError } from './usage-error.js';

/** Longest node id accepted on the command line (the wire limit too). */
export const MAX_NODE_ID_CHARS = 256;

/** A node named on the command line: `id=address` or a bare address. */
export interface NodeAddress {
  /** The node's id when given as `id=address`. */
  readonly id: string | undefined;
  /** Normalised `ws://host:port` (or `wss://`) URL. */
  readonly url: string;
}

/** A node whose id is known. */
export interface KnownNode {
  readonly id: string;
  readonly url: string;
}

/**
 * Reads `[id=]host:port` or `[id=]ws(s)://host:port`. `label` names the flag or file
 * key in the error, so the one line a user sees says where the mistake is.
 */
export function parseNodeAddress(text: string, label: string): NodeAddress {
  const trimmed = text.trim();
  const equals = trimmed.indexOf('=');
  // `=` can appear in a URL's query; an id never contains `/` or `:`.
  const hasId = equals > 0 && !/[/:]/.test(trimmed.slice(0, equals));
  const id = hasId ? trimmed.slice(0, equals) : undefined;
  const address = hasId ? trimmed.slice(equals + 1) : trimmed;
  if (id !== undefined) checkNodeId(id, label);
  return { id, url: normaliseUrl(address, label, trimmed) };
}

/** Reads an entry that must name its id (`id=host:port`), as voters do. */
export function parseKnownNode(text: string, label: string): KnownNode {
  const parsed = parseNodeAddress(text, label);
  if (parsed.id === undefined) {
    throw new CliUsageError(`${label} entry "${text}" must look like id=host:port`);
  }
  return { id: parsed.id, url: parsed.url };
}

/** Throws unless `id` is a usable node id. */
export function checkNodeId(id: string, label: string): void {
  if (id.length === 0 || id.length > MAX_NODE_ID_CHARS || !/^[\w.@-]+$/.test(id)) {
    throw new CliUsageError(
      `${label}: node id "${id}" must be 1 to ${MAX_NODE_ID_CHARS} letters, digits, or . _ - @`,
    );
  }
}

/** `id=url` when the id is known, else the bare URL (the format `--join` and `--seed` read). */
export function formatNode(node: NodeAddress | KnownNode): string {
  return node.id === undefined ? node.url : `${node.id}=${node.url}`;
}

function normaliseUrl(address: string, label: string, original: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(address) ? address : `ws://${address}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new CliUsageError(`${label}: "${original}" is not host:port or a ws:// URL`);
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new CliUsageError(`${label}: "${original}" must use ws:// or wss://`);
  }
  // URL drops a scheme's default port (ws 80, wss 443); a node address must keep it.
  const port =
    url.port !== '' ? url.port : /^[^/]*\/\/(?:\[[^\]]*\]|[^/:]*):(\d+)/.exec(withScheme)?.[1];
  if (url.hostname === '' || port === undefined) {
    throw new CliUsageError(`${label}: "${original}" needs a host and a port`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new CliUsageError(`${label}: addresses carry no credentials; the secret authenticates`);
  }
  const path = url.pathname === '/' ? '' : url.pathname;
  return `${url.protocol}//${url.hostname}:${Number(port)}${path}`;
}
