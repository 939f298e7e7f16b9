import { z } from "zod";
import { IdSchema, PolicyVersionSchema } from "./common.js";
import { JsonValueSchema } from "./json.js";
import { ChatMessageSchema, SamplingSettingsSchema } from "./transition.js";

const TokenIdsSchema = z.array(z.number().int().nonnegative());

/**
 * One token sequence for RL: a single LLM call, or consecutive calls of one agent merged because
 * each call's prompt token ids started exactly with the sequence so far. `responseIds` holds
 * everything after the first prompt; `responseMask` marks which of those tokens the model
 * generated (1, trained on) and which were inserted between calls (0: tool output, chat-template
 * tokens). The three response arrays are aligned.
 */
export const MergedSampleSchema = z
  .object({
    rolloutId: IdSchema,
    attemptId: IdSchema,
    /** The task group of the rollout, for rollout-level advantages. */
    groupId: z.string().optional(),
    agentName: z.string().optional(),
    /** The span ids of the merged calls, in order. */
    callIds: z.array(z.string().min(1)).min(1),
    promptIds: TokenIdsSchema,
    responseIds: TokenIdsSchema,
    responseMask: z.array(z.union([z.literal(0), z.literal(1)])),
    /** Aligned with `responseIds`; `null` where unknown (inserted tokens, a call without logprobs). Absent when no merged call had logprobs. */
    logprobs: z.array(z.number().nullable()).optional(),
    reward: z.number().optional(),
    policyVersion: PolicyVersionSchema.optional(),
    /** The settings its trained tokens were sampled with: calls sampled differently are never merged. */
    sampling: SamplingSettingsSchema.optional(),
    creditPolicy: z.string().optional(),
  })
  .refine((s) => s.responseMask.length === s.responseIds.length && (s.logprobs === undefined || s.logprobs.length === s.responseIds.length), {
    message: "responseMask and logprobs must be aligned with responseIds",
    path: ["responseMask"],
  });
export type MergedSample = z.infer<typeof MergedSampleSchema>;

/** One OpenAI fine-tuning record (a line of SFT chat JSONL): the conversation and the tools offered. */
export const ChatRecordSchema = z.object({
  messages: z.array(ChatMessageSchema).min(1),
  tools: z.array(JsonValueSchema).optional(),
});
export type ChatRecord = z.infer<typeof ChatRecordSchema>;

/**
 * One line of tokenized JSONL for RL backends, in their snake_case convention. `logprobs` is
 * aligned with `response_ids` (or `null` when the engine returned none).
 */
export const TokenRecordSchema = z
  .object({
    prompt_ids: TokenIdsSchema,
    response_ids: TokenIdsSchema,
    response_mask: z.array(z.union([z.literal(0), z.literal(1)])),
    logprobs: z.array(z.number().nullable()).nullable(),
    reward: z.number().nullable(),
    rollout_id: IdSchema,
    group_id: z.string().nullable(),
    policy_version: PolicyVersionSchema.nullable(),
  })
  .refine((r) => r.response_mask.length === r.response_ids.length && (r.logprobs === null || r.logprobs.length === r.response_ids.length), {
    message: "response_mask and logprobs must be aligned with response_ids",
    path: ["response_mask"],
  });
export type TokenRecord = z.infer<typeof TokenRecordSchema>;
