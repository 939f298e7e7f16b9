/**
 * Token figures: what a rollout, a step or a run spent in LLM tokens and dollars, and where the
 * counts came from. One shape everywhere (evaluate, RL steps, APO/GEPA candidates, export, the
 * dashboard), so figures add up and compare across algorithms.
 */
import { z } from "zod";

const count = z.number().int().nonnegative();

/**
 * Where the counts came from: `usage` — every call's server-reported `gen_ai.usage.*`; `counted` —
 * no call had usage, so tokens were counted (from the recorded token ids when the call has them,
 * else with the o200k tokenizer over the messages: an estimate); `mixed` — some of each; `none` —
 * there were no calls to count.
 */
export const TokenSourceSchema = z.enum(["usage", "counted", "mixed", "none"]);
export type TokenSource = z.infer<typeof TokenSourceSchema>;

/** Tokens of one model, or of a set of calls. */
export const TokenCountsSchema = z.object({
  input: count,
  output: count,
  /** `input + output`. */
  total: count,
  /** Calls counted. */
  calls: count,
  /** USD by the price table; null when a model of these calls has no price (named in `unpricedModels`). */
  costUsd: z.number().nonnegative().nullable(),
});
export type TokenCounts = z.infer<typeof TokenCountsSchema>;

/** What the calls of a rollout (or of many, summed) spent. */
export const TokenFiguresSchema = TokenCountsSchema.extend({
  source: TokenSourceSchema,
  /** How many calls had server-reported usage, and how many were counted. */
  callsBySource: z.object({ usage: count, counted: count }),
  /** Per model (`unknown` when the call named none). */
  byModel: z.record(z.string(), TokenCountsSchema),
  /** Models with calls that the price table does not know: their cost is unknown, never 0. */
  unpricedModels: z.array(z.string()),
  /**
   * Calls made inside a reward span (an LLM judge): not the policy's cost, so not in the figures
   * above, reported here apart.
   */
  judge: TokenCountsSchema,
});
export type TokenFigures = z.infer<typeof TokenFiguresSchema>;

/** `GET /v1/tokens?rollouts=…`: each named rollout's latest attempt and what its calls spent (rollouts not started yet are left out). */
export const RolloutTokensSchema = z.strictObject({
  items: z.array(z.strictObject({ rolloutId: z.string(), attemptId: z.string(), tokens: TokenFiguresSchema })),
});
export type RolloutTokens = z.infer<typeof RolloutTokensSchema>;
