/**
 * The messages of the `cache` channel, between member nodes and from clients, with
 * strict decoders. Every peer is treated as possibly hostile or buggy: each field's
 * type, range and size is checked, and a bad message gets a typed error reply (or is
 * ignored, for one-way messages), never a crash.
 */
import { PARTITION_COUNT } from '../ring/partitioner.js';
import type { NodeId } from '../transport/transport.js';
import { InvalidArgumentError, ShoalError } from '../util/errors.js';
import {
  checkExpireTtl,
  checkIncrement,
  checkKey,
  checkTtl,
  type ExpireConditions,
  type KeyOp,
  type ReadKind,
} from './key-ops.js';
import { decodeLoadRequest, type LoadRequest } from './load-messages.js';
import type { Placement } from './placement.js';
import { decodeStringOp, encodeStringOp } from './string-ops.js';
import { fromBytes } from './value-codec.js';
import type { ClusterView, ViewMember } from './view-source.js';

/** The transport channel the cache layer owns. */
export const CACHE_CHANNEL = 'cache';

/** Most operations in one `ops` batch (mget/mset per owner). */
export const MAX_OPS_PER_BATCH = 10_000;
/** Most items in one replication batch or sync chunk. */
export const MAX_ITEMS_PER_MESSAGE = 100_000;
/** Longest sync session id. */
const MAX_SID_LENGTH = 128;
/** Most members a view message may list. */
const MAX_VIEW_MEMBERS = 4096;
/** Longest member address. */
const MAX_ADDRESS_LENGTH = 2048;

/** An operation on the wire. Single-letter fields keep hot frames small. */
export interface WireOp {
  /** Kind: get | has | ttl | set | del | expire | incr. */
  o: string;
  k: string;
  v?: Uint8Array;
  /** TTL in ms (set: > 0; expire: >= 0 or null to persist). */
  t?: number | null;
  nx?: boolean;
  xx?: boolean;
  by?: number;
  /** readFrom 'any'. */
  a?: boolean;
  /** set: keep the TTL (KEEPTTL). */
  kt?: boolean;
  /** set: answer the old value (SET ... GET). */
  g?: boolean;
  /** expire: conditions as a bitmask (see `encodeConditions`). */
  c?: number;
  /** incrby: the increment as decimal text (64-bit). */
  bi?: string;
}

const CONDITION_NX = 1;
const CONDITION_XX = 2;
const CONDITION_GT = 4;
const CONDITION_LT = 8;

function encodeConditions(conditions: ExpireConditions): number {
  return (
    (conditions.nx ? CONDITION_NX : 0) |
    (conditions.xx ? CONDITION_XX : 0) |
    (conditions.gt ? CONDITION_GT : 0) |
    (conditions.lt ? CONDITION_LT : 0)
  );
}

function decodeConditions(value: unknown): ExpireConditions | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 15) {
    bad('expire conditions');
  }
  return {
    nx: (value & CONDITION_NX) !== 0,
    xx: (value & CONDITION_XX) !== 0,
    gt: (value & CONDITION_GT) !== 0,
    lt: (value & CONDITION_LT) !== 0,
  };
}

/** A view as a node hands it to clients and redirected callers. */
export interface WireView {
  e: number;
  /** `[id, address]` pairs. */
  m: [string, string][];
  /** Replication factor in force for this view. */
  rf: number;
  /** Virtual nodes per member on the ring. */
  vn: number;
}

/** A decoded view with the placement parameters it was built with. */
export interface DecodedView {
  readonly view: ClusterView;
  readonly replicationFactor: number;
  readonly vnodes: number;
}

/** A replicated or handed-off entry: key, value bytes (null = delete), TTL ms (-1 none), version. */
export type WireItem = [string, Uint8Array | null, number, number];

/** A failed reply. `e`/`view` tell a redirected caller which view the node is in. */
export interface ErrorReply {
  ok: false;
  c: string;
  m: string;
  e?: number;
  view?: WireView;
}

export type OpReply = { ok: true; r: Uint8Array | boolean | number | string | null } | ErrorReply;

export type CacheRequest =
  | { t: 'op'; e: number; op: KeyOp }
  | { t: 'ops'; e: number; ops: KeyOp[] }
  | { t: 'view' }
  | { t: 'status' }
  | { t: 'pkeys'; flush: boolean }
  | { t: 'configGet'; key: string }
  | { t: 'configSet'; key: string; value: unknown; ifVersion: number | undefined }
  | { t: 'repl'; e: number; p: number; sid: string; items: WireItem[] }
  | { t: 'probe'; e: number; ps: number[]; watermarks: boolean }
  | { t: 'sopen'; e: number; sid: string; ps: number[]; backup: boolean }
  | { t: 'spull'; sid: string }
  | { t: 'seed'; e: number; clear: number[]; items: WireItem[] }
  | LoadRequest;

