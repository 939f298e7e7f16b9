import { z } from "zod";
import { IdSchema } from "./common.js";
import { JsonValueSchema } from "./json.js";

/**
 * An OpenAI-style chat message. Kept open (extra keys survive) because providers add fields;
 * adapters only rely on `role`, `content`, `tool_calls` and `tool_call_id`.
 */
export const ChatMessageSchema = z.looseObject({
  role: z.string().min(1),
  content: z.union([z.string(), z.array(JsonValueSchema), z.null()]).optional(),
  name: z.string().optional(),
  tool_calls: z.array(JsonValueSchema).optional(),
  tool_call_id: z.string().optional(),
});
export type ChatMessage = z.infer<typeof ChatMessageSchema>;

const TokenIdsSchema = z.array(z.number().int().nonnegative());

/**
 * One LLM call of interest, ready for training. `textOnly` is true when the engine returned no
 * token ids: such a record can feed prompt optimization or SFT, but not token-level RL.
 */
export const TransitionSchema = z.object({
  rolloutId: IdSchema,
  attemptId: IdSchema,
  /** The span id of the LLM call. */
  callId: z.string().min(1),
  agentName: z.string().optional(),
  prompt: z.object({
    messages: z.array(ChatMessageSchema).optional(),
    tokenIds: TokenIdsSchema.optional(),
  }),
  response: z.object({
    message: ChatMessageSchema.optional(),
    tokenIds: TokenIdsSchema.optional(),
    logprobs: z.array(z.number()).optional(),
    finishReason: z.string().optional(),
  }),
  reward: z.number().optional(),
  policyVersion: z.union([z.string(), z.number().int()]).optional(),
  textOnly: z.boolean(),
});
export type Transition = z.infer<typeof TransitionSchema>;

/** The ordered transitions of one attempt plus its outcome reward. */
export const TrajectorySchema = z.object({
  rolloutId: IdSchema,
  attemptId: IdSchema,
  transitions: z.array(TransitionSchema),
  finalReward: z.number().optional(),
});
export type Trajectory = z.infer<typeof TrajectorySchema>;
