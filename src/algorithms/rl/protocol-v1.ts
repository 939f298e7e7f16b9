/**
 * The training-backend protocol, version 1 (`tracetrain-rl/1`, routes under `/v1`), kept so that
 * backends written for it keep working: `HttpTrainingBackend` falls back to it when a backend has
 * no `/v2` routes, and `serveTrainingBackend` still answers `/v1` clients. Version 2
 * (protocol.ts) is the current one; `protocol-v1-mapping.ts` translates between them.
 */
import { z } from "zod";
import { PolicyVersionSchema } from "../../types/index.js";
import { EndpointSchema, RESPONSE_ALIGNED_ISSUE, TrainSampleBaseSchema, responseAligned } from "./protocol.js";

export const PROTOCOL_V1 = "tracetrain-rl/1";

/** `GET /v1/info`: who the backend is and what it can do. */
export const BackendInfoV1Schema = z.object({
  protocol: z.literal(PROTOCOL_V1),
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
export type BackendInfoV1 = z.infer<typeof BackendInfoV1Schema>;

/**
 * One training sample: a token sequence of one rollout (one LLM call, or consecutive calls merged)
 * with the advantage of its rollout. Loss is computed on response tokens whose mask is 1.
 */
export const TrainSampleV1Schema = TrainSampleBaseSchema.extend({
  /** How much this sample counts in the loss: 1 / (samples of its rollout), so every rollout weighs the same. */
  weight: z.number().positive(),
}).refine(responseAligned, RESPONSE_ALIGNED_ISSUE);
export type TrainSampleV1 = z.infer<typeof TrainSampleV1Schema>;

/** `POST /v1/train`: one policy update from one batch. */
export const TrainRequestV1Schema = z.object({
  /** The trainer's step counter; a backend may refuse a step it has already applied (409). */
  step: z.number().int().nonnegative(),
  /** The policy version the batch was sampled from. */
  policy_version: PolicyVersionSchema,
  samples: z.array(TrainSampleV1Schema).min(1),
});
export type TrainRequestV1 = z.infer<typeof TrainRequestV1Schema>;

export const TrainResponseV1Schema = z.object({
  /** The policy version after the update; the endpoints serve it once this returns. */
  policy_version: PolicyVersionSchema,
  /** Numbers the backend wants logged (loss, kl, grad_norm, …); null for a value that is not finite (a diverged loss). */
  metrics: z.record(z.string(), z.number().nullable()),
  /** New endpoints, when the update moved the policy elsewhere. */
  endpoints: z.array(EndpointSchema).min(1).optional(),
});
export type TrainResponseV1 = z.infer<typeof TrainResponseV1Schema>;

