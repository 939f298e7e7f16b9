/**
 * SFT's filters keep exactly what they should, and count what each left out: failed rollouts,
 * the behaviour filter's exclusions, rollouts without a selected agent's call, the reward
 * threshold, then the top k of each task group (best first, ties by rollout id).
 */
import { describe, expect, it } from "vitest";
import type { KeptRollout } from "../../src/algorithms/rl/index.js";
import { filterRollouts, topKPerGroup } from "../../src/algorithms/sft/filter.js";

interface Made {
  id: string;
  group: string;
  reward: number;
  status?: "succeeded" | "failed";
  selectedCalls?: number;
}

/** A collected rollout with only what the filters read (status, group, reward, calls selected). */
function rollout(m: Made): KeptRollout {
  return {
    rollout: { rolloutId: m.id, status: m.status ?? "succeeded" },
    groupId: m.group,
    reward: m.reward,
    adapted: { trajectories: [], samples: [], diagnostics: [{ callsSelected: m.selectedCalls ?? 1 }] },
  } as unknown as KeptRollout;
}

const ids = (kept: readonly KeptRollout[]) => kept.map((k) => k.rollout.rolloutId);

const ROUND = [
  rollout({ id: "a0", group: "a", reward: 1 }),
  rollout({ id: "a1", group: "a", reward: 0.5 }),
  rollout({ id: "a2", group: "a", reward: 1 }),
  rollout({ id: "a3", group: "a", reward: 0, status: "failed" }),
  rollout({ id: "b0", group: "b", reward: 0.2 }),
  rollout({ id: "b1", group: "b", reward: 0.9 }),
  rollout({ id: "b2", group: "b", reward: 1, selectedCalls: 0 }),
  rollout({ id: "c0", group: "c", reward: 1 }),
];
const COLLECTED = { kept: ROUND, ended: 10, dropped: { failed: 1, noReward: 1 }, excluded: 0 };

/** The round as collected when the behaviour filter excluded these rollouts (collection leaves them out and counts them). */
function excluding(...rolloutIds: string[]) {
  return { ...COLLECTED, kept: ROUND.filter((r) => !rolloutIds.includes(r.rollout.rolloutId)), excluded: rolloutIds.length };
}

describe("SFT's filters", () => {
  it("keeps rollouts at or above the reward threshold, leaving out failures and rollouts without a selected call", () => {
    const { kept, counts } = filterRollouts(COLLECTED, { minReward: 0.9, topK: undefined });
    expect(ids(kept)).toEqual(["a0", "a2", "b1", "c0"]);
    expect(counts).toEqual({ ended: 10, failed: 2, noReward: 1, excludedByBehaviour: 0, noSelectedCalls: 1, belowThreshold: 2, beyondTopK: 0, kept: 4 });
  });

  it("keeps every succeeded rollout without a threshold (the control), but never a failed one", () => {
    const { kept, counts } = filterRollouts(COLLECTED, { minReward: null, topK: undefined });
    expect(ids(kept)).toEqual(["a0", "a1", "a2", "b0", "b1", "c0"]);
    expect(counts.belowThreshold).toBe(0);
  });

  it("keeps the best k of each task group after the threshold, ties broken by rollout id", () => {
    const { kept, counts } = filterRollouts(COLLECTED, { minReward: 0.5, topK: 1 });
    expect(ids(kept)).toEqual(["a0", "b1", "c0"]);
    expect(counts).toMatchObject({ belowThreshold: 1, beyondTopK: 2, kept: 3 });
    expect(ids(topKPerGroup(ROUND.slice(0, 3), 2))).toEqual(["a0", "a2"]);
    expect(ids(topKPerGroup([...ROUND.slice(0, 3)].reverse(), 1))).toEqual(["a0"]);
  });

  it("counts what the behaviour filter excluded, and the threshold and top-k never see it", () => {
    const { kept, counts } = filterRollouts(excluding("a0"), { minReward: 1, topK: 1 });
    // With a0 excluded, a2 is group a's best.
    expect(ids(kept)).toEqual(["a2", "c0"]);
    expect(counts).toMatchObject({ excludedByBehaviour: 1, beyondTopK: 0, kept: 2 });
  });

  it("accounts for every rollout that ended: left out by exactly one filter, or kept", () => {
    for (const settings of [
      { minReward: 1, topK: undefined },
      { minReward: null, topK: 1 },
      { minReward: 0.2, topK: 2 },
    ]) {
      const { counts } = filterRollouts(excluding("b0"), settings);
      const { ended, kept, ...left } = counts;
      expect(Object.values(left).reduce((a, b) => a + b, 0) + kept).toBe(ended);
    }
  });
});
