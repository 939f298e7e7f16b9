/**
 * The training-backend protocol, version 2 (`tracetrain-rl/2`, routes under `/v2`): the JSON a GPU
 * trainer (verl, TRL, a service) and tracetrain exchange. These zod schemas are the specification
 * (docs/rl-backend-protocol.md describes them in prose, and `protocolJsonSchemas()` exports them as
 * JSON Schema for servers in other languages). Field names are snake_case: the other side is
 * usually Python. Version 1 (protocol-v1.ts) is still spoken with backends that only know it.
 *
 * What version 2 changed, and why:
 * - each trained token has its own `token_weight` (1 / (its rollout's trained tokens × the step's
 *   rollouts)), so a rollout weighs the same whether its calls merged into one sample or not;
 * - each sample carries the `sampling` settings its tokens were drawn with, so a backend can compute
 *   the probability the sampler really used (temperature, top-p, top-k), not the raw one;
 * - the served model name and endpoints may change with every version (a LoRA adapter per update);
 * - per-step `hyperparameters`, a step split into `chunk`s when one request would be too large, and
 *   a `restore` route.
 */
import { z } from "zod";
import { PolicyVersionSchema } from "../../types/index.js";

export const PROTOCOL = "tracetrain-rl/2";

const TokenIds = z.array(z.number().int().nonnegative());
export { PolicyVersionSchema, type PolicyVersion } from "../../types/index.js";

/** A hyperparameter's value: what Python trainers take from a config. */
export const HyperparameterValueSchema = z.union([z.number(), z.string().max(1000), z.boolean()]);
/** Per-step hyperparameters by name (`learning_rate`, `entropy_coef`, `clip_high`, …). */
export const HyperparametersSchema = z.record(z.string().min(1).max(128), HyperparameterValueSchema);
export type Hyperparameters = z.infer<typeof HyperparametersSchema>;

/** `GET /v2/info`: who the backend is and what it can do. */
export const BackendInfoSchema = z.object({
  protocol: z.literal(PROTOCOL),
  /** The model name the endpoints serve now (what agents put in `model`); an endpoint may name its own. */
  model: z.string().min(1),
  policy_version: PolicyVersionSchema,
  capabilities: z.object({
    /** Its endpoints return exact token ids (vLLM's `return_token_ids`). */
    token_ids: z.boolean(),
    /** Its endpoints return per-token logprobs. */
    logprobs: z.boolean(),
    /**
     * What those logprobs are: `raw`, the model's own distribution (vLLM's default); `processed`,
     * the distribution actually sampled from after temperature, top-k and top-p (vLLM's
     * `--logprobs-mode processed_logprobs`). @default "raw"
     */
    logprobs_mode: z.enum(["raw", "processed"]).default("raw"),
    /** `POST /v2/checkpoint` works. */
    checkpoint: z.boolean(),
    /** `POST /v2/restore` works. @default false */
    restore: z.boolean().default(false),
    /** `POST /v2/supervise` takes token `samples`: supervised (next-token cross-entropy) steps, for SFT. @default false */
    supervised: z.boolean().default(false),
    /**
     * `POST /v2/supervise` takes `chat` records, which the backend renders with its own chat
     * template: distillation from a teacher whose token ids are not the student's. @default false
     */
    supervised_chat: z.boolean().default(false),
    /** `POST /v2/train` accepts a step in several `chunk`s. @default false */
    chunked_train: z.boolean().default(false),
    /**
     * The endpoints keep answering while a step trains, switching to the new version atomically
     * when it is ready: tracetrain's asynchronous mode needs this. @default false
     */
    serves_while_training: z.boolean().default(false),
  }),
  /** The names `TrainRequest.hyperparameters` may set; any other name is refused before sending. @default [] */
  hyperparameters: z.array(z.string().min(1).max(128)).max(1000).default([]),
  /** Free-form description (trainer, algorithm, hardware). */
  name: z.string().max(1000).optional(),
});
/** What a backend says about itself (capabilities it leaves out take their defaults). */
export type BackendInfo = z.input<typeof BackendInfoSchema>;
/** `BackendInfo` with every default filled in, as tracetrain reads it. */
export type ParsedBackendInfo = z.output<typeof BackendInfoSchema>;

