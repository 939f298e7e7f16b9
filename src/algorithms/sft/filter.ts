/**
 * SFT's filter step: which of a round's rollouts are worth imitating. Filters run in a fixed order
 * and each counts what it left out, so a round's record says exactly why its data is what it is:
 * failed rollouts and rollouts without a reward never count; then the behaviour filter's
 * exclusions; then rollouts with no call of the selected agents; then the reward threshold; then
 * the top-k of each task group (best first, ties broken by rollout id, so a rerun keeps the same).
 */
import type { SFTRoundEntry } from "../../types/index.js";
import type { Collected, KeptRollout } from "../rl/index.js";

export type FilterCounts = SFTRoundEntry["filter"];

export interface FilterSettings {
  /** Least reward kept; null keeps every reward. */
  minReward: number | null;
  /** Most rollouts kept per task group. */
  topK: number | undefined;
}

/** The rollouts to train on, and what each filter left out. */
export function filterRollouts(collected: Pick<Collected, "kept" | "ended" | "dropped" | "excluded">, settings: FilterSettings): { kept: KeptRollout[]; counts: FilterCounts } {
  // The behaviour filter's exclusions were left out when the rollouts were collected (their count comes with them).
  const counts: FilterCounts = { ended: collected.ended, failed: collected.dropped.failed, noReward: collected.dropped.noReward, excludedByBehaviour: collected.excluded, noSelectedCalls: 0, belowThreshold: 0, beyondTopK: 0, kept: 0 };
  const stages: Array<[keyof FilterCounts, (k: KeptRollout) => boolean]> = [
    // An agent error is scored 0 for RL's baselines; a failed trajectory is never one to imitate.
    ["failed", (k) => k.rollout.status === "succeeded"],
    ["noSelectedCalls", (k) => k.adapted.diagnostics.some((d) => d.callsSelected > 0)],
    ["belowThreshold", (k) => settings.minReward === null || k.reward >= settings.minReward],
  ];
  let kept = [...collected.kept];
  for (const [count, keep] of stages) {
    const passing = kept.filter(keep);
    counts[count] += kept.length - passing.length;
    kept = passing;
  }
  if (settings.topK !== undefined) {
    const best = topKPerGroup(kept, settings.topK);
    counts.beyondTopK = kept.length - best.length;
    kept = best;
  }
  counts.kept = kept.length;
  return { kept, counts };
}

/** The best `k` rollouts of each task group, in their original order. */
export function topKPerGroup(rollouts: readonly KeptRollout[], k: number): KeptRollout[] {
  const groups = new Map<string, KeptRollout[]>();
  for (const r of rollouts) groups.set(r.groupId, [...(groups.get(r.groupId) ?? []), r]);
  const chosen = new Set<KeptRollout>();
  for (const members of groups.values()) {
    const ranked = [...members].sort((a, b) => b.reward - a.reward || compare(a.rollout.rolloutId, b.rollout.rolloutId));
    for (const r of ranked.slice(0, k)) chosen.add(r);
  }
  return rollouts.filter((r) => chosen.has(r));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
