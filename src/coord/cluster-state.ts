import type { NodeId } from '../transport/transport.js';
import { invariant } from '../util/assert.js';
import { InvalidArgumentError } from '../util/errors.js';
import {
  type EntryData,
  isConfigKey,
  isNodeId,
  isVersion,
  type LogEntry,
  MAX_ADDRESS_LENGTH,
} from './entries.js';
import { isZxid } from './zxid.js';

/** Most members a view may hold; a join past it commits as a refused no-op. */
export const MAX_MEMBERS = 4096;
/** Most config keys; a set of a new key past it commits as a refused no-op. */
export const MAX_CONFIG_KEYS = 4096;

/** One member of the committed view. */
export interface Member {
  readonly id: NodeId;
  readonly address: string;
  readonly sessionId: number;
}

/** The committed member list, numbered by its view epoch. */
export interface View {
  readonly epoch: number;
  readonly members: ReadonlyArray<{ readonly id: NodeId; readonly address: string }>;
}

/** What applying one entry did, reported to whoever proposed it. */
export type ApplyResult =
  | { readonly type: 'genesis' }
  | {
      readonly type: 'join';
      readonly changed: boolean;
      readonly refused: boolean;
      /** The view after this entry, when it changed. */
      readonly view?: View;
    }
  | { readonly type: 'leave'; readonly removed: boolean; readonly view?: View }
  | { readonly type: 'configSet'; readonly ok: true; readonly version: number }
  | {
      readonly type: 'configSet';
      readonly ok: false;
      readonly version: number;
      readonly reason: 'version' | 'full';
    };

/** The plain, msgpackr-encodable form of a `ClusterState`. */
export interface ClusterSnapshot {
  readonly historyId: number;
  readonly appliedZxid: number;
  readonly viewEpoch: number;
  readonly members: readonly Member[];
  readonly config: ReadonlyArray<{
    readonly key: string;
    readonly value: unknown;
    readonly version: number;
  }>;
}

interface ConfigCell {
  readonly value: unknown;
  readonly version: number;
}

/**
 * Freezes a config value so neither the caller that set it nor one that read it can
 * change what every node agreed on. Byte arrays cannot be frozen; they are copied
 * when decoded from the wire and never handed back for writing by the coordinator.
 */
function deepFreeze(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value)) return value;
  if (Object.isFrozen(value)) return value;
  Object.freeze(value);
  for (const child of Object.values(value)) deepFreeze(child);
  return value;
}

/**
 * The replicated state machine: membership (with sessions) and config. Every node
 * applies the same committed entries in the same zxid order, so every node holds the
 * same state at the same zxid. Applying is deterministic and never throws on a
 * well-formed entry: a command that cannot take effect commits as a no-op whose
 * result says why.
 */
export class ClusterState {
  private historyIdValue = 0;
  private appliedZxidValue = 0;
  private viewEpochValue = 0;
  private readonly members = new Map<NodeId, Member>();
  private readonly config = new Map<string, ConfigCell>();
  private viewCache: View | undefined;

  /** The random id of this history (0 before its genesis entry is applied). */
  get historyId(): number {
    return this.historyIdValue;
  }

  /** The zxid of the last applied entry (0 for an empty state). */
  get appliedZxid(): number {
    return this.appliedZxidValue;
  }

  /** Bumped by every committed change to the member list. */
  get viewEpoch(): number {
    return this.viewEpochValue;
  }

  /** The committed view, members sorted by id. The same object until the view changes. */
  view(): View {
    if (this.viewCache === undefined) {
      const members = [...this.members.values()]
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
        .map((member) => Object.freeze({ id: member.id, address: member.address }));
      this.viewCache = Object.freeze({
        epoch: this.viewEpochValue,
        members: Object.freeze(members),
      });
    }
    return this.viewCache;
  }

  /** The member with `id`, if it is in the view. */
  member(id: NodeId): Member | undefined {
    return this.members.get(id);
  }

  /** Every member, in no particular order. */
  memberList(): Member[] {
    return [...this.members.values()];
  }

  /** The committed value of a config key (frozen), or `undefined`. */
  configValue(key: string): unknown {
    return this.config.get(key)?.value;
  }

  /** The version of a config key: 0 when unset, then 1, 2, ... per successful set. */
  configVersion(key: string): number {
    return this.config.get(key)?.version ?? 0;
  }

