import { z } from "zod";
import type { AttemptError, Rollout, Task } from "../types/index.js";
import { RolloutModeSchema, parseOrThrow } from "../types/index.js";
import type { Algorithm, AlgorithmContext } from "./algorithm.js";
import { runBatch } from "./rollout-batch.js";

/** The score of one task. */
export interface TaskScore {
  task: Task;
  rolloutId: string;
  status: Rollout["status"];
  /** The outcome reward, or null if the rollout failed or gave none. */
  reward: number | null;
  /** Why the rollout did not succeed (its last attempt's error: kind and message, the agent's stack included); null when it succeeded. */
  error: AttemptError | null;
}

/** What an evaluation measured. */
export interface EvaluationResult {
  /** Mean reward over the tasks that produced one (failures and missing rewards are excluded and counted). */
  meanReward: number | null;
  /** Mean reward counting a failed or reward-less rollout as 0 — the stricter figure. */
  meanRewardWithFailuresAsZero: number;
  tasks: TaskScore[];
  succeeded: number;
  failed: number;
  cancelled: number;
  /** Succeeded rollouts that produced no reward. */
  missingRewards: number;
}

/** A rollout's reward, with a failed or reward-less rollout counted as 0 (the strict reading). */
export function rewardOrZero(rollout: Rollout): number {
  return rollout.status === "succeeded" ? (rollout.finalReward ?? 0) : 0;
}

/** Scores a set of rollouts. */
export function summarize(rollouts: readonly Rollout[]): EvaluationResult {
  const scores = rollouts.map((r) => ({
    task: r.input,
    rolloutId: r.rolloutId,
    status: r.status,
    reward: r.status === "succeeded" ? r.finalReward : null,
    error: r.status === "succeeded" ? null : (r.attempts.at(-1)?.error ?? null),
  }));
  const rewards = scores.map((s) => s.reward).filter((r): r is number => r !== null);
  const count = (status: Rollout["status"]) => scores.filter((s) => s.status === status).length;
  return {
    meanReward: rewards.length > 0 ? rewards.reduce((a, b) => a + b, 0) / rewards.length : null,
    meanRewardWithFailuresAsZero: scores.length > 0 ? rollouts.reduce((sum, r) => sum + rewardOrZero(r), 0) / scores.length : 0,
    tasks: scores,
    succeeded: count("succeeded"),
    failed: count("failed"),
    cancelled: count("cancelled"),
    missingRewards: scores.filter((s) => s.status === "succeeded" && s.reward === null).length,
  };
}

export const EvaluateOptionsSchema = z.strictObject({
  /**
   * The mode the rollouts are recorded under.
   * @default "val" when there is a validation set, else "train"
   */
  mode: RolloutModeSchema.optional(),
});
export type EvaluateOptions = z.input<typeof EvaluateOptionsSchema>;

/**
 * The baseline: runs the agent once on every task with the initial resources and reports the
 * rewards — no learning. As the algorithm of `fit`, it evaluates `val` (or `train` when there is
 * no validation set).
 */
export function evaluate(options: EvaluateOptions = {}): Algorithm<EvaluationResult> {
  const { mode: chosenMode } = parseOrThrow(EvaluateOptionsSchema, options, "evaluate options");
  return {
    name: "evaluate",
    async run(ctx: AlgorithmContext): Promise<EvaluationResult> {
      const tasks = ctx.val.length > 0 ? ctx.val : ctx.train;
      const mode = chosenMode ?? (ctx.val.length > 0 ? "val" : "train");
      ctx.progress.phase(`evaluating ${tasks.length} tasks`, tasks.length);
      const rollouts = await runBatch(ctx, tasks, { mode, ...(ctx.initialResources ? { resourcesId: ctx.initialResources.resourcesId } : {}) });
      const result = summarize(rollouts);
      ctx.progress.note(`mean reward ${result.meanReward === null ? "n/a" : result.meanReward.toFixed(4)} over ${rewardsCount(result)} of ${tasks.length} tasks${failures(result)}`);
      return result;
    },
  };
}

function rewardsCount(result: EvaluationResult): number {
  return result.tasks.filter((t) => t.reward !== null).length;
}

/** The failed tasks, by error kind, with the first error's first line: the reason is read next to the score. */
function failures(result: EvaluationResult): string {
  const failed = result.tasks.filter((t) => t.error !== null);
  if (failed.length === 0) return "";
  const kinds = new Map<string, number>();
  for (const t of failed) kinds.set(t.error!.kind, (kinds.get(t.error!.kind) ?? 0) + 1);
  const first = failed[0]!.error!;
  return `; ${failed.length} did not succeed (${[...kinds].map(([kind, n]) => `${n} ${kind}`).join(", ")}) — first: ${first.message.split("\n")[0]}`;
}
