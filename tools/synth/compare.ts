// Numeric comparison for specs (test tooling, like the rest of @agekit/synth: specs only).

/** Tensor data as specs read it back. */
export type Values = Float32Array | Int32Array | Uint8Array;

/** max |a - b| / max(|b|max, tiny): the largest difference relative to the reference's scale. Throws on a length mismatch. */
export function maxRelativeDifference(a: Values, b: Values): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let scale = 1e-12;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / scale);
  return worst;
}
