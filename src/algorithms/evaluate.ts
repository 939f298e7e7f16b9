import { z } from "zod";
import { DEFAULT_PRICES, emptyFigures, tokensPerReward } from "../adapters/index.js";
import type { AttemptError, Rollout, Task, TokenFigures } from "../types/index.js";
import { RolloutModeSchema, parseOrThrow } from "../types/index.js";
import type { Algorithm, AlgorithmContext } from "./algorithm.js";
import { PriceSchema } from "./optimizer-options.js";
import { runBatch } from "./rollout-batch.js";
import { aggregateTokens, tokensOfRollouts } from "./rollout-tokens.js";

/** The score of one task. */
export interface TaskScore {
  task: Task;
  rolloutId: string;
  status: Rollout["status"];
  /** The outcome reward, or null if the rollout failed or gave none. */
  reward: number | null;
  /** Why the rollout did not succeed (its last attempt's error: kind and message, the agent's stack included); null when it succeeded. */
  error: AttemptError | null;
  /** What its LLM calls spent (judge calls apart); null when the tokens were not read. */
  tokens: TokenFigures | null;
  /** `tokens.total / reward`; null without tokens or without a positive reward. */
  tokensPerReward: number | null;
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
  /** Every task's tokens summed (all rollouts, failed ones too: they were spent). */
  tokens: TokenFigures;
  /** Σ tokens / Σ reward over the tasks with a reward; null when those rewards sum to ≤ 0. */
  tokensPerReward: number | null;
}

/** A rollout's reward, with a failed or reward-less rollout counted as 0 (the strict reading). */
export function rewardOrZero(rollout: Rollout): number {
  return rollout.status === "succeeded" ? (rollout.finalReward ?? 0) : 0;
}

/** Scores a set of rollouts, with the token figures of each when `tokens` (by rollout id) has them. */
export function summarize(rollouts: readonly Rollout[], tokens: ReadonlyMap<string, TokenFigures> = new Map()): EvaluationResult {
  const scores = rollouts.map((r) => {
    const reward = r.status === "succeeded" ? r.finalReward : null;
    const figures = tokens.get(r.rolloutId) ?? null;
    return {
      task: r.input,
      rolloutId: r.rolloutId,
      status: r.status,
      reward,
      error: r.status === "succeeded" ? null : (r.attempts.at(-1)?.error ?? null),
      tokens: figures,
      tokensPerReward: figures === null ? null : tokensPerReward(figures.total, reward),
    };
  });
  const spent = aggregateTokens(scores.flatMap((s) => (s.tokens === null ? [] : [{ tokens: s.tokens, reward: s.reward }])));
  const rewarded = aggregateTokens(scores.flatMap((s) => (s.tokens === null || s.reward === null ? [] : [{ tokens: s.tokens, reward: s.reward }])));
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
    tokens: scores.some((s) => s.tokens !== null) ? spent.tokens : emptyFigures(),
    tokensPerReward: rewarded.tokensPerReward,
  };
}

export const EvaluateOptionsSchema = z.strictObject({
  /**
   * The mode the rollouts are recorded under.
   * @default "val" when there is a validation set, else "train"
   */
  mode: RolloutModeSchema.optional(),
  /** USD per million tokens by model, merged over `DEFAULT_PRICES`, for the cost figures. @default {} */
  prices: z.record(z.string().min(1), PriceSchema).default({}),
});
export type EvaluateOptions = z.input<typeof EvaluateOptionsSchema>;

/**
 * The baseline: runs the agent once on every task with the initial resources and reports the
 * rewards — no learning. As the algorithm of `fit`, it evaluates `val` (or `train` when there is
 * no validation set).
 */
export function evaluate(options: EvaluateOptions = {}): Algorithm<EvaluationResult> {
  const { mode: chosenMode, prices } = parseOrThrow(EvaluateOptionsSchema, options, "evaluate options");
  return {
    name: "evaluate",
    async run(ctx: AlgorithmContext): Promise<EvaluationResult> {
      const tasks = ctx.val.length > 0 ? ctx.val : ctx.train;
      const mode = chosenMode ?? (ctx.val.length > 0 ? "val" : "train");
      ctx.progress.phase(`evaluating ${tasks.length} tasks`, tasks.length);
      const rollouts = await runBatch(ctx, tasks, { mode, ...(ctx.initialResources ? { resourcesId: ctx.initialResources.resourcesId } : {}) });
      const result = summarize(rollouts, await tokensOfRollouts(ctx, rollouts, { ...DEFAULT_PRICES, ...prices }));
      ctx.progress.note(`mean reward ${result.meanReward === null ? "n/a" : result.meanReward.toFixed(4)} over ${rewardsCount(result)} of ${tasks.length} tasks${failures(result)}; ${describeTokens(result)}`);
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

/** The evaluation's token line: total, where the counts came from, cost, tokens per reward. */
function describeTokens(result: EvaluationResult): string {
  const t = result.tokens;
  const cost = t.costUsd === null ? `cost unknown (no price for ${t.unpricedModels.join(", ")})` : `$${t.costUsd.toFixed(4)}`;
  const perReward = result.tokensPerReward === null ? "n/a" : result.tokensPerReward.toFixed(1);
  return `${t.total} tokens (${t.input} in, ${t.output} out; ${t.source}), ${cost}, ${perReward} tokens per unit reward`;
}