/** An OpenAI-compatible server that samples from the current policy. */
export const EndpointSchema = z.object({
  /** What the endpoint is called in logs and records. */
  name: z.string().min(1).max(256),
  /** Up to and including `/v1`. */
  base_url: z.url({ protocol: /^https?$/, error: "expected an http(s) URL" }),
  /** The model name this endpoint serves the policy under; it may change with every version. */
  model: z.string().min(1),
  /** The version of the weights this endpoint serves. */
  policy_version: PolicyVersionSchema,
});
export type Endpoint = z.infer<typeof EndpointSchema>;

/** `GET /v2/endpoints` */
export const EndpointsResponseSchema = z.object({
  policy_version: PolicyVersionSchema,
  endpoints: z.array(EndpointSchema).min(1),
});
export type EndpointsResponse = z.infer<typeof EndpointsResponseSchema>;

/**
 * How a response was sampled: the request's settings as the endpoint applied them. Absent fields
 * take the OpenAI defaults (temperature 1, top_p 1, no top-k).
 */
export const SamplingSettingsSchema = z.object({
  temperature: z.number().min(0).max(100).optional(),
  top_p: z.number().gt(0).max(1).optional(),
  /** Keep only the k most likely tokens; 0 or −1 (vLLM's "off") mean no limit. */
  top_k: z.number().int().min(-1).optional(),
});
export type SamplingSettings = z.infer<typeof SamplingSettingsSchema>;

/** The fields of a train sample in every protocol version (how a sample weighs in the loss differs). */
export const TrainSampleBaseSchema = z.object({
  rollout_id: z.string().min(1),
  /** Rollouts of one task form a group (GRPO). */
  group_id: z.string().min(1),
  prompt_ids: TokenIds.min(1),
  response_ids: TokenIds.min(1),
  /** 1 for tokens the policy generated, 0 for tokens inserted between calls (tool results, the next prompt). */
  response_mask: z.array(z.union([z.literal(0), z.literal(1)])),
  /** The sampling engine's logprob of each response token (see `capabilities.logprobs_mode`); null where unknown (masked tokens). */
  logprobs: z.array(z.number().nullable()),
  /** The rollout's advantage, the same for every sample of the rollout. */
  advantage: z.number(),
  /** The rollout's reward. */
  reward: z.number(),
  /** The reward the advantage was computed from, when RL's `lengthPenalty` changed it (`reward` stays the original). */
  shaped_reward: z.number().optional(),
  /** The policy version that generated it (staleness = current − this). */
  policy_version: PolicyVersionSchema.optional(),
});

/** The check every version's sample passes: one mask and one logprob entry per response token. */
export function responseAligned(s: Pick<z.infer<typeof TrainSampleBaseSchema>, "response_mask" | "response_ids" | "logprobs">): boolean {
  return s.response_mask.length === s.response_ids.length && s.logprobs.length === s.response_ids.length;
}
export const RESPONSE_ALIGNED_ISSUE: { message: string; path: string[] } = { message: "response_mask and logprobs must have one entry per response token", path: ["response_mask"] };

/**
 * One training sample: a token sequence of one rollout (one LLM call, or consecutive calls merged)
 * with the advantage of its rollout. Loss is computed on response tokens whose mask is 1, each
 * weighted by `token_weight`.
 */
export const TrainSampleSchema = TrainSampleBaseSchema.extend({
  /**
   * Each mask-1 token's weight in the step's loss: 1 / (its rollout's mask-1 tokens × the step's
   * rollouts). The loss is Σ token_weight · per-token loss over every sample of the step (all its
   * chunks), and the weights add up to 1.
   */
  token_weight: z.number().positive(),
  /** The settings its mask-1 tokens were sampled with. @default temperature 1, top_p 1, no top-k */
  sampling: SamplingSettingsSchema.optional(),
}).refine(responseAligned, RESPONSE_ALIGNED_ISSUE);
export type TrainSample = z.infer<typeof TrainSampleSchema>;

