/**
 * The wire mapping of RL's batch: the adapters' merged samples (camelCase, one rollout's token
 * sequences) become the protocol's train samples (snake_case, with the rollout's advantage).
 */
import type { MergedSample } from "../../types/index.js";
import type { TrainSample } from "./protocol.js";

/** What a rollout gives every one of its samples. */
export interface SampleRollout {
  rolloutId: string;
  /** The task group its advantage was computed in. */
  groupId: string;
  advantage: number;
  reward: number;
}

/**
 * One rollout's merged samples as train samples. Each weighs 1 / (the rollout's samples), so every
 * rollout counts the same in the loss however many calls it made; logprobs the engine did not
 * return are sent as nulls, one per response token, as the protocol wants.
 */
export function toTrainSamples(samples: readonly MergedSample[], rollout: SampleRollout): TrainSample[] {
  const weight = 1 / Math.max(1, samples.length);
  return samples.map((s) => ({
    rollout_id: rollout.rolloutId,
    group_id: rollout.groupId,
    prompt_ids: s.promptIds,
    response_ids: s.responseIds,
    response_mask: s.responseMask,
    logprobs: s.logprobs ?? s.responseIds.map(() => null),
    advantage: rollout.advantage,
    reward: rollout.reward,
    weight,
    ...(s.policyVersion === undefined ? {} : { policy_version: s.policyVersion }),
  }));
}
