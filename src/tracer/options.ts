/** What `new Tracer({...})`, `tracer.trace()` / `capture()` and `tracer.instrument()` accept, as zod schemas. */
import { z } from "zod";
import { IdSchema, JsonObjectSchema, LoggerSchema, type Span, SubstitutionSchema, consoleLogger, parseOrThrow } from "../types/index.js";
import { hasMethods } from "../util/index.js";
import type { Instrumentation } from "./instrumentation.js";
import type { SpanSink } from "./span-buffer.js";

function isSpanSink(value: unknown): value is SpanSink {
  return hasMethods(value, ["addSpans"]);
}

function isInstrumentation(value: unknown): value is Instrumentation {
  return hasMethods(value, ["install", "uninstall"]) && typeof (value as { name?: unknown }).name === "string" && (value as { name: string }).name.length > 0;
}

const SinkSchema = z.custom<SpanSink>(isSpanSink, "expected a SpanSink: an object with addSpans(spans) (a Store is one)");

export const TracerOptionsSchema = z.strictObject({
  /** Where spans go when `trace()` names no sink, usually the store (default: none; then every `trace()` must name one). */
  sink: SinkSchema.optional(),
  /** Spans per batch sent to the sink (default 256). */
  batchSize: z.number().int().min(1).max(100_000).default(256),
  /** How long a span may wait for its batch to fill before it is sent (default 200 ms). */
  flushIntervalMs: z.number().int().min(0).max(600_000).default(200),
  /** Delays between retries of a failed send; then spans are dropped and reported (default 100, 1000, 5000 ms). */
  retryDelaysMs: z.array(z.number().int().min(0).max(600_000)).max(20).readonly().default([100, 1000, 5000]),
  /** Keep each trace's spans in memory for `lastTrace()` and the outcome (default true). */
  keepSpans: z.boolean().default(true),
  /** Receives the tracer's warnings (default: the console). */
  logger: LoggerSchema.default(() => consoleLogger),
});

export type TracerOptions = z.input<typeof TracerOptionsSchema>;
export type ParsedTracerOptions = z.output<typeof TracerOptionsSchema>;

export function parseTracerOptions(options: TracerOptions): ParsedTracerOptions {
  return parseOrThrow(TracerOptionsSchema, options, "Tracer options");
}

export const TraceOptionsSchema = z.strictObject({
  /** The rollout the traced attempt belongs to (required). */
  rolloutId: IdSchema,
  /** The attempt being traced (required). */
  attemptId: IdSchema,
  /** Where this trace's spans go (default: the tracer's sink). */
  sink: SinkSchema.optional(),
  /** The agent the whole rollout belongs to (default: none). */
  agentName: z.string().optional(),
  /** Extra attributes of the rollout's root span (default: none). */
  attributes: JsonObjectSchema.optional(),
  /**
   * Reads back every span the store holds for this attempt, once the trace's own spans are
   * delivered (default: none). The report then counts those — calls a gateway recorded, spans
   * ingested over OTLP, rewards posted over HTTP — rather than only what this process saw, its
   * outcome reward falls back to the last final reward stored, and the outcome's `spans` are the
   * stored ones. If it throws, the report counts this process's spans and says why.
   */
  readBack: z.custom<() => Promise<readonly Span[]>>((value) => typeof value === "function", "expected a function () => Promise<Span[]>").optional(),
  /**
   * When `readBack` is called: `always`, or only when this process's own record is `incomplete` —
   * no final reward or no LLM call in it — which is all a training run needs (the outcome reward,
   * and an honest "no LLM call" warning) at a store query for such attempts only. @default "always"
   */
  readBackWhen: z.enum(["always", "incomplete"]).default("always"),
  /**
   * Candidate texts to send in place of seed texts — a system or developer message, or a tool's
   * description, that equals a seed text — in this rollout's LLM requests only, for an agent that
   * does not read its prompts from `ctx.prompt()` (the runner passes the snapshot's
   * `tracetrain.substitutions`). Each request records the components it substituted. @default none
   */
  substitutions: z.array(SubstitutionSchema).optional(),
});

/** What to trace: a rollout attempt, and optionally where its spans go and what to call its root. */
export type TraceOptions = z.input<typeof TraceOptionsSchema>;
export type ParsedTraceOptions = z.output<typeof TraceOptionsSchema>;

export function parseTraceOptions(options: TraceOptions): ParsedTraceOptions {
  return parseOrThrow(TraceOptionsSchema, options, "trace options");
}

const InstrumentationSchema = z.custom<Instrumentation>(isInstrumentation, "expected an Instrumentation: an object with a name, install() and uninstall()");

export const InstrumentOptionsSchema = z.strictObject({
  /** The openai SDK: chat completions, completions and responses, streams included (default on). */
  openai: z.boolean().optional(),
  /** `globalThis.fetch`: OpenAI-compatible and Anthropic calls made by any other client (default on). */
  fetch: z.boolean().optional(),
  /** LangChain.js and LangGraph runs: chains, graph nodes as agents, tools, retrievers (default on). */
  langchain: z.boolean().optional(),
  /** The OpenAI Agents SDK: agents, tools, handoffs (default on). */
  agents: z.boolean().optional(),
  /** The Vercel AI SDK 7, through its `ai:telemetry` diagnostics channel: operations, steps, tools (default on; AI SDK 6 needs `otel`). */
  ai: z.boolean().optional(),
  /**
   * OpenTelemetry spans of other libraries, e.g. the Vercel AI SDK 6's (default off: it registers a
   * global tracer provider; with a provider of your own, add `createOtelSpanProcessor()` to it instead).
   */
  otel: z.boolean().optional(),
  /** Instrumentations of your own, installed after the built-in ones; names must be unique (default: none). */
  extra: z.array(InstrumentationSchema).default([]),
});

/**
 * Which instrumentations `Tracer.instrument()` installs: the built-in ones by name (`true` / `false`),
 * and your own in `extra`.
 */
export type InstrumentOptions = z.input<typeof InstrumentOptionsSchema>;
export type ParsedInstrumentOptions = z.output<typeof InstrumentOptionsSchema>;

export function parseInstrumentOptions(options: InstrumentOptions): ParsedInstrumentOptions {
  return parseOrThrow(InstrumentOptionsSchema, options, "instrument options");
}