export type CacheMessage =
  | { t: 'sclose'; sid: string }
  | { t: 'needsync'; e: number; ps: number[]; urgent: boolean }
  | { t: 'adopt'; e: number; ps: number[]; sid: string }
  | { t: 'release'; e: number; ps: number[] }
  | { t: 'drop'; e: number; items: [string, number][] };

// ---- encoding -------------------------------------------------------------------

/** The wire form of an operation; the value travels as its encoded bytes. */
export function encodeOp(op: KeyOp): WireOp {
  switch (op.kind) {
    case 'get':
    case 'has':
    case 'ttl':
      return op.fromAnyOwner ? { o: op.kind, k: op.key, a: true } : { o: op.kind, k: op.key };
    case 'set': {
      const wire: WireOp = { o: 'set', k: op.key, v: op.value.bytes };
      if (op.ttlMs !== undefined) wire.t = op.ttlMs;
      if (op.nx) wire.nx = true;
      if (op.xx) wire.xx = true;
      if (op.keepTtl) wire.kt = true;
      if (op.returnOld) wire.g = true;
      return wire;
    }
    case 'del':
      return { o: 'del', k: op.key };
    case 'expire':
      return op.onlyIf === undefined
        ? { o: 'expire', k: op.key, t: op.ttlMs }
        : { o: 'expire', k: op.key, t: op.ttlMs, c: encodeConditions(op.onlyIf) };
    case 'incr':
      return { o: 'incr', k: op.key, by: op.by };
    default:
      return encodeStringOp(op);
  }
}

export function encodeView(placement: Placement): WireView {
  return {
    e: placement.epoch,
    m: placement.members.map((member) => [member.id, member.address]),
    rf: placement.replicationFactor,
    vn: placement.table.vnodes,
  };
}

/** An error as a reply body; the code survives, so the caller can rebuild the class. */
export function errorReply(error: unknown, epoch?: number, view?: WireView): ErrorReply {
  const reply: ErrorReply =
    error instanceof ShoalError
      ? { ok: false, c: error.code, m: error.message }
      : { ok: false, c: 'ERR_INTERNAL', m: error instanceof Error ? error.message : String(error) };
  if (epoch !== undefined) reply.e = epoch;
  if (view !== undefined) reply.view = view;
  return reply;
}

// ---- decoding -------------------------------------------------------------------

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function bad(message: string): never {
  throw new InvalidArgumentError(`malformed cache message: ${message}`);
}

function epochOf(value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) bad('epoch');
  return value;
}

/** Longest config key, as the coordinator allows. */
export const MAX_CONFIG_KEY_LENGTH = 256;

function configKeyOf(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_CONFIG_KEY_LENGTH) {
    bad('config key');
  }
  return value;
}

function sidOf(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_SID_LENGTH) bad('sid');
  return value;
}

function partitionsOf(value: unknown): number[] {
  const partitions = decodePartitions(value);
  if (partitions === undefined) bad('partition list');
  return partitions;
}

/** Partition lists longer than this travel as a bitmap. */
const PARTITION_LIST_MAX = 128;
const PARTITION_BITMAP_BYTES = PARTITION_COUNT / 8;

/**
 * A set of partitions on the wire: a short list as numbers, a long one as a 2 KiB
 * bitmap (a view change can move thousands of partitions at once).
 */
export function encodePartitions(partitions: readonly number[]): number[] | Uint8Array {
  if (partitions.length <= PARTITION_LIST_MAX) return [...partitions];
  const bitmap = new Uint8Array(PARTITION_BITMAP_BYTES);
  for (const p of partitions) bitmap[p >>> 3]! |= 1 << (p & 7);
  return bitmap;
}

/**
 * Versions (watermarks), one per partition of a list, as raw little-endian float64
 * bytes: thousands of them travel in one probe reply, and bytes cost a copy where an
 * array of numbers costs a type check and a tag per element.
 */
export function encodeVersions(versions: readonly number[]): Uint8Array {
  const bytes = new Uint8Array(versions.length * 8);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < versions.length; i++) view.setFloat64(i * 8, versions[i]!, true);
  return bytes;
}

