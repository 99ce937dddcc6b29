/**
 * Geometric growth of the store's parallel typed arrays. Each copy is O(n), but
 * doubling makes it O(1) amortised per insert, and a store only pays memory for the
 * slots it has used, not for its `maxEntries`.
 */

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
