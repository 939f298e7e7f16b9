import { z } from "zod";
import { AttemptSchema } from "./attempt.js";
import { DurationMsSchema, IdSchema, RolloutModeSchema, TimestampSchema } from "./common.js";
import { JsonObjectSchema } from "./json.js";
import { TaskSchema } from "./task.js";

/**
 * Rollout status: `queuing` → `running` → `succeeded` | `failed` | `cancelled`, passing through
 * `requeuing` (waiting in the queue again) between a failed attempt and its retry.
 */
export const RolloutStatusSchema = z.enum(["queuing", "running", "requeuing", "succeeded", "failed", "cancelled"]);
export type RolloutStatus = z.infer<typeof RolloutStatusSchema>;

/** Error kinds a rollout may be retried on (`cancelled` never is). */
export const RetryableErrorKindSchema = z.enum(["timeout", "unresponsive", "infra_error", "agent_error"]);
export type RetryableErrorKind = z.infer<typeof RetryableErrorKindSchema>;

/** By default only failures that are not the agent's fault are retried (when `maxAttempts` > 1). */
export const DEFAULT_RETRY_ON: readonly RetryableErrorKind[] = Object.freeze(["infra_error", "unresponsive"]);

/** How long a claim may stay unconfirmed by default (see `RolloutConfig.claimTimeoutMs`). */
export const DEFAULT_CLAIM_TIMEOUT_MS = 60_000;

export const RolloutConfigSchema = z.strictObject({
  /** Wall-clock limit per attempt, from the attempt's start. */
  timeoutMs: DurationMsSchema.optional(),
  /** An attempt with no heartbeat or span for this long is marked `unresponsive`. */
  heartbeatTimeoutMs: DurationMsSchema.optional(),
  /**
   * A claim (an attempt still `preparing`) with no heartbeat, span or completion for this long is
   * given back to the queue — its worker is gone, or never received the claim (a long-poll answer
   * lost with its connection) — without counting against `maxAttempts`. Default 60 s
   * ({@link DEFAULT_CLAIM_TIMEOUT_MS}); a Runner confirms its claims with its first heartbeat.
   */
  claimTimeoutMs: DurationMsSchema.optional(),
  /** Total attempts, the first included. */
  maxAttempts: z.number().int().min(1).max(100).default(1),
  /** Failure kinds that start another attempt while attempts remain. */
  retryOn: z
    .array(RetryableErrorKindSchema)
    .max(4)
    .default(() => [...DEFAULT_RETRY_ON]),
});
export type RolloutConfig = z.infer<typeof RolloutConfigSchema>;
export type RolloutConfigInput = z.input<typeof RolloutConfigSchema>;

export const RolloutSchema = z.object({
  rolloutId: IdSchema,
  input: TaskSchema,
  mode: RolloutModeSchema,
  /** The resources snapshot the rollout runs with (`null`: none existed when it was created). */
  resourcesId: IdSchema.nullable(),
  status: RolloutStatusSchema,
  config: RolloutConfigSchema,
  metadata: JsonObjectSchema,
  createdAt: TimestampSchema,
  endedAt: TimestampSchema.nullable(),
  /** The outcome reward of the last attempt, once the rollout has ended. */
  finalReward: z.number().nullable(),
  /** All attempts, oldest first. The last one is the rollout's trajectory. */
  attempts: z.array(AttemptSchema),
});
export type Rollout = z.infer<typeof RolloutSchema>;

/** A rollout together with the attempt a worker was just given. */
export const AttemptedRolloutSchema = z.object({
  rollout: RolloutSchema,
  attempt: AttemptSchema,
});
export type AttemptedRollout = z.infer<typeof AttemptedRolloutSchema>;

export const EnqueueRequestSchema = z.strictObject({
  input: TaskSchema,
  /** Supply your own id to make enqueueing idempotent: the same id twice returns the existing rollout. */
  rolloutId: IdSchema.optional(),
  mode: RolloutModeSchema.default("train"),
  /** Defaults to the latest resources snapshot at enqueue time. */
  resourcesId: IdSchema.optional(),
  config: RolloutConfigSchema.optional(),
  metadata: JsonObjectSchema.optional(),
});
export type EnqueueRequest = z.input<typeof EnqueueRequestSchema>;
export type ParsedEnqueueRequest = z.infer<typeof EnqueueRequestSchema>;

export const StartRolloutRequestSchema = EnqueueRequestSchema.extend({
  workerId: IdSchema.optional(),
});
export type StartRolloutRequest = z.input<typeof StartRolloutRequestSchema>;
