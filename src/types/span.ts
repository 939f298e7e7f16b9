import { z } from "zod";
import { IdSchema, TextSchema, TimestampSchema } from "./common.js";
import { type JsonObject, JsonObjectSchema } from "./json.js";

// One regex each (the lookahead rejects all zeros, OTel's "invalid" id): these run on every span.
export const TRACE_ID_PATTERN = /^(?!0{32})[0-9a-f]{32}$/;
export const SPAN_ID_PATTERN = /^(?!0{16})[0-9a-f]{16}$/;
/** OTel trace id: 32 lowercase hex characters, not all zero. */
export const TraceIdSchema = z.string().regex(TRACE_ID_PATTERN, "expected 32 lowercase hex characters, not all zero");
/** OTel span id: 16 lowercase hex characters, not all zero. */
export const SpanIdSchema = z.string().regex(SPAN_ID_PATTERN, "expected 16 lowercase hex characters, not all zero");

export const MAX_SPAN_NAME_LENGTH = 1024;
export const MAX_SPAN_EVENTS = 10_000;

/** OpenTelemetry span kinds, lower-cased. */
export const SpanKindSchema = z.enum(["internal", "server", "client", "producer", "consumer"]);
export type SpanKind = z.infer<typeof SpanKindSchema>;

export const SpanStatusSchema = z.strictObject({
  code: z.enum(["unset", "ok", "error"]),
  message: TextSchema.optional(),
});
export type SpanStatus = z.infer<typeof SpanStatusSchema>;

export const EMPTY_ATTRIBUTES: JsonObject = Object.freeze({});

/**
 * Span attributes. Unlike OTel's flat primitives, values may be any JSON (message lists, tool
 * schemas); OTLP export flattens them.
 */
export const AttributesSchema = JsonObjectSchema;
export type Attributes = z.infer<typeof AttributesSchema>;

export const SpanEventSchema = z.strictObject({
  name: TextSchema.min(1),
  time: TimestampSchema,
  attributes: AttributesSchema.default(EMPTY_ATTRIBUTES),
});
export type SpanEvent = z.infer<typeof SpanEventSchema>;

export const SpanLinkSchema = z.strictObject({
  traceId: TraceIdSchema,
  spanId: SpanIdSchema,
  attributes: AttributesSchema.default(EMPTY_ATTRIBUTES),
});
export type SpanLink = z.infer<typeof SpanLinkSchema>;

const spanFields = {
  rolloutId: IdSchema,
  attemptId: IdSchema,
  traceId: TraceIdSchema,
  spanId: SpanIdSchema,
  parentId: SpanIdSchema.nullable().default(null),
  name: TextSchema.min(1).max(MAX_SPAN_NAME_LENGTH),
  kind: SpanKindSchema.default("internal"),
  /** Milliseconds since the epoch. */
  startTime: TimestampSchema,
  endTime: TimestampSchema,
  status: SpanStatusSchema.default({ code: "unset" }),
  attributes: AttributesSchema.default(EMPTY_ATTRIBUTES),
  events: z.array(SpanEventSchema).max(MAX_SPAN_EVENTS).default([]),
  links: z.array(SpanLinkSchema).max(MAX_SPAN_EVENTS).default([]),
};

const endsAfterStart = (span: { startTime: number; endTime: number }) => span.endTime >= span.startTime;
const endsAfterStartIssue = { message: "endTime must not be before startTime", path: ["endTime"] };

/** A span as a tracer or client sends it: the store assigns `sequence`. */
export const SpanInputSchema = z.strictObject(spanFields).refine(endsAfterStart, endsAfterStartIssue);
export type SpanInput = z.input<typeof SpanInputSchema>;
export type ParsedSpanInput = z.infer<typeof SpanInputSchema>;

/**
 * A stored span: OpenTelemetry-shaped, plus the rollout and attempt it belongs to and its
 * `sequence` — assigned by the store, 1, 2, 3, … per attempt, ordering spans independently of clocks.
 */
export const SpanSchema = z
  .object({ ...spanFields, sequence: z.number().int().min(1) })
  .refine(endsAfterStart, endsAfterStartIssue);
export type Span = z.infer<typeof SpanSchema>;
