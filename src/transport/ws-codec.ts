import { Packr, Unpackr } from 'msgpackr';
import { ENVELOPE_STRUCTURES } from './ws-protocol.js';

/** Record ids above the shared envelope structures that one frame may define inline. */
const MAX_INLINE_STRUCTURES_PER_FRAME = 32;

/**
 * Fresh copies of the envelope structures. Each is marked `isShared` so that when a
 * frame redefines one of their record ids inline, msgpackr restores the shared
 * definition after that frame: without the mark a peer could permanently rebind
 * the envelope records of this endpoint's decoder.
 */
function envelopeStructures(): string[][] {
  return ENVELOPE_STRUCTURES.map((keys) => Object.assign([...keys], { isShared: true }));
}

/**
 * msgpackr configured for the wire: the envelope shapes are fixed shared records
 * both ends know in advance, and nothing a peer sends can add to or change them.
 *
 * - `maxSharedStructures` equals the predefined count, so the encoder never
 *   promotes a new shape to "shared" (which the other end could not know).
 * - Other object shapes (message bodies) are written as inline record definitions,
 *   valid for one frame only: the decoder is neither `trusted` nor `sequential`,
 *   so it truncates its table back to the shared structures before every frame.
 * - `mapsAsObjects` decodes plain msgpack maps as objects, so a peer may send
 *   envelopes as plain maps (any msgpack library); to read this side's frames it
 *   must know the four shared records.
 */
export class WireCodec {
  private readonly packr: Packr;
  private readonly unpackr: Unpackr;

  constructor() {
    this.packr = new Packr({
      structures: envelopeStructures(),
      maxSharedStructures: ENVELOPE_STRUCTURES.length,
      maxOwnStructures: MAX_INLINE_STRUCTURES_PER_FRAME,
      mapsAsObjects: true,
    });
    this.unpackr = new Unpackr({
      structures: envelopeStructures(),
      maxSharedStructures: ENVELOPE_STRUCTURES.length,
      mapsAsObjects: true,
    });
  }

  /** Encodes one value. The returned buffer is never overwritten by later calls. */
  encode(value: unknown): Buffer {
    return this.packr.pack(value);
  }

  /** Decodes one value; throws (a plain Error from msgpackr) on malformed input. */
  decode(frame: Buffer): unknown {
    return this.unpackr.unpack(frame);
  }
}
