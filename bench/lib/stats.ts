/** The p-th percentile (0 < p ≤ 100) of `samples` by the nearest-rank method; NaN when there are none. */
export function percentile(samples: Float64Array, p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = Float64Array.from(samples).sort();
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** Rounds to `digits` decimal places, for printing results. */
export function round(value: number, digits = 0): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** The median wall time of `repeats` runs of `run`, in seconds. */
export function medianSeconds(run: () => void, repeats = 3): number {
  const times = new Float64Array(repeats);
  for (let i = 0; i < repeats; i++) {
    const started = performance.now();
    run();
    times[i] = (performance.now() - started) / 1000;
  }
  return percentile(times, 50);
}
