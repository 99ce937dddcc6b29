import type { RespBackend, RespNodeAddress } from './backend.js';
import { respKeySlot } from './key-slot.js';

const CROSSSLOT = "CROSSSLOT Keys in request don't hash to the same slot";
const TRYAGAIN = 'TRYAGAIN Multiple keys request during rehashing of slot';

function address(node: RespNodeAddress): string {
  return `${node.host}:${node.port}`;
}

/**
 * Redis Cluster's redirection rules (`getNodeByQuery`) for a keyed command in
 * cluster mode; `asking` says whether the client sent ASKING just before. Returns the error to reply instead of running the command, or
 * `undefined` to run it here:
 * - keys in different slots: `-CROSSSLOT`;
 * - slot served by another node: `-MOVED slot host:port`, unless this node is
 *   receiving the slot and the client sent ASKING;
 * - slot being moved away from this node and some key missing here: `-ASK slot
 *   host:port` toward the target (or `-TRYAGAIN` when only some keys are missing).
 *
 * Existence is only checked while a slot is in handoff, so the common path is
 * synchronous and does no backend I/O.
 */
export function clusterRedirect(
  backend: RespBackend,
  asking: boolean,
  keyArgs: readonly Buffer[],
  keys: readonly string[],
): string | undefined | Promise<string | undefined> {
  let slot = -1;
  for (let i = 0; i < keys.length; i++) {
    const keySlot = respKeySlot(keyArgs[i]!, keys[i]!);
    if (slot === -1) slot = keySlot;
    else if (keySlot !== slot) return CROSSSLOT;
  }
  const owner = backend.slotOwner(slot);
  const handoff = backend.slotHandoff(slot);
  if (owner === 'self') {
    if (handoff?.direction !== 'out') return undefined;
    const target = handoff.to;
    return backend.exists(keys).then((present) => {
      if (present === keys.length) return undefined;
      return present > 0 ? TRYAGAIN : `ASK ${slot} ${address(target)}`;
    });
  }
  if (handoff?.direction === 'in' && asking) {
    if (keys.length === 1) return undefined;
    return backend.exists(keys).then((present) => (present === keys.length ? undefined : TRYAGAIN));
  }
  return `MOVED ${slot} ${address(owner)}`;
}
