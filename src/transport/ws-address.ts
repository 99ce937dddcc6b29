import { InvalidArgumentError } from '../util/errors.js';

/**
 * Turns a peer address into the URL to dial. Accepted forms: `host:port`,
 * `[v6addr]:port`, `ws://host:port[/path]` and `wss://host:port[/path]`. A bare
 * `host:port` uses `wss` when `secureByDefault` (this endpoint is configured for
 * TLS), else `ws`.
 */
export function peerUrl(address: string, secureByDefault: boolean): string {
  if (typeof address !== 'string' || address.length === 0) {
    throw new InvalidArgumentError('peer address must be a non-empty string');
  }
  const hasScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(address);
  const text = hasScheme ? address : `${secureByDefault ? 'wss' : 'ws'}://${address}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new InvalidArgumentError(
      `peer address ${JSON.stringify(address)} is not host:port or a ws(s) URL`,
    );
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new InvalidArgumentError(
      `peer address ${JSON.stringify(address)} must use ws:// or wss://`,
    );
  }
  if (url.hostname === '' || url.port === '') {
    throw new InvalidArgumentError(
      `peer address ${JSON.stringify(address)} needs a host and a port`,
    );
  }
  if (url.username !== '' || url.password !== '') {
    throw new InvalidArgumentError('peer addresses carry no credentials; the secret authenticates');
  }
  return url.toString();
}