  /** Every config key with its value. */
  configEntries(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [key, cell] of this.config) out[key] = cell.value;
    return out;
  }

  /** Applies the next committed entry; zxids must increase. */
  apply(entry: LogEntry): ApplyResult {
    invariant(
      entry.zxid > this.appliedZxidValue,
      `entry ${entry.zxid} applied after ${this.appliedZxidValue}`,
    );
    this.appliedZxidValue = entry.zxid;
    return this.applyData(entry.data);
  }

  private applyData(data: EntryData): ApplyResult {
    switch (data.type) {
      case 'genesis':
        this.historyIdValue = data.historyId;
        return { type: 'genesis' };
      case 'join': {
        const current = this.members.get(data.id);
        if (current?.sessionId === data.sessionId && current.address === data.address) {
          return { type: 'join', changed: false, refused: false };
        }
        if (current === undefined && this.members.size >= MAX_MEMBERS) {
          return { type: 'join', changed: false, refused: true };
        }
        this.members.set(data.id, {
          id: data.id,
          address: data.address,
          sessionId: data.sessionId,
        });
        this.bumpView();
        return { type: 'join', changed: true, refused: false, view: this.view() };
      }
      case 'leave': {
        const current = this.members.get(data.id);
        if (current === undefined || current.sessionId !== data.sessionId) {
          return { type: 'leave', removed: false };
        }
        this.members.delete(data.id);
        this.bumpView();
        return { type: 'leave', removed: true, view: this.view() };
      }
      case 'configSet': {
        const current = this.config.get(data.key);
        const version = current?.version ?? 0;
        if (data.ifVersion !== undefined && data.ifVersion !== version) {
          return { type: 'configSet', ok: false, version, reason: 'version' };
        }
        if (current === undefined && this.config.size >= MAX_CONFIG_KEYS) {
          return { type: 'configSet', ok: false, version, reason: 'full' };
        }
        this.config.set(data.key, { value: deepFreeze(data.value), version: version + 1 });
        return { type: 'configSet', ok: true, version: version + 1 };
      }
    }
  }

  private bumpView(): void {
    this.viewEpochValue += 1;
    this.viewCache = undefined;
  }

  /** A plain copy of the whole state, safe to hand to storage or a peer. */
  toSnapshot(): ClusterSnapshot {
    return {
      historyId: this.historyIdValue,
      appliedZxid: this.appliedZxidValue,
      viewEpoch: this.viewEpochValue,
      members: [...this.members.values()].map((m) => ({ ...m })),
      config: [...this.config].map(([key, cell]) => ({
        key,
        value: cell.value,
        version: cell.version,
      })),
    };
  }

  /**
   * Rebuilds a state from a snapshot received from a peer or read from storage.
   * Throws `InvalidArgumentError` on a malformed one.
   */
  static fromSnapshot(raw: unknown): ClusterState {
    const bad = (what: string): never => {
      throw new InvalidArgumentError(`malformed cluster snapshot: ${what}`);
    };
    if (typeof raw !== 'object' || raw === null) return bad('not an object');
    const snapshot = raw as Record<string, unknown>;
    const state = new ClusterState();
    if (!isVersion(snapshot.historyId)) bad('historyId');
    if (!isZxid(snapshot.appliedZxid)) bad('appliedZxid');
    if (!isVersion(snapshot.viewEpoch)) bad('viewEpoch');
    if (!Array.isArray(snapshot.members) || snapshot.members.length > MAX_MEMBERS) bad('members');
    if (!Array.isArray(snapshot.config) || snapshot.config.length > MAX_CONFIG_KEYS) bad('config');
    state.historyIdValue = snapshot.historyId as number;
    state.appliedZxidValue = snapshot.appliedZxid as number;
    state.viewEpochValue = snapshot.viewEpoch as number;
    for (const item of snapshot.members as unknown[]) {
      const member = (typeof item === 'object' && item !== null ? item : {}) as Record<
        string,
        unknown
      >;
      if (!isNodeId(member.id) || state.members.has(member.id)) bad('member id');
      if (typeof member.address !== 'string' || member.address.length > MAX_ADDRESS_LENGTH) {
        bad('member address');
      }
      if (!isVersion(member.sessionId)) bad('member session');
      const id = member.id as NodeId;
      state.members.set(id, {
        id,
        address: member.address as string,
        sessionId: member.sessionId as number,
      });
    }
    for (const item of snapshot.config as unknown[]) {
      const cell = (typeof item === 'object' && item !== null ? item : {}) as Record<
        string,
        unknown
      >;
      if (!isConfigKey(cell.key) || state.config.has(cell.key)) bad('config key');
      if (!isVersion(cell.version) || cell.version === 0) bad('config version');
      state.config.set(cell.key as string, {
        value: deepFreeze(cell.value),
        version: cell.version as number,
      });
    }
    return state;
  }
}
