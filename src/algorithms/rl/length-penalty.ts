/**
 * RL's length penalty: a reward change for long answers, applied to a rollout's reward before
 * advantages are computed, and recorded as such (the step's mean penalty and share penalized; each
 * train sample keeps its rollout's original `reward` beside the `shaped_reward` its advantage came
 * from). The length is what the policy sampled for the rollout: its mask-1 tokens over all its
 * calls (exact, from the token ids RL records).
 */
import { z } from "zod";

export const LengthPenaltySchema = z
  .discriminatedUnion("kind", [
    z.strictObject({
      /** `-perToken` per sampled token past `freeTokens`. */
      kind: z.literal("linear"),
      /** Reward taken off per sampled token past `freeTokens`. */
      perToken: z.number().positive(),
      /** Sampled tokens a rollout may use for free. @default 0 */
      freeTokens: z.number().int().min(0).default(0),
    }),
    z.strictObject({
      /** DAPO's overlong soft penalty (arXiv 2503.14476, eq. 13): 0 up to `maxTokens - buffer`, falling linearly to `-coefficient` at `maxTokens`, `-coefficient` past it. */
      kind: z.literal("overlong"),
      /** The length at which the full penalty applies. */
      maxTokens: z.number().int().min(1),
      /** The soft zone before `maxTokens` in which the penalty grows (at most `maxTokens`). */
      buffer: z.number().int().min(1),
      /** The full penalty. @default 1 */
      coefficient: z.number().positive().default(1),
    }),
  ])
  .superRefine((p, ctx) => {
    if (p.kind === "overlong" && p.buffer > p.maxTokens) ctx.addIssue({ code: "custom", path: ["buffer"], message: `must be at most maxTokens (${p.maxTokens})` });
  });
export type LengthPenalty = z.output<typeof LengthPenaltySchema>;

/** The penalty (≤ 0) for a rollout that sampled `tokens` tokens. */
export function lengthPenaltyOf(tokens: number, penalty: LengthPenalty): number {
  if (penalty.kind === "linear") return -penalty.perToken * Math.max(0, tokens - penalty.freeTokens);
  const softStart = penalty.maxTokens - penalty.buffer;
  if (tokens <= softStart) return 0;
  if (tokens > penalty.maxTokens) return -penalty.coefficient;
  return (penalty.coefficient * (softStart - tokens)) / penalty.buffer;
}
