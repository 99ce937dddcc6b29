import { SimulationLimitError } from '../util/sim-scheduler.js';
import type { Channel, NodeId } from './transport.js';

/** What travels in a simulated frame: the four shapes a real connection carries. */
export type SimFrameKind = 'message' | 'request' | 'reply' | 'error';

/**
 * What happened, as the trace records it:
 * - `deliver`: a frame reached its receiver's handlers;
 * - `drop`: the link's `dropProbability` discarded the frame when it was sent;
 * - `lost`: the frame was in flight when its connection went down (cut, crash, close);
 * - `refused`: `send`/`request` found no open connection (or a full link) and sent nothing;
 * - `up` / `down`: the connection between `from` and `to` opened or closed
 *   (`from` < `to`; `frame` is `'connection'`).
 */
export type SimTraceKind = 'deliver' | 'drop' | 'lost' | 'refused' | 'up' | 'down';

/** One recorded network event. */
export interface SimTraceRecord {
  readonly timeMs: number;
  readonly kind: SimTraceKind;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly frame: SimFrameKind | 'connection';
  readonly channel: Channel;
  /** Encoded payload size in bytes; -1 when the network skips encoding. */
  readonly bytes: number;
  /** FNV-1a of the encoded payload (0 without encoding), so equal traces mean equal bytes. */
  readonly payloadDigest: number;
}

/**
 * How much of the network's history to keep:
 * - `'off'` (default): nothing, the fastest;
 * - `'digest'`: a running hash of every event, to compare runs cheaply (e.g. thousands
 *   of seeded runs replayed twice);
 * - `'records'`: the digest plus every {@link SimTraceRecord}, for tests to read.
 */
export type SimTraceMode = 'off' | 'digest' | 'records';

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** FNV-1a over bytes. */
export function fnv1a(bytes: Uint8Array): number {
  let hash = FNV_OFFSET;
  for (let i = 0; i < bytes.length; i++) {
    hash = Math.imul(hash ^ bytes[i]!, FNV_PRIME);
  }
  return hash >>> 0;
}

function mixString(hash: number, text: string): number {
  let h = hash;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), FNV_PRIME);
  // A separator, so ("ab", "c") and ("a", "bc") hash differently.
  return Math.imul(h ^ 0xff, FNV_PRIME);
}

function mixNumber(hash: number, value: number): number {
  const whole = Math.floor(value);
  const fraction = Math.floor((value - whole) * 4294967296);
  let h = Math.imul(hash ^ (whole >>> 0), FNV_PRIME);
  h = Math.imul(h ^ Math.floor(whole / 4294967296), FNV_PRIME);
  return Math.imul(h ^ fraction, FNV_PRIME);
}

/** Records network events per its {@link SimTraceMode}, under a named size limit. */
export class SimTraceRecorder {
  readonly mode: SimTraceMode;
  private readonly maxRecords: number;
  private readonly records: SimTraceRecord[] = [];
  private hash = FNV_OFFSET;
  private count = 0;

  constructor(mode: SimTraceMode, maxRecords: number) {
    this.mode = mode;
    this.maxRecords = maxRecords;
  }

  /** Whether anything is recorded; callers skip computing digests when not. */
  get enabled(): boolean {
    return this.mode !== 'off';
  }

  record(
    timeMs: number,
    kind: SimTraceKind,
    from: NodeId,
    to: NodeId,
    frame: SimFrameKind | 'connection',
    channel: Channel,
    bytes: number,
    payloadDigest: number,
  ): void {
    if (this.mode === 'off') return;
    let h = mixNumber(this.hash, timeMs);
    h = mixString(h, kind);
    h = mixString(h, from);
    h = mixString(h, to);
    h = mixString(h, frame);
    h = mixString(h, channel);
    h = mixNumber(h, bytes);
    this.hash = mixNumber(h, payloadDigest);
    this.count++;
    if (this.mode === 'records') {
      if (this.records.length >= this.maxRecords) {
        throw new SimulationLimitError(
          'maxTraceRecords',
          this.maxRecords,
          "the trace is full; raise the limit or use trace mode 'digest'",
        );
      }
      this.records.push({ timeMs, kind, from, to, frame, channel, bytes, payloadDigest });
    }
  }

  /** The recorded events (empty unless the mode is `'records'`). */
  list(): readonly SimTraceRecord[] {
    return this.records;
  }

  /** `<events>:<hash>`; equal for two runs that saw the same events in the same order. */
  digest(): string {
    return `${this.count}:${(this.hash >>> 0).toString(16).padStart(8, '0')}`;
  }
}
