import { z } from "zod";
import { IdSchema } from "./common.js";

const LayerCountsSchema = z.object({
  spans: z.number().int().nonnegative(),
  llmCalls: z.number().int().nonnegative(),
});

/**
 * What the tracer saw during one traced rollout attempt, so a rollout that captured nothing is
 * noticed at once instead of after training on empty data.
 */
export const TraceReportSchema = z.object({
  rolloutId: IdSchema,
  attemptId: IdSchema,
  traceId: z.string(),
  durationMs: z.number().nonnegative(),
  /** Spans recorded, the rollout's root span included. */
  spans: z.number().int().nonnegative(),
  /** LLM calls recorded in full (framework wrappers of a call recorded by a lower layer are not counted twice). */
  llmCalls: z.number().int().nonnegative(),
  /** LLM calls whose token ids came back from the engine (the rest are text-only). */
  llmCallsWithTokenIds: z.number().int().nonnegative(),
  /** Spans and LLM calls per instrumentation layer (`openai`, `fetch`, `langchain`, …). */
  layers: z.record(z.string(), LayerCountsSchema),
  rewards: z.number().int().nonnegative(),
  /** The last final reward emitted, if any. */
  finalReward: z.number().nullable(),
  /** Spans the agent left open; the tracer closed them when the trace ended. */
  incompleteSpans: z.number().int().nonnegative(),
  delivery: z.object({
    sent: z.number().int().nonnegative(),
    dropped: z.number().int().nonnegative(),
    retries: z.number().int().nonnegative(),
    errors: z.array(z.string()),
  }),
  /** The agent's own error, if it threw. */
  agentError: z.string().nullable(),
  /** Everything worth a human's attention, in words. */
  warnings: z.array(z.string()),
});
export type TraceReport = z.infer<typeof TraceReportSchema>;
