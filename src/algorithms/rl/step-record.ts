/** What RL reports: one record per step, the progress line made of it, and the run's result. */
import type { CheckpointResponse, PolicyVersion } from "./protocol.js";
import type { Verdict } from "./verdict.js";

/** What one step did and measured. */
export interface StepRecord {
  step: number;
  /**
   * The policy the update started from (in `sync` mode, the one every rollout of the step sampled
   * from; in `async` mode they may be up to `maxStaleness` versions older), and the one it produced.
   */
  policyVersion: PolicyVersion;
  newPolicyVersion: PolicyVersion;
  trainReward: number | null;
  /** Mean validation reward after this step's update, when the step evaluated. */
  valReward?: number;
  /** Rollouts run for the step, refills included. */
  rollouts: number;
  /**
   * Rollouts left out of the batch: failed for an infrastructure reason, without a reward, or (in
   * `async` mode) with a sample more than `maxStaleness` versions behind the update.
   */
  dropped: { failed: number; noReward: number; stale: number };
  /** Groups run, refills included. */
  groups: number;
  /** Share of the step's groups (refills included) whose rollouts all scored alike: no signal, left out of the batch. */
  zeroAdvantageShare: number;
  /** Dynamic sampling: refill rounds and groups run, the rollouts they added, and the no-signal share of the step's first groups. */
  refill: { rounds: number; groups: number; rollouts: number; initialZeroAdvantageShare: number };
  samples: number;
  samplesPerRollout: number;
  /** Mean share of a rollout's calls merged into fewer samples (1: all in one, 0: none merged). */
  mergeRatio: number | null;
  /** Calls recorded without token ids, which cannot be trained on and were left out. */
  textOnlyCalls: number;
  /** Mean policy-version lag of the batch's samples behind the policy the update started from (0: all from it). */
  staleness: number;
  /** Wall time per phase, in seconds (in `async` mode a step's rollouts overlap the previous update). */
  seconds: { rollouts: number; adapt: number; train: number; eval: number };
  /** What the backend reported for the update. */
  metrics: Record<string, number | null>;
  /** Requests the update was sent in (more than 1 when the backend refused the whole step as too large). */
  chunks: number;
  /** The step's update was skipped: no sample carried a learning signal, or the backend had applied it already. */
  skipped?: "no signal" | "already applied";
}

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
  stoppedBecause: "completed" | "interrupted";
  /** Wall time spent scoring validation tasks, the evaluation before the first step included, in seconds. */
  evaluationSeconds: number;
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
    ...(dropped > 0 ? [`${dropped} rollouts dropped${r.dropped.stale > 0 ? ` (${r.dropped.stale} stale)` : ""}`] : []),
  ];
  return parts.join(" · ");
}
