import { z } from "zod";
import { AttemptErrorSchema, AttemptStatusSchema } from "./attempt.js";
import { IdSchema, TimestampSchema } from "./common.js";
import { RolloutStatusSchema } from "./rollout.js";
import { RunStatusSchema } from "./training-run.js";

export const RolloutStatusEventSchema = z.object({
  type: z.literal("rollout"),
  rolloutId: IdSchema,
  status: RolloutStatusSchema,
  /** `null` when the rollout was just created. */
  previous: RolloutStatusSchema.nullable(),
  /** The outcome reward, once the rollout has ended with one. */
  finalReward: z.number().nullable(),
  at: TimestampSchema,
});
export type RolloutStatusEvent = z.infer<typeof RolloutStatusEventSchema>;

export const AttemptStatusEventSchema = z.object({
  type: z.literal("attempt"),
  rolloutId: IdSchema,
  attemptId: IdSchema,
  sequence: z.number().int().min(1),
  workerId: IdSchema.nullable(),
  status: AttemptStatusSchema,
  /** `null` when the attempt was just created. */
  previous: AttemptStatusSchema.nullable(),
  error: AttemptErrorSchema.nullable(),
  at: TimestampSchema,
});
export type AttemptStatusEvent = z.infer<typeof AttemptStatusEventSchema>;

export const SpansAddedEventSchema = z.object({
  type: z.literal("spans"),
  rolloutId: IdSchema,
  attemptId: IdSchema,
  count: z.number().int().min(1),
  lastSequence: z.number().int().min(1),
  at: TimestampSchema,
});
export type SpansAddedEvent = z.infer<typeof SpansAddedEventSchema>;

export const ResourcesAddedEventSchema = z.object({
  type: z.literal("resources"),
  resourcesId: IdSchema,
  version: z.number().int().min(1),
  at: TimestampSchema,
});
export type ResourcesAddedEvent = z.infer<typeof ResourcesAddedEventSchema>;

/** A training run was created or updated, or entries were added to its log. */
export const RunEventSchema = z.object({
  type: z.literal("run"),
  runId: IdSchema,
  status: RunStatusSchema,
  /** Entries in the run's log after the change (the sequence of the last one). */
  entries: z.number().int().nonnegative(),
  at: TimestampSchema,
});
export type RunEvent = z.infer<typeof RunEventSchema>;

/** Everything a store announces; also the payload of the server's event stream. */
export const StoreEventSchema = z.discriminatedUnion("type", [
  RolloutStatusEventSchema,
  AttemptStatusEventSchema,
  SpansAddedEventSchema,
  ResourcesAddedEventSchema,
  RunEventSchema,
]);
export type StoreEvent = z.infer<typeof StoreEventSchema>;

/** The `type` of every store event, e.g. for choosing which ones an event stream sends. */
export const STORE_EVENT_TYPES = ["rollout", "attempt", "spans", "resources", "run"] as const satisfies ReadonlyArray<StoreEvent["type"]>;
