/**
 * The training-backend protocol, version 1: the JSON a GPU trainer (verl, TRL, a service) and
 * tracetrain exchange. These zod schemas are the specification (docs/rl-backend-protocol.md
 * describes them in prose, and `protocolJsonSchemas()` exports them as JSON Schema for servers in
 * other languages). Field names are snake_case: the other side is usually Python.
 */
import { z } from "zod";
import { PolicyVersionSchema } from "../../types/index.js";

export const PROTOCOL = "tracetrain-rl/1";

const TokenIds = z.array(z.number().int().nonnegative());
export { PolicyVersionSchema, type PolicyVersion } from "../../types/index.js";

/** `GET /v1/info`: who the backend is and what it can do. */
export const BackendInfoSchema = z.object({
  protocol: z.literal(PROTOCOL),
  /** The model name endpoints serve (what agents put in `model`). */
  model: z.string().min(1),
  policy_version: PolicyVersionSchema,
  capabilities: z.object({
    /** Its endpoints return exact token ids (vLLM's `return_token_ids`). */
    token_ids: z.boolean(),
    /** Its endpoints return per-token logprobs. */
    logprobs: z.boolean(),
    /** `POST /v1/checkpoint` works. */
    checkpoint: z.boolean(),
  }),
  /** Free-form description (trainer, algorithm, hardware). */
  name: z.string().max(1000).optional(),
});
export type BackendInfo = z.infer<typeof BackendInfoSchema>;

/** An OpenAI-compatible server that samples from the current policy. */
export const EndpointSchema = z.object({
  name: z.string().min(1).max(256),
  /** Up to and including `/v1`. */
  base_url: z.url({ protocol: /^https?$/, error: "expected an http(s) URL" }),
  model: z.string().min(1),
  policy_version: PolicyVersionSchema,
});
export type Endpoint = z.infer<typeof EndpointSchema>;

/** `GET /v1/endpoints` */
export const EndpointsResponseSchema = z.object({
  policy_version: PolicyVersionSchema,
  endpoints: z.array(EndpointSchema).min(1),
});
export type EndpointsResponse = z.infer<typeof EndpointsResponseSchema>;

/**
 * One training sample: a token sequence of one rollout (one LLM call, or consecutive calls merged)
 * with the advantage of its rollout. Loss is computed on response tokens whose mask is 1.
 */
export const TrainSampleSchema = z
  .object({
    rollout_id: z.string().min(1),
    /** Rollouts of one task form a group (GRPO). */
    group_id: z.string().min(1),
    prompt_ids: TokenIds.min(1),
    response_ids: TokenIds.min(1),
    /** 1 for tokens the policy generated, 0 for tokens inserted between calls (tool results, the next prompt). */
    response_mask: z.array(z.union([z.literal(0), z.literal(1)])),
    /** The sampling policy's logprob of each response token; null where unknown (masked tokens). */
    logprobs: z.array(z.number().nullable()),
    /** The rollout's advantage, the same for every sample of the rollout. */
    advantage: z.number(),
    /** The rollout's reward. */
    reward: z.number(),
    /** How much this sample counts in the loss: 1 / (samples of its rollout), so every rollout weighs the same. */
    weight: z.number().positive(),
    /** The policy version that generated it (staleness = current − this). */
    policy_version: PolicyVersionSchema.optional(),
  })
  .refine((s) => s.response_mask.length === s.response_ids.length && s.logprobs.length === s.response_ids.length, {
    message: "response_mask and logprobs must have one entry per response token",
    path: ["response_mask"],
  });
export type TrainSample = z.infer<typeof TrainSampleSchema>;

/** `POST /v1/train`: one policy update from one batch. */
export const TrainRequestSchema = z.object({
  /** The trainer's step counter; a backend may refuse a step it has already applied (409). */
  step: z.number().int().nonnegative(),
  /** The policy version the batch was sampled from. */
  policy_version: PolicyVersionSchema,
  samples: z.array(TrainSampleSchema).min(1),
});
export type TrainRequest = z.infer<typeof TrainRequestSchema>;

export const TrainResponseSchema = z.object({
  /** The policy version after the update; the endpoints serve it once this returns. */
  policy_version: PolicyVersionSchema,
  /** Numbers the backend wants logged (loss, kl, grad_norm, …); null for a value that is not finite (a diverged loss). */
  metrics: z.record(z.string(), z.number().nullable()),
  /** New endpoints, when the update moved the policy elsewhere. */
  endpoints: z.array(EndpointSchema).min(1).optional(),
});
export type TrainResponse = z.infer<typeof TrainResponseSchema>;

/** `POST /v1/checkpoint` */
export const CheckpointRequestSchema = z.object({ name: z.string().min(1).max(256).optional() });
export type CheckpointRequest = z.infer<typeof CheckpointRequestSchema>;

export const CheckpointResponseSchema = z.object({
  checkpoint_id: z.string().min(1),
  policy_version: PolicyVersionSchema,
  /** Where the backend wrote it, if it is a path the user can use. */
  location: z.string().optional(),
});
export type CheckpointResponse = z.infer<typeof CheckpointResponseSchema>;

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
    CheckpointRequest: CheckpointRequestSchema,
    CheckpointResponse: CheckpointResponseSchema,
    ProtocolError: ProtocolErrorSchema,
  };
  return Object.fromEntries(Object.entries(schemas).map(([name, schema]) => [name, z.toJSONSchema(schema, { io: "input" })]));
}
