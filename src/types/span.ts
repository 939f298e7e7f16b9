import { z } from "zod";
import { IdSchema, TimestampSchema } from "./common.js";
import { type JsonObject, JsonObjectSchema } from "./json.js";

const notAllZeros = (id: string) => !/^0+$/.test(id);

/** OTel trace id: 32 lowercase hex characters, not all zero (the all-zero id means "invalid" in OTel). */
export const TraceIdSchema = z
  .string()
  .regex(/^[0-9a-f]{32}$/, "expected 32 lowercase hex characters")
  .refine(notAllZeros, "must not be all zeros");
/** OTel span id: 16 lowercase hex characters, not all zero. */
export const SpanIdSchema = z
  .string()
  .regex(/^[0-9a-f]{16}$/, "expected 16 lowercase hex characters")
  .refine(notAllZeros, "must not be all zeros");

/** OpenTelemetry span kinds, lower-cased. */
export const SpanKindSchema = z.enum(["internal", "server", "client", "producer", "consumer"]);
export type SpanKind = z.infer<typeof SpanKindSchema>;

export const SpanStatusSchema = z.strictObject({
  code: z.enum(["unset", "ok", "error"]),
  message: z.string().optional(),
});
export type SpanStatus = z.infer<typeof SpanStatusSchema>;

const EMPTY_ATTRIBUTES: JsonObject = Object.freeze({});

/**
 * Span attributes. Unlike OTel's flat primitives, values may be any JSON (message lists, tool
 * schemas); OTLP export flattens them. Keys are the names in the conventions module.
 */
export const AttributesSchema = JsonObjectSchema;
export type Attributes = z.infer<typeof AttributesSchema>;

export const SpanEventSchema = z.strictObject({
  name: z.string().min(1),
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
  name: z.string().min(1).max(1024),
  kind: SpanKindSchema.default("internal"),
  /** Milliseconds since the epoch. */
  startTime: TimestampSchema,
  endTime: TimestampSchema,
  status: SpanStatusSchema.default({ code: "unset" }),
  attributes: AttributesSchema.default(EMPTY_ATTRIBUTES),
  events: z.array(SpanEventSchema).max(10_000).default([]),
  links: z.array(SpanLinkSchema).max(10_000).default([]),
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
