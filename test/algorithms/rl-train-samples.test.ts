/** RL's wire mapping: the adapters' merged samples become the protocol's train samples. */
import { describe, expect, it } from "vitest";
import type { MergedSample } from "tracetrain/schemas";
import { TrainSampleSchema } from "../../src/algorithms/rl/protocol.js";
import { toTrainSamples } from "../../src/algorithms/rl/train-samples.js";

function merged(overrides: Partial<MergedSample> = {}): MergedSample {
  return {
    rolloutId: "ro-1",
    attemptId: "at-1",
    callIds: ["c1"],
    promptIds: [1, 2, 3],
    responseIds: [4, 5],
    responseMask: [1, 1],
    logprobs: [-0.5, -0.25],
    policyVersion: 3,
    ...overrides,
  };
}

const rollout = { rolloutId: "ro-1", groupId: "task-7", advantage: 0.75, reward: 1, rollouts: 1 };

describe("toTrainSamples", () => {
  it("maps each field to its snake_case protocol name and gives the rollout's advantage and reward to every sample", () => {
    expect(toTrainSamples([merged()], rollout)).toEqual([
      {
        rollout_id: "ro-1",
        group_id: "task-7",
        prompt_ids: [1, 2, 3],
        response_ids: [4, 5],
        response_mask: [1, 1],
        logprobs: [-0.5, -0.25],
        advantage: 0.75,
        reward: 1,
        token_weight: 0.5,
        policy_version: 3,
      },
    ]);
  });

  it("weighs each trained token 1/(the rollout's trained tokens × the step's rollouts), however the rollout was split", () => {
    const samples = toTrainSamples([merged(), merged({ callIds: ["c2"] }), merged({ callIds: ["c3"] }), merged({ callIds: ["c4"] })], { ...rollout, rollouts: 2 });
    expect(samples.map((s) => s.token_weight)).toEqual([1 / 16, 1 / 16, 1 / 16, 1 / 16]);
    expect(toTrainSamples([], rollout)).toEqual([]);
  });

  it("sends a null logprob per response token when the engine returned none, and leaves out an unknown policy version", () => {
    const { logprobs: _l, policyVersion: _p, ...bare } = merged({ responseIds: [4, 5, 6], responseMask: [1, 0, 1] });
    const [sample] = toTrainSamples([bare], rollout);
    expect(sample!.logprobs).toEqual([null, null, null]);
    expect(sample).not.toHaveProperty("policy_version");
  });

  it("produces samples the protocol accepts", () => {
    const samples = toTrainSamples([merged(), merged({ logprobs: undefined, policyVersion: undefined })], rollout);
    for (const sample of samples) expect(TrainSampleSchema.safeParse(sample).success).toBe(true);
  });
});