/** Decodes {@link encodeVersions}' output for `count` versions; `undefined` when malformed. */
export function decodeVersions(value: unknown, count: number): Float64Array | undefined {
  if (!(value instanceof Uint8Array) || value.byteLength !== count * 8) return undefined;
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const versions = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const version = view.getFloat64(i * 8, true);
    if (!Number.isFinite(version)) return undefined;
    versions[i] = version;
  }
  return versions;
}

/** Decodes {@link encodePartitions}' output; `undefined` when malformed. */
export function decodePartitions(value: unknown): number[] | undefined {
  if (value instanceof Uint8Array) {
    if (value.byteLength !== PARTITION_BITMAP_BYTES) return undefined;
    const partitions: number[] = [];
    for (let byte = 0; byte < PARTITION_BITMAP_BYTES; byte++) {
      const bits = value[byte]!;
      if (bits === 0) continue;
      for (let bit = 0; bit < 8; bit++)
        if ((bits & (1 << bit)) !== 0) partitions.push(byte * 8 + bit);
    }
    return partitions;
  }
  if (!Array.isArray(value) || value.length > PARTITION_COUNT) return undefined;
  for (const p of value) {
    if (typeof p !== 'number' || !Number.isInteger(p) || p < 0 || p >= PARTITION_COUNT) {
      return undefined;
    }
  }
  return value as number[];
}

function bytesOf(value: unknown, maxValueBytes: number): Uint8Array {
  if (!(value instanceof Uint8Array)) bad('value bytes');
  if (value.byteLength > maxValueBytes) bad('value over maxValueBytes');
  return value;
}

/**
 * Decodes a wire operation. The value's bytes are taken as they are (the sender
 * encoded them with msgpack); they are only decoded if someone reads them.
 */
export function decodeOp(value: unknown, maxValueBytes: number): KeyOp {
  if (!isRecord(value)) bad('operation');
  const key = value.k;
  checkKey(key);
  switch (value.o) {
    case 'get':
    case 'has':
    case 'ttl':
      return { kind: value.o as ReadKind, key, fromAnyOwner: value.a === true };
    case 'set': {
      const ttl = value.t;
      // 0: written already expired (Redis's SET with EXAT/PXAT in the past).
      if (ttl !== undefined && ttl !== 0) checkTtl(ttl);
      return {
        kind: 'set',
        key,
        value: fromBytes(bytesOf(value.v, maxValueBytes)),
        ttlMs: ttl,
        nx: value.nx === true,
        xx: value.xx === true,
        keepTtl: value.kt === true,
        returnOld: value.g === true,
      };
    }
    case 'del':
      return { kind: 'del', key };
    case 'expire': {
      const ttl = value.t;
      checkExpireTtl(ttl);
      const onlyIf = decodeConditions(value.c);
      return onlyIf === undefined
        ? { kind: 'expire', key, ttlMs: ttl }
        : { kind: 'expire', key, ttlMs: ttl, onlyIf };
    }
    case 'incr': {
      checkIncrement(value.by);
      return { kind: 'incr', key, by: value.by };
    }
    default:
      return decodeStringOp(value, key, maxValueBytes) ?? bad('unknown operation kind');
  }
}

function itemsOf(value: unknown, maxValueBytes: number, allowDelete: boolean): WireItem[] {
  if (!Array.isArray(value) || value.length > MAX_ITEMS_PER_MESSAGE) bad('item list');
  for (const item of value) {
    if (!Array.isArray(item) || item.length !== 4) bad('item');
    checkKey(item[0]);
    if (item[1] === null) {
      if (!allowDelete) bad('deletion in a snapshot');
    } else {
      bytesOf(item[1], maxValueBytes);
    }
    const ttl = item[2];
    if (typeof ttl !== 'number' || !(ttl === -1 || (ttl > 0 && Number.isFinite(ttl)))) bad('ttl');
    if (typeof item[3] !== 'number' || !Number.isFinite(item[3])) bad('version');
  }
  return value as WireItem[];
}

