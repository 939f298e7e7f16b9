import { z } from "zod";
import { IdSchema, PolicyVersionSchema } from "./common.js";
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
 * The settings a call's response was sampled with, as the request set them (absent: the API's
 * default — temperature 1, top-p 1, no top-k). An RL backend needs them to compute the
 * probability the sampler really used.
 */
export const SamplingSettingsSchema = z.object({
  temperature: z.number().min(0).optional(),
  topP: z.number().gt(0).max(1).optional(),
  /** 0 or −1 mean no limit (vLLM's "off"). */
  topK: z.number().int().min(-1).optional(),
});
export type SamplingSettings = z.infer<typeof SamplingSettingsSchema>;

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
  policyVersion: PolicyVersionSchema.optional(),
  /** How the response was sampled, when the request said (see {@link SamplingSettingsSchema}). */
  sampling: SamplingSettingsSchema.optional(),
  textOnly: z.boolean(),
  /** The credit-assignment policy that computed `reward` (e.g. `"final"`, `"discounted(0.9)"`). */
  creditPolicy: z.string().optional(),
  /** The intermediate reward(s) attached to this call (summed), before any credit policy. */
  intermediateReward: z.number().optional(),
  /** The task group the rollout belongs to (rollouts of one task compare against each other). */
  groupId: z.string().optional(),
  /** The call's place among the attempt's LLM calls (0-based, duplicates removed). */
  position: z.number().int().nonnegative().optional(),
  /** Which choice of an `n` > 1 call this is (absent for single-choice calls). */
  choiceIndex: z.number().int().nonnegative().optional(),
  /** Tool definitions sent with the request. */
  tools: z.array(JsonValueSchema).optional(),
});
export type Transition = z.infer<typeof TransitionSchema>;

/** The ordered transitions of one attempt plus its outcome reward. */
export const TrajectorySchema = z.object({
  rolloutId: IdSchema,
  attemptId: IdSchema,
  transitions: z.array(TransitionSchema),
  finalReward: z.number().optional(),
  /** The credit-assignment policy behind the transitions' rewards. */
  creditPolicy: z.string().optional(),
  groupId: z.string().optional(),
});
export type Trajectory = z.infer<typeof TrajectorySchema>;
