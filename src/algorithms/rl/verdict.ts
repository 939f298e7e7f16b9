/**
 * The run's honest verdict: did the final policy score better than the initial one on the
 * validation tasks? Compared task by task (a paired difference removes how hard each task is),
 * with a 95% interval; only an interval that excludes zero is a change. A noisy reward that
 * wanders up by chance is "no significant change", not learning.
 */
import { pairedDifference, signed } from "../stats.js";

export interface Verdict {
  outcome: "improved" | "worsened" | "no significant change";
  /** Mean of (final − initial) validation reward per task. */
  meanDifference: number;
  /** Half-width of its 95% confidence interval (Student's t). */
  ci95: number;
  /** Validation tasks compared. */
  tasks: number;
  /** One sentence for a log or a report. */
  summary: string;
}

/** Compares per-task validation rewards before the first update and after the last. */
export function verdictOf(initial: readonly number[], final: readonly number[]): Verdict {
  const { mean, ci95, n } = pairedDifference(initial, final);
  const outcome = n < 2 || !(mean - ci95 > 0 || mean + ci95 < 0) ? "no significant change" : mean > 0 ? "improved" : "worsened";
  const interval = n < 2 ? "too few validation tasks for an interval" : `mean difference ${signed(mean)} ± ${ci95.toFixed(3)} (95% CI, ${n} tasks)`;
  const summary =
    outcome === "no significant change"
      ? `no significant change in validation reward: ${interval}; this run shows no evidence of learning`
      : `validation reward ${outcome}: ${interval}`;
  return { outcome, meanDifference: mean, ci95, tasks: n, summary };
}

