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

/** A tool offered, as OpenAI's fine-tuning format and Hugging Face chat templates both take it: a JSON-Schema function. */
export const FunctionToolSchema = z.object({
  type: z.literal("function"),
  function: z.object({
    name: z.string().min(1),
    description: z.string().optional(),
    /** The arguments' JSON Schema. */
    parameters: z.record(z.string(), JsonValueSchema).optional(),
    /** OpenAI's structured-outputs flag, kept when the call set it. */
    strict: z.boolean().optional(),
  }),
});
export type FunctionTool = z.infer<typeof FunctionToolSchema>;

/** A tool call in a Hugging Face assistant message: `arguments` is an object, as chat templates render it. */
export const HfToolCallSchema = z.object({
  /** The call id, kept for templates that render it (Mistral's). */
  id: z.string().optional(),
  type: z.literal("function"),
  function: z.object({
    name: z.string(),
    /** The parsed arguments; the text as the model wrote it when it is not a JSON object. */
    arguments: z.union([z.record(z.string(), JsonValueSchema), z.string()]),
  }),
});

/** A message of a Hugging Face conversational record (what `tokenizer.apply_chat_template` takes). */
export const HfMessageSchema = z.object({
  role: z.enum(["system", "developer", "user", "assistant", "tool"]),
  /** Text, or content parts; absent on an assistant message that only calls tools. */
  content: z.union([z.string(), z.array(JsonValueSchema)]).optional(),
  tool_calls: z.array(HfToolCallSchema).min(1).optional(),
  /** On a tool message: the call it answers, and that call's function name (templates use one or the other). */
  tool_call_id: z.string().optional(),
  name: z.string().optional(),
});
export type HfMessage = z.infer<typeof HfMessageSchema>;

/**
 * One line of Hugging Face conversational JSONL: TRL's `SFTTrainer` conversational format
 * (`messages`, with `tools` passed to the chat template). Loaded with `datasets.load_dataset("json", …)`.
 */
export const HfChatRecordSchema = z.object({
  messages: z.array(HfMessageSchema).min(1),
  tools: z.array(FunctionToolSchema).optional(),
});
export type HfChatRecord = z.infer<typeof HfChatRecordSchema>;

/** The label of a token the loss skips: PyTorch's `CrossEntropyLoss` `ignore_index`, which Hugging Face models use. */
export const IGNORE_LABEL = -100;

/**
 * One line of exact-token JSONL for SFT, in Hugging Face's causal-LM convention: `input_ids` is
 * the prompt then the response, `labels` the same ids with {@link IGNORE_LABEL} on every token not
 * learnt (the prompt, and response tokens inserted between calls: tool results, templates). The
 * model shifts labels itself; a padding collator pads `labels` with −100 too.
 */
export const SftTokenRecordSchema = z
  .object({
    input_ids: TokenIdsSchema.min(1),
    labels: z.array(z.number().int().min(IGNORE_LABEL)),
    rollout_id: IdSchema,
    group_id: z.string().nullable(),
    reward: z.number().nullable(),
    policy_version: PolicyVersionSchema.nullable(),
  })
  .refine((r) => r.labels.length === r.input_ids.length && r.labels.every((l, i) => l === IGNORE_LABEL || l === r.input_ids[i]), {
    message: "labels must have one entry per input id: the id itself, or -100",
    path: ["labels"],
  });
export type SftTokenRecord = z.infer<typeof SftTokenRecordSchema>;
