/**
 * What the trainer controls about the calls agents make: the model name the upstream serves the
 * policy under, sampling settings per rollout mode (e.g. a higher temperature for training than for
 * validation), and the policy version stamped on every recorded call, so each transition says which
 * weights produced it.
 */
import { z } from "zod";
import { JsonObjectSchema, PolicyVersionSchema, parseOrThrow } from "../types/index.js";
import type { JsonObject, RolloutMode } from "../types/index.js";

/** Fields a sampling override may not set: they decide what and how the gateway forwards and records. */
const RESERVED = new Set(["model", "messages", "prompt", "input", "stream", "n", "return_token_ids", "tools"]);

const SamplingSchema = JsonObjectSchema.superRefine((fields, ctx) => {
  // zod runs this check even when the one before found no object.
  if (typeof fields !== "object" || fields === null) return;
  for (const field of Object.keys(fields)) {
    if (RESERVED.has(field)) ctx.addIssue({ code: "custom", path: [field], message: `'${field}' cannot be a sampling override: it decides what is sent, not how it is sampled` });
  }
});

export const GatewayPolicySchema = z.strictObject({
  /** Replaces the `model` of every forwarded call. */
  model: z.string().min(1).optional(),
  /** Request fields set on every call of a rollout in that mode, over what the agent sent (e.g. `{temperature: 1}`). */
  sampling: z
    .strictObject({
      /** Fields set on calls of training rollouts. */
      train: SamplingSchema.optional(),
      /** Fields set on calls of validation rollouts. */
      val: SamplingSchema.optional(),
      /** Fields set on calls of test rollouts. */
      test: SamplingSchema.optional(),
    })
    .optional(),
  /** Stamped on every recorded call as `tracetrain.llm.policy_version`. */
  policyVersion: PolicyVersionSchema.optional(),
});
export type GatewayPolicy = z.infer<typeof GatewayPolicySchema>;
export type GatewayPolicyInput = z.input<typeof GatewayPolicySchema>;

export function parsePolicy(input: GatewayPolicyInput): GatewayPolicy {
  return parseOrThrow(GatewayPolicySchema, input, "gateway policy");
}

/** Applies the policy to a request body (in place), for a call of a rollout in `mode` (unknown for unscoped calls). */
export function applyPolicy(body: Record<string, unknown>, policy: GatewayPolicy, mode: RolloutMode | undefined): void {
  if (policy.model !== undefined) body.model = policy.model;
  const sampling: JsonObject | undefined = mode === undefined ? undefined : policy.sampling?.[mode];
  if (sampling) Object.assign(body, sampling);
}
