/** Small helpers the benches share to turn samples into the figures they print. */

/** The `fraction` percentile of ascending `sorted` samples (NaN when there are none). */
export function percentile(sorted: Float64Array, fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))]!;
}

/** `value` rounded to `digits` decimals, for readable JSON. */
export function round(value: number, digits = 2): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
