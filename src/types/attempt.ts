import { z } from "zod";
import { IdSchema, TextSchema, TimestampSchema } from "./common.js";
import { ValidationError } from "./errors.js";
import { SpanIdSchema } from "./span.js";
import { formatPath } from "./validate.js";

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

// ---- rewards recorded over HTTP ------------------------------------------------------------

/** One reward value, or several named ones (`{accuracy: 1, brevity: 0.4}`). */
export type RewardValue = number | Record<string, number>;

function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "number" || typeof value === "boolean" ? String(value) : typeof value;
}

/**
 * What is wrong with a reward value, if anything: the one definition of a valid reward, shared by
 * `emitReward` (in process) and the store server's reward route (over HTTP). A NaN reward is a bug
 * in the agent's scoring, better caught where it happens than averaged into a training signal.
 */
function rewardValueProblem(value: unknown): { path: string[]; message: string } | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? undefined : { path: [], message: `expected a finite number, got ${value}` };
  const entries = typeof value === "object" && value !== null && !Array.isArray(value) ? Object.entries(value) : [];
  if (entries.length === 0) return { path: [], message: `expected a number or a non-empty {name: number} object, got ${describeValue(value)}` };
  const bad = entries.find(([, v]) => typeof v !== "number" || !Number.isFinite(v));
  return bad ? { path: [bad[0]], message: `expected a finite number, got ${describeValue(bad[1])}` } : undefined;
}

/** A reward value: a finite number, or a non-empty object of finite numbers. Checked in place, not copied. */
export const RewardValueSchema = z.custom<RewardValue>().superRefine((value, ctx) => {
  const problem = rewardValueProblem(value);
  if (problem) ctx.addIssue({ code: "custom", message: problem.message, path: problem.path, input: value });
});

/**
 * Validates a reward value outside a schema (an emitter's argument), with the same messages as
 * the wire. Throws a ValidationError whose issue path starts at `value`.
 */
export function parseRewardValue(value: unknown): RewardValue {
  const problem = rewardValueProblem(value);
  if (problem) throw new ValidationError("reward", [{ path: formatPath(["value", ...problem.path]), message: problem.message }]);
  return value as RewardValue;
}

/**
 * The body of `POST /v1/rollouts/:rolloutId/attempts/:attemptId/rewards`: a reward recorded by
 * an agent without the tracetrain SDK (any language that speaks HTTP). The options mean what
 * `emitReward`'s do: `final` defaults to true unless `callId` names the LLM call (its span id)
 * the reward is for; `name` names a single value (default `"reward"`), and with several named
 * values `primary` picks the reward's value (default the first). `feedback` is the evaluator's
 * text on why (at most `MAX_REWARD_FEEDBACK_CHARS` characters). `time` is when the reward was given, in ms since the epoch (default: now).
 */
export const RecordRewardRequestSchema = z.strictObject({
  value: RewardValueSchema,
  name: TextSchema.min(1).optional(),
  primary: TextSchema.min(1).optional(),
  final: z.boolean().optional(),
  callId: TextSchema.min(1).optional(),
  feedback: TextSchema.optional(),
  time: TimestampSchema.optional(),
});
export type RecordRewardRequest = z.input<typeof RecordRewardRequestSchema>;

/** What the reward route answers: the id of the reward span it stored, and whether it is the outcome reward. */
export const RecordRewardResultSchema = z.object({
  spanId: SpanIdSchema,
  final: z.boolean(),
});
export type RecordRewardResult = z.infer<typeof RecordRewardResultSchema>;
