/**
 * Ages on the runners page: "3 s ago" from a store timestamp, and when a worker's silence is
 * late. No DOM here, so the unit tests run it under Node.
 */

/**
 * How long a worker may be silent before the page warns when none of its current rollouts sets a
 * `heartbeatTimeoutMs` (the store then never marks its attempts unresponsive).
 */
export const DEFAULT_HEARTBEAT_WARNING_MS = 30_000;

/** `ms` ago, in the largest whole unit: "now", "3 s ago", "5 min ago", "2 h ago", "4 d ago". */
export function ago(ms: number): string {
  const seconds = Math.floor(Math.max(0, ms) / 1000);
  if (seconds < 1) return "now";
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86_400)} d ago`;
}

/** The silence after which a worker is late, and where that limit comes from (for the page to say). */
export interface HeartbeatLimit {
  ms: number;
  source: "rollout" | "default";
}

/**
 * The store marks an attempt unresponsive after its rollout's `heartbeatTimeoutMs`: a worker is
 * late past the shortest of those among the rollouts it runs, or past
 * {@link DEFAULT_HEARTBEAT_WARNING_MS} when none sets one.
 */
export function heartbeatLimit(timeouts: ReadonlyArray<number | undefined>): HeartbeatLimit {
  const set = timeouts.filter((t): t is number => t !== undefined);
  return set.length === 0 ? { ms: DEFAULT_HEARTBEAT_WARNING_MS, source: "default" } : { ms: Math.min(...set), source: "rollout" };
}