/** Tokens a response mask trains on (its 1s): what `token_weight` is counted over. */
export function trainedTokenCount(mask: readonly (0 | 1)[]): number {
  let count = 0;
  for (const m of mask) count += m;
  return count;
}

/** A part of a step sent in several requests: the backend applies the update when the last part (index = count − 1) arrives. */
export const TrainChunkSchema = z
  .object({
    index: z.number().int().nonnegative(),
    count: z.number().int().min(1).max(100_000),
  })
  .refine((c) => c.index < c.count, { message: "index must be below count", path: ["index"] });
export type TrainChunk = z.infer<typeof TrainChunkSchema>;

/** `POST /v2/train`: one policy update from one batch (or one chunk of it). */
export const TrainRequestSchema = z.object({
  /** The trainer's step counter; a backend refuses a step it has already applied (409). */
  step: z.number().int().nonnegative(),
  /** The policy version the trainer believes current. */
  policy_version: PolicyVersionSchema,
  samples: z.array(TrainSampleSchema).min(1),
  /** Overrides for this step only; names outside `info.hyperparameters` are refused (400). */
  hyperparameters: HyperparametersSchema.optional(),
  /** Present when the step is sent in parts (only to a backend with `capabilities.chunked_train`). */
  chunk: TrainChunkSchema.optional(),
});
export type TrainRequest = z.infer<typeof TrainRequestSchema>;

export const TrainResponseSchema = z.object({
  /** The policy version after the update (unchanged for a chunk that is not the last); the endpoints serve it once this returns. */
  policy_version: PolicyVersionSchema,
  /** Numbers the backend wants logged (loss, kl, grad_norm, …); null for a value that is not finite (a diverged loss). */
  metrics: z.record(z.string(), z.number().nullable()),
  /** New endpoints, when the update moved the policy elsewhere or renamed it (each endpoint names its model). */
  endpoints: z.array(EndpointSchema).min(1).optional(),
  /** True for a chunk that is not the last: the backend holds it and has not updated yet. @default false */
  pending: z.boolean().default(false),
});
export type TrainResponse = z.input<typeof TrainResponseSchema>;

/**
 * One supervised sample: a token sequence from a trajectory worth imitating. Its loss-mask-1
 * tokens are learnt by next-token cross-entropy; no advantage, no logprobs (nothing is importance
 * weighted: the tokens are targets, whoever sampled them — the policy itself or a teacher model).
 */
export const SuperviseSampleSchema = z
  .object({
    rollout_id: z.string().min(1),
    prompt_ids: TokenIds.min(1),
    response_ids: TokenIds.min(1),
    /** 1 for tokens to learn (what the model wrote), 0 for tokens inserted between calls (tool results, the next prompt). */
    loss_mask: z.array(z.union([z.literal(0), z.literal(1)])),
    /** Each mask-1 token's weight in the step's loss; the weights of a step (all its chunks) add up to 1. */
    token_weight: z.number().positive(),
    /** The reward of the trajectory it came from, for the backend's logs. */
    reward: z.number().optional(),
  })
  .refine((s) => s.loss_mask.length === s.response_ids.length, { message: "loss_mask must have one entry per response token", path: ["loss_mask"] });
export type SuperviseSample = z.infer<typeof SuperviseSampleSchema>;

/**
 * One supervised chat sample: a conversation in OpenAI fine-tuning form (with the tools offered).
 * The backend renders it with its own chat template and learns the assistant messages — for a
 * teacher's trajectories, whose token ids are not the student's.
 */
/** A chat message as OpenAI's fine-tuning format writes it (further fields pass through). */
export const WireChatMessageSchema = z.looseObject({
  role: z.enum(["system", "developer", "user", "assistant", "tool"]),
  /** Text, or content parts; null for an assistant message that only calls tools. */
  content: z.union([z.string(), z.array(z.record(z.string(), z.unknown())), z.null()]).optional(),
  tool_calls: z.array(z.record(z.string(), z.unknown())).optional(),
  tool_call_id: z.string().optional(),
  name: z.string().optional(),
});

