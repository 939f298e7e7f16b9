/**
 * What both OTLP trace decoders (protobuf and JSON) produce, and the limits they share.
 *
 * A decoded span is already in our shape — hex ids, millisecond times, JSON attributes, lower-case
 * kind and status — but not yet validated and without its rollout and attempt: those come from its
 * attributes or its resource's, which ingest resolves (and the schema then checks).
 */
import type { JsonObject, JsonValue, SpanInput, SpanKind, SpanStatus } from "../types/index.js";
import { MAX_SPAN_BATCH, TracetrainError, ValidationError } from "../types/index.js";
import { OTLP_SPAN_KIND, OTLP_STATUS_CODE } from "./encode.js";

/** A span as decoded, before its rollout and attempt are known. */
export type DecodedSpan = Omit<SpanInput, "rolloutId" | "attemptId">;

/** A span the JSON decoder could not read (a field of the wrong type): rejected alone, not the whole request. */
export interface UndecodableSpan {
  problem: string;
}

/** One `ResourceSpans`: the resource's attributes and the spans of all its scopes. */
export interface DecodedResourceSpans {
  attributes: JsonObject;
  spans: Array<DecodedSpan | UndecodableSpan>;
}

/**
 * Limits on what one request may decode into. A protobuf body amplifies: two bytes (an empty
 * event, an empty array item) become a whole object, so the byte limit alone does not bound memory.
 */
export interface DecodeLimits {
  /** Spans per request (default: the store's batch limit). */
  maxSpans: number;
  /** Spans, events, links, attributes and array items per request together. */
  maxValues: number;
  /** Nesting of arrays and key-value lists inside an attribute value. */
  maxDepth: number;
}

export const DEFAULT_DECODE_LIMITS: Readonly<DecodeLimits> = Object.freeze({ maxSpans: MAX_SPAN_BATCH, maxValues: 4_000_000, maxDepth: 32 });

/** Counts what a decoder allocates and stops it (413 / 400) the moment a limit is passed. */
export class DecodeBudget {
  private spans = 0;
  private values = 0;

  constructor(readonly limits: DecodeLimits = DEFAULT_DECODE_LIMITS) {}

  span(): void {
    if (++this.spans > this.limits.maxSpans) {
      throw new TracetrainError("payload_too_large", `more than ${this.limits.maxSpans} spans in one OTLP request; export smaller batches`);
    }
    this.value();
  }

  value(): void {
    if (++this.values > this.limits.maxValues) {
      throw new TracetrainError("payload_too_large", `more than ${this.limits.maxValues} values (spans, events, links, attributes) in one OTLP request; export smaller batches`);
    }
  }

  /** Called on entering an array or key-value list at `depth` (an attribute's own value is depth 1). */
  depth(depth: number, where: string): void {
    if (depth > this.limits.maxDepth) {
      throw new ValidationError("OTLP request", [{ path: where, message: `attribute values nested deeper than ${this.limits.maxDepth} levels` }]);
    }
  }
}

const KIND_OF_NUMBER = invert(OTLP_SPAN_KIND);
const STATUS_OF_NUMBER = invert(OTLP_STATUS_CODE);

/** OTLP's span kind number as ours; UNSPECIFIED (0) and values newer than we know become `internal`. */
export function spanKindOf(kind: number): SpanKind {
  return KIND_OF_NUMBER.get(kind) ?? "internal";
}

/** OTLP's status code number as ours; an unknown code is `unset`. Proto3 cannot tell an empty message from none: empty is none. */
export function spanStatusOf(code: number, message: string): SpanStatus {
  const status: SpanStatus = { code: STATUS_OF_NUMBER.get(code) ?? "unset" };
  if (message !== "") status.message = message;
  return status;
}

/** An all-zero id is OpenTelemetry's "invalid": as a parent it means none. */
export function parentIdOf(hex: string): string | null {
  return hex === "" || /^0+$/.test(hex) ? null : hex;
}

/**
 * An OTLP `int_value` as JSON: a number when it is a safe integer, else its exact decimal string —
 * a 64-bit id or hash keeps its digits instead of silently becoming the nearest double.
 */
export function int64Json(value: number | bigint): JsonValue {
  if (typeof value === "number") return Number.isSafeInteger(value) ? value : BigInt(value).toString();
  return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
}

/**
 * An OTLP `double_value` as JSON. JSON has no NaN or infinities: they become the strings proto3's
 * JSON mapping uses, so a span that recorded one is kept rather than rejected.
 */
export function doubleJson(value: number): JsonValue {
  if (Number.isFinite(value)) return value;
  return Number.isNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity";
}

/** Sets an own property even for `__proto__`, which plain assignment would turn into a prototype change. */
export function setAttribute(target: JsonObject, key: string, value: JsonValue): void {
  if (key === "__proto__") Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

function invert<K extends string>(table: Readonly<Record<K, number>>): Map<number, K> {
  return new Map(Object.entries(table).map(([name, code]) => [code as number, name as K]));
}
