/** Small statistics the algorithms report with: means with 95% confidence intervals, and paired differences. */

export interface Estimate {
  mean: number;
  /** Half-width of the 95% confidence interval (Student's t); 0 for a single sample. */
  ci95: number;
  n: number;
}

/** Two-sided 97.5% quantiles of Student's t for 1..30 degrees of freedom; beyond, the normal's. */
const T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042];

/** The mean, NaN for no samples. */
export function mean(samples: readonly number[]): number {
  return samples.length === 0 ? Number.NaN : samples.reduce((a, b) => a + b, 0) / samples.length;
}

/** A gain with its sign, to three decimals (`+0.250`, `-0.100`). */
export function signed(x: number): string {
  return `${x >= 0 ? "+" : ""}${x.toFixed(3)}`;
}

/** The indices 0..n−1: task positions to shuffle, slice or map. */
export function indices(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

export function estimate(samples: readonly number[]): Estimate {
  const n = samples.length;
  if (n === 0) return { mean: Number.NaN, ci95: Number.NaN, n: 0 };
  const mean = samples.reduce((a, b) => a + b, 0) / n;
  if (n === 1) return { mean, ci95: 0, n };
  const variance = samples.reduce((sum, x) => sum + (x - mean) ** 2, 0) / (n - 1);
  const t = T975[n - 2] ?? 1.96;
  return { mean, ci95: t * Math.sqrt(variance / n), n };
}

/**
 * The mean per-task difference `b - a` over tasks both were run on, with its interval: the honest
 * comparison of two prompts, since it removes how hard each task is. Significant when the whole
 * interval lies above zero.
 */
export function pairedDifference(a: readonly number[], b: readonly number[]): Estimate & { significant: boolean } {
  const n = Math.min(a.length, b.length);
  const diff = Array.from({ length: n }, (_, i) => b[i]! - a[i]!);
  const result = estimate(diff);
  return { ...result, significant: n > 1 && result.mean - result.ci95 > 0 };
}
