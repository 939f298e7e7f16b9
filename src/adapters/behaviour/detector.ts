/**
 * What a behaviour detector is: a pure function over traces that returns findings. Three scopes,
 * because some behaviour shows in one trace (a denied tool call, a leaked key), some only across
 * the rollouts of one task (identical outputs, length rising with reward), and some only over a
 * run (train reward rising while validation falls). A detector implements the scopes it needs.
 */
import type { Finding } from "../../types/index.js";
import type { AdaptedAttempt } from "../transitions.js";

/** A finding as a detector returns it: the filter fills in the detector's name and the rollout. */
export type FindingDraft = Omit<Finding, "detector" | "rolloutId" | "attemptId"> & {
  /** For a group finding: the rollout it is about (default: every rollout of the group gets it). */
  rolloutId?: string;
};

/** One rollout of a group, as a group detector sees it. */
export interface GroupMember {
  attempt: AdaptedAttempt;
  /** The rollout's outcome reward (null when it gave none). */
  reward: number | null;
}

/** What a run detector sees after each training step. */
export interface StepObservation {
  step: number;
  /** Mean reward of the step's training rollouts (null when none scored). */
  trainReward: number | null;
  /** Mean validation reward after the step, when the step was evaluated. */
  valReward: number | null;
  /** Mean output tokens per rollout in the step (null when unknown). */
  outputTokens: number | null;
}

export interface Detector {
  /** Names the detector in findings and in the policy (`tool-policy`, `secrets`, …). */
  readonly name: string;
  /** Findings in one rollout attempt's trace. */
  inspect?(attempt: AdaptedAttempt): FindingDraft[];
  /** Findings across the rollouts of one task group (every member has ended). */
  inspectGroup?(members: readonly GroupMember[]): FindingDraft[];
  /** Findings over a run so far (`history` is every step observed, oldest first); they are about the run, reported on its last step. */
  observeSteps?(history: readonly StepObservation[]): Array<Omit<FindingDraft, "rolloutId">>;
}
