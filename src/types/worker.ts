import { z } from "zod";
import { IdSchema, TimestampSchema } from "./common.js";
import { JsonObjectSchema } from "./json.js";

/** A runner process (or task pool) known to the store through its dequeues and heartbeats. */
export const WorkerSchema = z.object({
  workerId: IdSchema,
  /** `busy` while it holds at least one active attempt. */
  status: z.enum(["idle", "busy"]),
  firstSeenAt: TimestampSchema,
  lastSeenAt: TimestampSchema,
  lastDequeueAt: TimestampSchema.nullable(),
  /** Attempts this worker holds that are still `preparing` or `running`. */
  activeAttempts: z.number().int().nonnegative(),
  /** Whatever the worker last reported about itself (host, pid, load, …). */
  stats: JsonObjectSchema.nullable(),
});
export type Worker = z.infer<typeof WorkerSchema>;
