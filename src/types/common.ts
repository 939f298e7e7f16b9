import { z } from "zod";
import { LONE_SURROGATE } from "./json.js";

/**
 * An identifier a caller may choose (rollout, resources and worker ids). Restricted to characters
 * that are safe in URL paths, file names and log lines, so an id never needs escaping anywhere.
 */
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;
const MAX_ID_LENGTH = 128;

export const IdSchema = z
  .string()
  .min(1, "must not be empty")
  .max(MAX_ID_LENGTH, `must be at most ${MAX_ID_LENGTH} characters`)
  .regex(ID_PATTERN, "may contain only letters, digits and . _ : - (and must start with a letter or digit)");

/** The checks of {@link IdSchema} as one function, for hand-written fast paths that must agree with it. */
export function isId(value: unknown): value is string {
  return typeof value === "string" && value.length <= MAX_ID_LENGTH && ID_PATTERN.test(value);
}

/** Text that every backend can store unchanged: a string that is valid Unicode (no lone surrogate). */
export const TextSchema = z.string().refine((s) => s.isWellFormed(), LONE_SURROGATE);

/** Milliseconds since the Unix epoch (fractions allowed, for sub-millisecond span timing). */
export const TimestampSchema = z.number().nonnegative();

/** A non-negative whole number of milliseconds. */
export const DurationMsSchema = z.number().int().positive().max(2_147_483_647);

/** Where a rollout's data belongs: training, validation or held-out test. */
export const RolloutModeSchema = z.enum(["train", "val", "test"]);
export type RolloutMode = z.infer<typeof RolloutModeSchema>;

/** Identifies one attempt of one rollout. */
export const AttemptRefSchema = z.object({
  rolloutId: IdSchema,
  attemptId: IdSchema,
});
export type AttemptRef = z.infer<typeof AttemptRefSchema>;

/**
 * Which weights produced a call: a counter or a checkpoint name. The same forms everywhere — on
 * recorded calls, resources, training samples and the RL backend protocol.
 */
export const PolicyVersionSchema = z.union([z.number().int(), z.string().min(1).max(256)]);
export type PolicyVersion = z.infer<typeof PolicyVersionSchema>;