export const SuperviseChatSampleSchema = z.object({
  rollout_id: z.string().min(1),
  messages: z.array(WireChatMessageSchema).min(1),
  /** The tools offered, as in a chat request (`{ type: "function", function: {…} }`). */
  tools: z.array(z.record(z.string(), z.unknown())).optional(),
  /** The sample's weight in the step's loss (spread over its assistant tokens); the weights of a step add up to 1. */
  weight: z.number().positive(),
  reward: z.number().optional(),
});
export type SuperviseChatSample = z.infer<typeof SuperviseChatSampleSchema>;

/**
 * `POST /v2/supervise`: one supervised update (or one chunk of it), from token `samples`
 * (`capabilities.supervised`) or `chat` samples (`capabilities.supervised_chat`). Steps share the
 * counter of `/v2/train`: a backend refuses a step number it has already applied by either route (409).
 */
export const SuperviseRequestSchema = z
  .object({
    step: z.number().int().nonnegative(),
    policy_version: PolicyVersionSchema,
    samples: z.array(SuperviseSampleSchema).optional(),
    chat: z.array(SuperviseChatSampleSchema).optional(),
    /** Overrides for this step only; names outside `info.hyperparameters` are refused (400). */
    hyperparameters: HyperparametersSchema.optional(),
    chunk: TrainChunkSchema.optional(),
  })
  .refine((r) => (r.samples?.length ?? 0) + (r.chat?.length ?? 0) > 0, { message: "a supervised step needs token samples or chat samples", path: ["samples"] });
export type SuperviseRequest = z.infer<typeof SuperviseRequestSchema>;

/** `POST /v2/checkpoint` */
export const CheckpointRequestSchema = z.object({ name: z.string().min(1).max(256).optional() });
export type CheckpointRequest = z.infer<typeof CheckpointRequestSchema>;

export const CheckpointResponseSchema = z.object({
  checkpoint_id: z.string().min(1),
  policy_version: PolicyVersionSchema,
  /** Where the backend wrote it, if it is a path the user can use. */
  location: z.string().optional(),
});
export type CheckpointResponse = z.infer<typeof CheckpointResponseSchema>;

/** `POST /v2/restore`: serve a checkpoint's policy again (weights and optimizer state). */
export const RestoreRequestSchema = z.object({ checkpoint_id: z.string().min(1).max(256) });
export type RestoreRequest = z.infer<typeof RestoreRequestSchema>;

export const RestoreResponseSchema = z.object({
  /** The version now served: the checkpoint's. */
  policy_version: PolicyVersionSchema,
  /** The last step ever applied; a restore never lowers it, so no step number is applied twice. */
  last_step: z.number().int().nonnegative().nullable(),
  /** The endpoints serving it, when they changed. */
  endpoints: z.array(EndpointSchema).min(1).optional(),
});
export type RestoreResponse = z.infer<typeof RestoreResponseSchema>;

/** Every error response: an HTTP status ≥ 400 with this body. */
export const ProtocolErrorSchema = z.object({
  error: z.object({
    code: z.string().min(1),
    message: z.string(),
    /** For a rejected request: `{ issues: [{ path, message }] }`, each problem with where it is. */
    details: z.record(z.string(), z.unknown()).optional(),
  }),
});
export type ProtocolError = z.infer<typeof ProtocolErrorSchema>;

/** The protocol's schemas as JSON Schema (draft 2020-12), by name. */
export function protocolJsonSchemas(): Record<string, unknown> {
  const schemas = {
    BackendInfo: BackendInfoSchema,
    EndpointsResponse: EndpointsResponseSchema,
    TrainRequest: TrainRequestSchema,
    TrainResponse: TrainResponseSchema,
    SuperviseRequest: SuperviseRequestSchema,
    CheckpointRequest: CheckpointRequestSchema,
    CheckpointResponse: CheckpointResponseSchema,
    RestoreRequest: RestoreRequestSchema,
    RestoreResponse: RestoreResponseSchema,
    ProtocolError: ProtocolErrorSchema,
  };
  return Object.fromEntries(Object.entries(schemas).map(([name, schema]) => [name, z.toJSONSchema(schema, { io: "input" })]));
}
