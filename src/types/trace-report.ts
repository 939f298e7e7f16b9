import { z } from "zod";
import { IdSchema } from "./common.js";

const LayerCountsSchema = z.object({
  spans: z.number().int().nonnegative(),
  llmCalls: z.number().int().nonnegative(),
});

/**
 * Why an instrumentation saw less than the agent did: a copy of a framework it could not patch, a
 * framework it could not hook at all, an OpenTelemetry set-up it could not join. Each one is also
 * one line of the report's `warnings`.
 */
export const CaptureIssueCodeSchema = z.enum([
  /** Calls were made by a copy of the package the instrumentation did not patch (another version, a bundled copy). */
  "unpatched_copy",
  /** The instrumentation was asked for but could not be installed. */
  "not_installed",
  /** The application registered its own OpenTelemetry tracer provider, so tracetrain's could not be. */
  "otel_provider_taken",
  /** A loaded `@opentelemetry/api` copy refuses the global OpenTelemetry registration (its version is newer). */
  "otel_version_mismatch",
]);
export type CaptureIssueCode = z.infer<typeof CaptureIssueCodeSchema>;

export const CaptureIssueSchema = z.object({
  /** The instrumentation concerned (`openai`, `langchain`, `otel`, or one of your own). */
  instrumentation: z.string(),
  code: CaptureIssueCodeSchema,
  /** The npm package concerned and the version of the copy at fault, when known. */
  package: z.string().optional(),
  version: z.string().optional(),
  /** How many times this rollout met it (LLM calls made by an unpatched copy, for one). */
  count: z.number().int().positive(),
  /** What happened, what was recorded anyway, and what to do. */
  message: z.string(),
});
export type CaptureIssue = z.infer<typeof CaptureIssueSchema>;
/** An issue as an instrumentation notes it; the trace counts how often it is met. */
export type CaptureIssueInput = Omit<CaptureIssue, "count">;

/**
 * What one traced rollout attempt recorded, so a rollout that captured nothing is noticed at once
 * instead of after training on empty data. Under a runner the counts are the store's: every span
 * it holds for the attempt, whether this process, a gateway or an OTLP exporter recorded it.
 */
export const TraceReportSchema = z.object({
  rolloutId: IdSchema,
  attemptId: IdSchema,
  traceId: z.string(),
  durationMs: z.number().nonnegative(),
  /**
   * Where the counts come from: `store` — every span the store holds for the attempt, read back
   * after the trace (what a runner reports); `process` — only the spans this process recorded (a
   * bare `tracer.trace()`, or the store could not be read back: a warning says why).
   */
  countedFrom: z.enum(["store", "process"]),
  /** Spans recorded, the rollout's root span included. */
  spans: z.number().int().nonnegative(),
  /**
   * LLM calls recorded in full. Framework wrappers of a call recorded by a lower layer are not
   * counted, and records of one call by several layers (the SDK and the gateway: same response id) count once.
   */
  llmCalls: z.number().int().nonnegative(),
  /** LLM calls whose token ids came back from the engine (the rest are text-only). */
  llmCallsWithTokenIds: z.number().int().nonnegative(),
  /** Spans and LLM calls per instrumentation layer (`openai`, `fetch`, `langchain`, …). */
  layers: z.record(z.string(), LayerCountsSchema),
  rewards: z.number().int().nonnegative(),
  /** The outcome reward: the last final reward emitted in process, else (counted from the store) the last final reward span stored; null if none. */
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
  /** What the instrumentations could not capture, and why (each also listed in `warnings`). */
  captureIssues: z.array(CaptureIssueSchema),
  /** Everything worth a human's attention, in words. */
  warnings: z.array(z.string()),
});
export type TraceReport = z.infer<typeof TraceReportSchema>;
