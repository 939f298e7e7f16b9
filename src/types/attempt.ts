import { z } from "zod";
import { IdSchema, TextSchema, TimestampSchema } from "./common.js";

/**
 * Attempt status. `preparing` (claimed, agent not started) → `running` (first heartbeat or span)
 * → one terminal status. Terminal statuses never change again.
 */
export const AttemptStatusSchema = z.enum(["preparing", "running", "succeeded", "failed", "timeout", "unresponsive", "cancelled"]);
export type AttemptStatus = z.infer<typeof AttemptStatusSchema>;

/**
 * Why an attempt did not succeed. `agent_error`: the agent itself threw or failed;
 * `infra_error`: something around the agent failed (resources, store, runner crash) — never the
 * agent's fault; `timeout` / `unresponsive`: marked by the watchdog (or the runner) when the attempt
 * ran too long or went silent; `cancelled`: the rollout was cancelled.
 */
export const ErrorKindSchema = z.enum(["agent_error", "infra_error", "timeout", "unresponsive", "cancelled"]);
export type ErrorKind = z.infer<typeof ErrorKindSchema>;

/** Error messages longer than this are truncated, never rejected: losing a completion over a long stack trace would be worse. */
const MAX_ERROR_MESSAGE = 16_384;

/** Truncated text stays within `limit` (marker included), so truncating twice changes nothing. */
const truncated = (limit: number) =>
  TextSchema.transform((s) => {
    if (s.length <= limit) return s;
    const marker = `… [truncated ${s.length} chars to ${limit}]`;
    return s.slice(0, limit - marker.length) + marker;
  });

export const AttemptErrorSchema = z.strictObject({
  kind: ErrorKindSchema,
  message: truncated(MAX_ERROR_MESSAGE),
});
export type AttemptError = z.infer<typeof AttemptErrorSchema>;

/** An outcome reward, which may be whatever finite number. */
export const RewardSchema = z.number();

export const AttemptSchema = z.object({
  rolloutId: IdSchema,
  attemptId: IdSchema,
  /** 1 for the first attempt of a rollout, 2 for its first retry, … */
  sequence: z.number().int().min(1),
  workerId: IdSchema.nullable(),
  status: AttemptStatusSchema,
  startedAt: TimestampSchema,
  endedAt: TimestampSchema.nullable(),
  /** Last heartbeat or span received for this attempt (starts at `startedAt`). */
  lastHeartbeatAt: TimestampSchema,
  error: AttemptErrorSchema.nullable(),
  finalReward: RewardSchema.nullable(),
  /** Number of spans stored for this attempt; also the highest span `sequence` assigned. */
  spanCount: z.number().int().nonnegative(),
});
export type Attempt = z.infer<typeof AttemptSchema>;

/**
 * How a runner ends an attempt. A failure must say what kind of failure it was, because retry
 * policy and training treat an infrastructure failure very differently from an agent failure.
 * A failure of kind `timeout`, `unresponsive` or `cancelled` gives the attempt that status.
 */
export const AttemptCompletionSchema = z.discriminatedUnion("status", [
  z.strictObject({
    status: z.literal("succeeded"),
    finalReward: RewardSchema.optional(),
  }),
  z.strictObject({
    status: z.literal("failed"),
    error: AttemptErrorSchema,
    finalReward: RewardSchema.optional(),
  }),
]);
export type AttemptCompletion = z.input<typeof AttemptCompletionSchema>;
