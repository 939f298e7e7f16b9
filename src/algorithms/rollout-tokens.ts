/**
 * The token figures of ended rollouts, read from the store: what each rollout's last attempt spent
 * (see adapters' token accounting), and the sums and tokens-per-reward of a set of them.
 */
import { DEFAULT_PRICES, type ExtractedCall, type Price, sumFigures, tokenFigures, tokensPerReward } from "../adapters/index.js";
import { spansOf } from "../store/index.js";
import type { Rollout, TokenFigures } from "../types/index.js";
import { mapLimited } from "../util/index.js";
import type { AlgorithmContext } from "./algorithm.js";

/** The calls of a rollout's last attempt (none when it never started one). */
export async function callsOfRollout(ctx: Pick<AlgorithmContext, "store" | "adapter">, rollout: Rollout): Promise<ExtractedCall[]> {
  const attempt = rollout.attempts.at(-1);
  if (!attempt) return [];
  const spans = await spansOf(ctx.store, rollout.rolloutId, attempt.attemptId);
  return ctx.adapter.attempts(spans).flatMap((adapted) => adapted.calls);
}

/** Span reads in flight at once: a remote store answers them in parallel. */
const READS_IN_FLIGHT = 8;

/** Each rollout's figures, by rollout id. */
export async function tokensOfRollouts(ctx: Pick<AlgorithmContext, "store" | "adapter">, rollouts: readonly Rollout[], prices: Readonly<Record<string, Price>>): Promise<Map<string, TokenFigures>> {
  const figures = await mapLimited(rollouts, READS_IN_FLIGHT, async (rollout) => tokenFigures(await callsOfRollout(ctx, rollout), prices));
  return new Map(rollouts.map((r, i) => [r.rolloutId, figures[i]!]));
}

/**
 * Everything about ended rollouts' tokens in one call — what an algorithm reports for a batch of
 * rollouts (an SFT round, say): each one's figures, their sum, and Σ tokens / Σ reward (a failed
 * rollout's reward counts as 0, its tokens count).
 */
export async function rolloutTokenSummary(
  ctx: Pick<AlgorithmContext, "store" | "adapter">,
  rollouts: readonly Rollout[],
  prices: Readonly<Record<string, Price>> = DEFAULT_PRICES,
): Promise<{ byRollout: Map<string, TokenFigures>; tokens: TokenFigures; tokensPerReward: number | null }> {
  const byRollout = await tokensOfRollouts(ctx, rollouts, prices);
  const rewardOf = (r: Rollout) => (r.status === "succeeded" ? r.finalReward : null);
  return { byRollout, ...aggregateTokens(rollouts.map((r) => ({ tokens: byRollout.get(r.rolloutId)!, reward: rewardOf(r) }))) };
}

/** A set of rollouts' summed figures and Σ tokens / Σ reward (rewards as given; null when they sum to ≤ 0). */
export function aggregateTokens(items: ReadonlyArray<{ tokens: TokenFigures; reward: number | null }>): { tokens: TokenFigures; tokensPerReward: number | null } {
  const tokens = sumFigures(items.map((i) => i.tokens));
  const reward = items.reduce((sum, i) => sum + (i.reward ?? 0), 0);
  return { tokens, tokensPerReward: tokensPerReward(tokens.total, reward) };
}
