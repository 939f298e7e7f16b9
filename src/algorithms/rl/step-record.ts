/** What RL reports: one record per step, the progress line made of it, and the run's result. */
import type { BehaviourStop, RLStepEntry, TokenFigures } from "../../types/index.js";
import type { RunRecordStats } from "../run-log.js";
import type { CheckpointResponse, PolicyVersion } from "./protocol.js";
import type { Verdict } from "./verdict.js";

/** What one step did and measured: the `rl.step` entry RL records in the store for it. */
export type StepRecord = RLStepEntry;

export interface RLResult {
  runId: string;
  steps: StepRecord[];
  /** Mean validation reward before any update. */
  initialValReward: number | null;
  finalValReward: number | null;
  /** Whether the final policy scores better on validation than the initial one, judged per task (null without validation). */
  verdict: Verdict | null;
  policyVersion: PolicyVersion;
  checkpoints: CheckpointResponse[];
  /** `behaviour`: a behaviour finding whose policy action is `stop` ended the run after its step (see `stoppedBy`). */
  stoppedBecause: "completed" | "interrupted" | "behaviour";
  /** The finding that stopped the run, when one did. */
  stoppedBy?: BehaviourStop;
  /** Wall time spent scoring validation tasks, the evaluation before the first step included, in seconds. */
  evaluationSeconds: number;
  /** What the LLM calls of this run's training rollouts spent (validation rollouts not included). */
  tokens: TokenFigures;
  /** Σ tokens / Σ train reward over the rollouts judged; null when that reward is ≤ 0. */
  tokensPerReward: number | null;
  /** What became of the run's record in the store (`store.queryRunEntries({ runId })`). */
  record: RunRecordStats;
}

/** The progress line of a step. */
export function describeStep(r: StepRecord, steps: number): string {
  const dropped = r.dropped.failed + r.dropped.noReward + r.dropped.stale;
  const parts = [
    `step ${r.step}/${steps}`,
    `train reward ${r.trainReward === null ? "n/a" : r.trainReward.toFixed(3)}`,
    ...(r.valReward === undefined ? [] : [`val ${r.valReward.toFixed(3)}`]),
    `${Math.round(r.zeroAdvantageShare * 100)}% groups without signal`,
    ...(r.refill.groups > 0 ? [`${r.refill.groups} groups refilled (${r.refill.rollouts} rollouts, ${Math.round(r.refill.initialZeroAdvantageShare * 100)}% without signal before)`] : []),
    `${r.samples} samples`,
    `policy ${r.newPolicyVersion}`,
    ...(r.chunks > 1 ? [`sent in ${r.chunks} chunks`] : []),
    ...(r.skipped ? [`update skipped (${r.skipped})`] : []),
    ...(r.tokens === undefined ? [] : [`${r.tokens.total} tokens${r.totalTokensPerReward == null ? "" : ` (${r.totalTokensPerReward.toFixed(0)} per reward)`}`]),
    ...(r.lengthPenalty === undefined ? [] : [`length penalty ${r.lengthPenalty.mean.toFixed(3)} on ${Math.round(r.lengthPenalty.penalizedShare * 100)}%`]),
    ...(r.behaviour && r.behaviour.findings > 0 ? [`${r.behaviour.findings} behaviour finding(s): ${r.behaviour.penalized} penalized, ${r.behaviour.excluded} excluded`] : []),
    ...(dropped > 0 ? [`${dropped} rollouts dropped${r.dropped.stale > 0 ? ` (${r.dropped.stale} stale)` : ""}`] : []),
  ];
  return parts.join(" · ");
}
