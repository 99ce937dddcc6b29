/**
 * Geometric growth of the store's per-slot arrays. Each copy is O(n), but doubling
 * makes it O(1) amortised per insert, and a store only pays memory for the slots it
 * has used, not for its `maxEntries`. Every array is allocated at exactly the length
 * asked for: letting V8 grow a JS array by appending leaves up to 50% slack (measured
 * 10.8 instead of 8 bytes per element at 1M entries).
 */

/** A packed JS array of exactly `length` elements: `source`'s, then `undefined`. */
export function grownArray<T>(
  source: readonly (T | undefined)[],
  length: number,
): (T | undefined)[] {
  // Array.from over an array-like yields a packed array with an exact-size backing
  // store; `new Array(length)` would be holey and push() would over-allocate.
  const grown: (T | undefined)[] = Array.from({ length });
  for (let i = 0; i < source.length; i++) grown[i] = source[i];
  return grown;
}

/** A copy of `source` with room for `length` elements; new elements are 0. */
export function grownUint32(source: Uint32Array, length: number): Uint32Array {
  const grown = new Uint32Array(length);
  grown.set(source);
  return grown;
}

/** A copy of `source` with room for `length` elements; new elements are `fill`. */
export function grownFloat64(source: Float64Array, length: number, fill: number): Float64Array {
  const grown = new Float64Array(length);
  grown.set(source);
  if (fill !== 0) grown.fill(fill, source.length);
  return grown;
}