/** Decodes a request; throws `InvalidArgumentError` on anything malformed. */
export function decodeRequest(value: unknown, maxValueBytes: number): CacheRequest {
  if (!isRecord(value)) bad('request');
  switch (value.t) {
    case 'op':
      return { t: 'op', e: epochOf(value.e), op: decodeOp(value.op, maxValueBytes) };
    case 'ops': {
      const ops = value.ops;
      if (!Array.isArray(ops) || ops.length > MAX_OPS_PER_BATCH) bad('operation list');
      return {
        t: 'ops',
        e: epochOf(value.e),
        ops: ops.map((op) => decodeOp(op, maxValueBytes)),
      };
    }
    case 'view':
      return { t: 'view' };
    case 'status':
      return { t: 'status' };
    case 'pkeys':
      return { t: 'pkeys', flush: value.flush === true };
    case 'configGet':
      return { t: 'configGet', key: configKeyOf(value.key) };
    case 'configSet': {
      const ifVersion = value.ifVersion;
      if (
        ifVersion !== undefined &&
        (typeof ifVersion !== 'number' || !Number.isSafeInteger(ifVersion) || ifVersion < 0)
      ) {
        bad('ifVersion');
      }
      if (!('value' in value)) bad('config value');
      return { t: 'configSet', key: configKeyOf(value.key), value: value.value, ifVersion };
    }
    case 'repl': {
      const p = partitionsOf([value.p])[0]!;
      return {
        t: 'repl',
        e: epochOf(value.e),
        p,
        sid: sidOf(value.sid),
        items: itemsOf(value.items, maxValueBytes, true),
      };
    }
    case 'probe':
      return {
        t: 'probe',
        e: epochOf(value.e),
        ps: partitionsOf(value.ps),
        watermarks: value.w === true,
      };
    case 'sopen':
      return {
        t: 'sopen',
        e: epochOf(value.e),
        sid: sidOf(value.sid),
        ps: partitionsOf(value.ps),
        backup: value.backup === true,
      };
    case 'spull':
      return { t: 'spull', sid: sidOf(value.sid) };
    case 'seed':
      return {
        t: 'seed',
        e: epochOf(value.e),
        clear: partitionsOf(value.ps),
        items: itemsOf(value.items, maxValueBytes, false),
      };
    case 'load':
    case 'loaded':
    case 'loadFail':
      return decodeLoadRequest(value, maxValueBytes);
    default:
      return bad('unknown request type');
  }
}

/** Decodes a one-way message, or returns `undefined` for anything malformed. */
export function decodeMessage(value: unknown): CacheMessage | undefined {
  try {
    if (!isRecord(value)) return undefined;
    switch (value.t) {
      case 'sclose':
        return { t: 'sclose', sid: sidOf(value.sid) };
      case 'needsync':
        return {
          t: 'needsync',
          e: epochOf(value.e),
          ps: partitionsOf(value.ps),
          urgent: value.u === true,
        };
      case 'adopt':
        return {
          t: 'adopt',
          e: epochOf(value.e),
          ps: partitionsOf(value.ps),
          sid: sidOf(value.sid),
        };
      case 'release':
        return { t: 'release', e: epochOf(value.e), ps: partitionsOf(value.ps) };
      case 'drop': {
        const items = value.items;
        if (!Array.isArray(items) || items.length > MAX_ITEMS_PER_MESSAGE) return undefined;
        for (const item of items) {
          if (!Array.isArray(item) || item.length !== 2) return undefined;
          checkKey(item[0]);
          if (typeof item[1] !== 'number' || !Number.isFinite(item[1])) return undefined;
        }
        return { t: 'drop', e: epochOf(value.e), items: items as [string, number][] };
      }
      default:
        return undefined;
    }
  } catch {
    return undefined;
  }
}

/** Decodes a view reply; throws `InvalidArgumentError` when malformed. */
export function decodeView(value: unknown): DecodedView {
  if (!isRecord(value)) bad('view');
  const epoch = epochOf(value.e);
  const members = value.m;
  if (!Array.isArray(members) || members.length === 0 || members.length > MAX_VIEW_MEMBERS) {
    bad('view members');
  }
  const list: ViewMember[] = [];
  for (const member of members) {
    if (!Array.isArray(member) || member.length !== 2) bad('view member');
    const [id, address] = member as unknown[];
    if (typeof id !== 'string' || id.length === 0 || id.length > 256) bad('member id');
    if (typeof address !== 'string' || address.length > MAX_ADDRESS_LENGTH) bad('member address');
    list.push({ id: id as NodeId, address });
  }
  const rf = value.rf;
  if (typeof rf !== 'number' || !Number.isInteger(rf) || rf < 1 || rf > 16) bad('rf');
  const vn = value.vn;
  if (typeof vn !== 'number' || !Number.isInteger(vn) || vn < 1 || vn > 4096) bad('vnodes');
  return { view: { epoch, members: list }, replicationFactor: rf, vnodes: vn };
}

/** Whether a reply body is an error reply (as built by {@link errorReply}). */
export function isErrorReply(value: unknown): value is ErrorReply {
  return isRecord(value) && value.ok === false && typeof value.c === 'string';
}
