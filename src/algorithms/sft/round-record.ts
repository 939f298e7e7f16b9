/** What SFT reports: one record per round, the progress line made of it, and the run's result. */
import type { BehaviourStop, SFTRoundEntry, TokenFigures } from "../../types/index.js";
import type { CheckpointResponse, PolicyVersion, Verdict } from "../rl/index.js";
import type { RunRecordStats } from "../run-log.js";

/** What one round did and measured: the `sft.round` entry SFT records in the store for it. */
export type RoundRecord = SFTRoundEntry;

/** The verdict, and the split it was measured on: `test` when the trainer was given one (never trained or selected on), else `val`. */
export interface SFTVerdict extends Verdict {
  on: "test" | "val";
}

export interface SFTResult {
  runId: string;
  rounds: RoundRecord[];
  /** Mean validation reward before any update. */
  initialValReward: number | null;
  finalValReward: number | null;
  /** Whether the final policy scores better than the initial one, task by task, on `test` when given, else on `val` (null without either). */
  verdict: SFTVerdict | null;
  policyVersion: PolicyVersion;
  checkpoints: CheckpointResponse[];
  /** Training (collection) rollouts run, over every round. */
  trainingRollouts: number;
  /** What the collection rollouts spent over every round (the teacher's calls when distilling). */
  tokens: TokenFigures;
  /** `tokens.total` over the reward of the rollouts judged, over every round (Σ tokens / Σ reward); null when that reward is ≤ 0. */
  tokensPerReward: number | null;
  /** `behaviour`: a behaviour finding whose policy action is `stop` ended the run after its round (see `stoppedBy`). */
  stoppedBecause: "completed" | "interrupted" | "behaviour";
  /** The finding that stopped the run, when one did. */
  stoppedBy?: BehaviourStop;
  /** Wall time spent scoring validation and test tasks, in seconds. */
  evaluationSeconds: number;
  /** What became of the run's record in the store (`store.queryRunEntries({ runId })`). */
  record: RunRecordStats;
}

/** The progress line of a round. */
export function describeRound(r: RoundRecord, rounds: number): string {
  const f = r.filter;
  const left = [
    ...(f.failed > 0 ? [`${f.failed} failed`] : []),
    ...(f.noReward > 0 ? [`${f.noReward} without reward`] : []),
    ...(f.excludedByBehaviour > 0 ? [`${f.excludedByBehaviour} excluded by behaviour`] : []),
    ...(f.noSelectedCalls > 0 ? [`${f.noSelectedCalls} without a selected agent's call`] : []),
    ...(f.belowThreshold > 0 ? [`${f.belowThreshold} below the threshold`] : []),
    ...(f.beyondTopK > 0 ? [`${f.beyondTopK} beyond top-k`] : []),
  ];
  const parts = [
    `round ${r.round}/${rounds}`,
    `${r.source === "teacher" ? "teacher" : "train"} reward ${r.stats.trainReward === null ? "n/a" : r.stats.trainReward.toFixed(3)}`,
    ...(r.stats.valReward === undefined ? [] : [`val ${r.stats.valReward.toFixed(3)}`]),
    `kept ${f.kept}/${f.ended}${left.length > 0 ? ` (${left.join(", ")})` : ""}`,
    `${r.samples.count} ${r.samples.kind === "chat" ? "chat" : "token"} samples`,
    `policy ${r.newPolicyVersion}`,
    ...(r.chunks > 1 ? [`sent in ${r.chunks} chunks`] : []),
    ...(r.skipped ? [`update skipped (${r.skipped})`] : []),
  ];
  return parts.join(" · ");
}
