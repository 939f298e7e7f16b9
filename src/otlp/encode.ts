/**
 * Spans as OTLP (opentelemetry-proto, JSON mapping): the request a collector accepts, and the
 * time and value conversions OTLP ingest reads backwards. Pure functions; the sink that sends
 * them is the tracer's (`tracer/otlp-export.ts`).
 */
import type { JsonValue, SpanInput, SpanKind, SpanStatus } from "../types/index.js";
import { Attr, EventNames, SpanTypes } from "../types/index.js";

// --- OTLP JSON types (opentelemetry-proto, JSON mapping) ---

/** An OTLP `AnyValue`: exactly one field set; 64-bit integers are decimal strings. */
export type OtlpAnyValue =
  | { stringValue: string }
  | { boolValue: boolean }
  | { intValue: string }
  | { doubleValue: number }
  | { arrayValue: { values: OtlpAnyValue[] } }
  | { kvlistValue: { values: OtlpKeyValue[] } }
  | Record<string, never>;

export interface OtlpKeyValue {
  key: string;
  value: OtlpAnyValue;
}

export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: OtlpKeyValue[];
  events: { timeUnixNano: string; name: string; attributes: OtlpKeyValue[] }[];
  links: { traceId: string; spanId: string; attributes: OtlpKeyValue[] }[];
  status: { code: number; message?: string };
}

export interface OtlpTraceRequest {
  resourceSpans: {
    resource: { attributes: OtlpKeyValue[] };
    scopeSpans: { scope: { name: string }; spans: OtlpSpan[] }[];
  }[];
}

/** OTLP `Span.SpanKind` (0 is UNSPECIFIED). Shared with OTLP ingest, which reads it backwards. */
export const OTLP_SPAN_KIND: Readonly<Record<SpanKind, number>> = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 };
/** OTLP `Status.StatusCode`. */
export const OTLP_STATUS_CODE: Readonly<Record<SpanStatus["code"], number>> = { unset: 0, ok: 1, error: 2 };

/**
 * Attributes whose numbers are doubles (in lists and objects too). JavaScript has one number
 * type, so a reward of exactly 1 or a logprob of 0 would otherwise go out as an integer, which
 * backends then store and chart apart from 0.5.
 */
const DOUBLE_KEYS: ReadonlySet<string> = new Set([
  Attr.evaluationScore,
  Attr.rewardValue,
  Attr.rewardValues,
  Attr.logprobs,
  Attr.requestTemperature,
  Attr.requestTopP,
  Attr.timeToFirstChunk,
]);

export const SCOPE_NAME = "tracetrain";

/** Spans as an OTLP `ExportTraceServiceRequest`, one resource per rollout attempt. */
export function toOtlpRequest(spans: readonly SpanInput[], serviceName = "tracetrain"): OtlpTraceRequest {
  const byAttempt = new Map<string, SpanInput[]>();
  for (const span of spans) {
    const key = `${span.rolloutId}\u0000${span.attemptId}`;
    const group = byAttempt.get(key);
    if (group) group.push(span);
    else byAttempt.set(key, [span]);
  }
  return {
    resourceSpans: [...byAttempt.values()].map((group) => ({
      resource: {
        attributes: keyValues({ "service.name": serviceName, [Attr.rolloutId]: group[0]!.rolloutId, [Attr.attemptId]: group[0]!.attemptId }),
      },
      scopeSpans: [{ scope: { name: SCOPE_NAME }, spans: group.map(toOtlpSpan) }],
    })),
  };
}

export function toOtlpSpan(span: SpanInput): OtlpSpan {
  const attributes = span.attributes ?? {};
  const status = span.status ?? { code: "unset" };
  return {
    traceId: span.traceId,
    spanId: span.spanId,
    ...(span.parentId ? { parentSpanId: span.parentId } : {}),
    name: span.name,
    kind: OTLP_SPAN_KIND[span.kind ?? "internal"],
    startTimeUnixNano: msToUnixNano(span.startTime),
    endTimeUnixNano: msToUnixNano(span.endTime),
    attributes: keyValues(attributes),
    events: eventsOf(span).map((event) => ({ timeUnixNano: msToUnixNano(event.time), name: event.name, attributes: keyValues(event.attributes ?? {}) })),
    links: (span.links ?? []).map((link) => ({ traceId: link.traceId, spanId: link.spanId, attributes: keyValues(link.attributes ?? {}) })),
    status: { code: OTLP_STATUS_CODE[status.code], ...(status.message === undefined ? {} : { message: status.message }) },
  };
}

/** A reward span's events, with the evaluation event observability tools read rewards from. */
type EventInput = NonNullable<SpanInput["events"]>[number];

function eventsOf(span: SpanInput): EventInput[] {
  const events = span.events ?? [];
  const attributes = span.attributes ?? {};
  const value = attributes[Attr.rewardValue];
  if (attributes[Attr.spanType] !== SpanTypes.reward || typeof value !== "number" || events.some((e) => e.name === EventNames.evaluationResult)) return events;
  const name = attributes[Attr.rewardName];
  return [...events, { name: EventNames.evaluationResult, time: span.endTime, attributes: { [Attr.evaluationName]: typeof name === "string" ? name : "reward", [Attr.evaluationScore]: value } }];
}

/**
 * Epoch milliseconds (a float with sub-millisecond digits) as decimal nanoseconds. Computed in
 * two parts: `ms * 1e6` as one float would exceed 2^53 and lose the last digits.
 */
export function msToUnixNano(ms: number): string {
  const whole = Math.floor(ms);
  const nanos = Math.round((ms - whole) * 1e6);
  return (BigInt(whole) * 1_000_000n + BigInt(nanos)).toString();
}

/**
 * The inverse of {@link msToUnixNano}: nanoseconds since the epoch (exact, as OTLP's fixed64 or
 * decimal string carries them) as epoch milliseconds with the sub-millisecond part as a fraction.
 * Split for the same reason: `Number(nanos) / 1e6` would round the nanoseconds to a float first.
 */
export function unixNanoToMs(nanos: bigint): number {
  const whole = nanos / 1_000_000n;
  return Number(whole) + Number(nanos - whole * 1_000_000n) / 1e6;
}

function keyValues(attributes: Record<string, JsonValue | undefined>, doubles = false): OtlpKeyValue[] {
  const out: OtlpKeyValue[] = [];
  for (const key in attributes) {
    const value = attributes[key];
    if (value !== undefined) out.push({ key, value: anyValue(value, doubles || DOUBLE_KEYS.has(key)) });
  }
  return out;
}

/**
 * A JSON value as an OTLP `AnyValue`: integers as `intValue` (a decimal string, as the JSON
 * mapping of int64 requires) unless `doubles`, lists as `arrayValue`, objects as `kvlistValue`,
 * `null` as the empty AnyValue.
 */
export function anyValue(value: JsonValue, doubles = false): OtlpAnyValue {
  switch (typeof value) {
    case "string":
      return { stringValue: value };
    case "boolean":
      return { boolValue: value };
    case "number":
      return !doubles && Number.isSafeInteger(value) ? { intValue: String(value) } : { doubleValue: value };
  }
  if (value === null) return {};
  if (Array.isArray(value)) return { arrayValue: { values: value.map((item) => anyValue(item, doubles)) } };
  return { kvlistValue: { values: keyValues(value, doubles) } };
}
