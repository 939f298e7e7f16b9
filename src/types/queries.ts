import { z } from "zod";
import { AttemptRefSchema, IdSchema, RolloutModeSchema, TextSchema, TimestampSchema } from "./common.js";
import { AttemptStatusSchema } from "./attempt.js";
import { JsonObjectSchema } from "./json.js";
import { RolloutStatusSchema } from "./rollout.js";

/** One page of results. Pass `nextCursor` back as `cursor` to get the next page; `null` means no more. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** The wire schema of a page of `item`. */
export const pageSchema = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), nextCursor: z.string().nullable() });

const CursorSchema = z.string().min(1).max(512);

/**
 * Fields a rollout listing may sort by. `duration` is `endedAt − createdAt` (queue time included).
 * `endedAt`, `finalReward` and `duration` are missing on unfinished rollouts, which always come last.
 */
export const RolloutSortFieldSchema = z.enum(["createdAt", "endedAt", "finalReward", "duration"]);

export const RolloutQuerySchema = z
  .strictObject({
    status: z.array(RolloutStatusSchema).max(6).optional(),
    mode: z.array(RolloutModeSchema).max(3).optional(),
    /** Only rollouts whose id starts with this. */
    idPrefix: z.string().max(128).optional(),
    /**
     * Case-insensitive (A–Z only) substring of the rollout id or of the task input's JSON text.
     * Search for words and values: PostgreSQL keeps the input as jsonb, whose text has its own
     * spacing and key order, so a needle spanning JSON punctuation may match on one backend only.
     */
    text: TextSchema.min(1, "must not be empty (leave text out to match every rollout)")
      .max(256)
      // JSON text never holds a raw NUL, and PostgreSQL refuses one in a parameter.
      .refine((s) => !s.includes("\u0000"), "must not contain NUL (U+0000)")
      .optional(),
    /** Final reward at least this; rollouts without a final reward are left out. */
    minReward: z.number().optional(),
    /** Final reward at most this; rollouts without a final reward are left out. */
    maxReward: z.number().optional(),
    /** Created at or after this time (ms since epoch). */
    createdAfter: TimestampSchema.optional(),
    /** Created strictly before this time (ms since epoch). */
    createdBefore: TimestampSchema.optional(),
    sortBy: RolloutSortFieldSchema.default("createdAt"),
    order: z.enum(["asc", "desc"]).default("asc"),
    limit: z.number().int().min(1).max(1000).default(100),
    /** A cursor belongs to its sort: reusing it with another `sortBy` is rejected. */
    cursor: CursorSchema.optional(),
  })
  .superRefine((query, ctx) => {
    // An empty range is almost always swapped bounds; saying so beats an empty table.
    if (query.minReward !== undefined && query.maxReward !== undefined && query.minReward > query.maxReward) {
      ctx.addIssue({ code: "custom", path: ["maxReward"], message: `must be at least minReward (${query.minReward}), got ${query.maxReward}` });
    }
  });
export type RolloutQuery = z.input<typeof RolloutQuerySchema>;
export type ParsedRolloutQuery = z.infer<typeof RolloutQuerySchema>;

export const SpanQuerySchema = z.strictObject({
  rolloutId: IdSchema,
  /** One attempt, `"latest"` (the rollout's trajectory: its last attempt), or omitted for all attempts. */
  attemptId: z.union([z.literal("latest"), IdSchema]).optional(),
  /** Exact span name. */
  name: z.string().min(1).optional(),
  /** Span names starting with this, e.g. `"tracetrain."`. */
  namePrefix: z.string().min(1).optional(),
  limit: z.number().int().min(1).max(10_000).default(1000),
  cursor: CursorSchema.optional(),
});
export type SpanQuery = z.input<typeof SpanQuerySchema>;
export type ParsedSpanQuery = z.infer<typeof SpanQuerySchema>;

export const DequeueRequestSchema = z.strictObject({
  workerId: IdSchema.optional(),
  /** Most rollouts to claim at once. */
  limit: z.number().int().min(1).max(1000).default(1),
  /** Long-poll: wait up to this long for work when the queue is empty (0 returns at once). */
  waitMs: z.number().int().min(0).max(600_000).default(0),
});
export type DequeueRequest = z.input<typeof DequeueRequestSchema>;

export const HeartbeatRequestSchema = z.strictObject({
  workerId: IdSchema,
  /** Attempts this worker is running; each counts as alive. */
  attempts: z.array(AttemptRefSchema).max(10_000).default([]),
  stats: JsonObjectSchema.optional(),
});
export type HeartbeatRequest = z.input<typeof HeartbeatRequestSchema>;

/** The current status of each attempt in the heartbeat. A runner aborts any that is no longer active. */
export const HeartbeatResultSchema = z.object({
  attempts: z.array(AttemptRefSchema.extend({ status: AttemptStatusSchema })),
});
export type HeartbeatResult = z.infer<typeof HeartbeatResultSchema>;

export const AddSpansResultSchema = z.object({
  /** Spans stored by this call. */
  added: z.number().int().nonnegative(),
  /** Spans ignored because a span with the same id already exists in that attempt. */
  duplicates: z.number().int().nonnegative(),
});
export type AddSpansResult = z.infer<typeof AddSpansResultSchema>;

export const WaitRequestSchema = z.strictObject({
  rolloutIds: z.array(IdSchema).min(1).max(10_000),
  /** Give up after this long and return what has finished; omitted waits until all have finished. */
  timeoutMs: z.number().int().min(0).max(2_147_483_647).optional(),
});

export const AddResourcesOptionsSchema = z.strictObject({
  /** Supply your own id to make the call idempotent. */
  resourcesId: IdSchema.optional(),
});
export type AddResourcesOptions = z.input<typeof AddResourcesOptionsSchema>;

export const CancelOptionsSchema = z.strictObject({
  reason: TextSchema.max(4096).optional(),
});
export type CancelOptions = z.input<typeof CancelOptionsSchema>;

export const StoreStatsSchema = z.object({
  rollouts: z.object({
    total: z.number().int(),
    queuing: z.number().int(),
    running: z.number().int(),
    requeuing: z.number().int(),
    succeeded: z.number().int(),
    failed: z.number().int(),
    cancelled: z.number().int(),
  }),
  attempts: z.object({ total: z.number().int(), active: z.number().int() }),
  spans: z.number().int(),
  resources: z.number().int(),
  workers: z.number().int(),
  /** Rollouts waiting to be claimed (`queuing` + `requeuing`). */
  queueDepth: z.number().int(),
  uptimeMs: z.number(),
});
export type StoreStats = z.infer<typeof StoreStatsSchema>;
