/**
 * The wire mapping of RL's batch: the adapters' merged samples (camelCase, one rollout's token
 * sequences) become the protocol's train samples (snake_case, with the rollout's advantage and
 * each trained token's weight and the settings its tokens were sampled with).
 */
import type { MergedSample, SamplingSettings } from "../../types/index.js";
import { type SamplingSettings as TrainSamplingSettings, type TrainSample, trainedTokenCount } from "./protocol.js";

/** What a rollout gives every one of its samples. */
export interface SampleRollout {
  rolloutId: string;
  /** The task group its advantage was computed in. */
  groupId: string;
  advantage: number;
  reward: number;
  /** The reward its advantage came from, when a length penalty changed it. */
  shapedReward?: number;
  /** Rollouts in the step's batch that have at least one trained token: each gets 1/rollouts of the loss. */
  rollouts: number;
}

/** Tokens a sample trains on (mask 1). */
export function trainedTokens(sample: Pick<MergedSample, "responseMask">): number {
  return trainedTokenCount(sample.responseMask);
}

/**
 * One rollout's merged samples as train samples. Every trained token of the rollout weighs
 * 1 / (the rollout's trained tokens × the step's rollouts): each rollout counts the same in the
 * loss, and how its calls were merged into samples changes nothing (a split rollout's tokens keep
 * their weight). Samples without a trained token carry no loss and are left out; logprobs the
 * engine did not return are sent as nulls, one per response token, as the protocol wants.
 */
export function toTrainSamples(samples: readonly MergedSample[], rollout: SampleRollout): TrainSample[] {
  const tokens = samples.reduce((sum, s) => sum + trainedTokens(s), 0);
  if (tokens === 0) return [];
  const tokenWeight = 1 / (tokens * Math.max(1, rollout.rollouts));
  return samples
    .filter((s) => trainedTokens(s) > 0)
    .map((s) => ({
      rollout_id: rollout.rolloutId,
      group_id: rollout.groupId,
      prompt_ids: s.promptIds,
      response_ids: s.responseIds,
      response_mask: s.responseMask,
      logprobs: s.logprobs ?? s.responseIds.map(() => null),
      advantage: rollout.advantage,
      reward: rollout.reward,
      ...(rollout.shapedReward === undefined ? {} : { shaped_reward: rollout.shapedReward }),
      token_weight: tokenWeight,
      ...(s.policyVersion === undefined ? {} : { policy_version: s.policyVersion }),
      ...(s.sampling === undefined ? {} : { sampling: wireSampling(s.sampling) }),
    }));
}

/** The protocol's snake_case form of a sample's sampling settings. */
function wireSampling(sampling: SamplingSettings): TrainSamplingSettings {
  return {
    ...(sampling.temperature === undefined ? {} : { temperature: sampling.temperature }),
    ...(sampling.topP === undefined ? {} : { top_p: sampling.topP }),
    ...(sampling.topK === undefined ? {} : { top_k: sampling.topK }),
  };
}
