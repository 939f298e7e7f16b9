/**
 * OTLP/HTTP JSON for traces: reads a parsed `ExportTraceServiceRequest` (the inverse of what
 * `otlp-export.ts` writes) and builds the `ExportTraceServiceResponse`.
 *
 * Accepted as senders write it in practice: field names in lowerCamelCase or as in the .proto
 * (`traceId` / `trace_id`); ids in hex as OTLP/JSON specifies, or base64 as a generic proto3 JSON
 * encoder writes bytes; 64-bit numbers as decimal strings or JSON numbers; enums as numbers or
 * their proto names (`SPAN_KIND_SERVER`). Unknown fields are ignored, as the spec asks.
 *
 * A field of the wrong type inside a span rejects that span only (reported through partial
 * success); one above the spans — the request, a resource, a scope — rejects the request (400).
 */
import type { JsonObject, JsonValue } from "../types/index.js";
import { ValidationError } from "../types/index.js";
import { unixNanoToMs } from "./encode.js";
import {
  type DecodedResourceSpans,
  type DecodedSpan,
  DecodeBudget,
  doubleJson,
  int64Json,
  parentIdOf,
  setAttribute,
  spanKindOf,
  spanStatusOf,
} from "./decoded.js";

type Event = NonNullable<DecodedSpan["events"]>[number];
type Link = NonNullable<DecodedSpan["links"]>[number];
type Fields = Record<string, unknown>;

/** A value of the wrong shape at `path`. */
class ShapeError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

/** Decodes a parsed OTLP/JSON trace request. */
export function decodeTraceRequestJson(body: unknown, budget = new DecodeBudget()): DecodedResourceSpans[] {
  try {
    const request = objectAt(body, "");
    return listAt(get(request, "resourceSpans", "resource_spans"), "resourceSpans").map((item, i) => resourceSpans(item, `resourceSpans[${i}]`, budget));
  } catch (error) {
    throw error instanceof ShapeError ? new ValidationError("OTLP JSON request", [{ path: error.path, message: error.message }]) : error;
  }
}

/** The JSON `ExportTraceServiceResponse`: `{}` on full success; int64 counts are strings in proto3 JSON. */
export function traceResponseJson(rejectedSpans: number, errorMessage: string): JsonObject {
  return rejectedSpans === 0 ? {} : { partialSuccess: { rejectedSpans: String(rejectedSpans), errorMessage } };
}

/** One OTLP/JSON `AnyValue` as JSON (the inverse of `anyValue` in otlp-export.ts); throws ValidationError if it is not one. */
export function anyValueToJson(value: unknown, budget = new DecodeBudget()): JsonValue {
  try {
    return anyValue(value, "value", budget, 1);
  } catch (error) {
    throw error instanceof ShapeError ? new ValidationError("OTLP AnyValue", [{ path: error.path, message: error.message }]) : error;
  }
}

function resourceSpans(value: unknown, path: string, budget: DecodeBudget): DecodedResourceSpans {
  const fields = objectAt(value, path);
  const resource = get(fields, "resource");
  const attributes = resource === undefined || resource === null ? {} : keyValues(get(objectAt(resource, `${path}.resource`), "attributes"), `${path}.resource.attributes`, budget, 1);
  const spans: DecodedResourceSpans["spans"] = [];
  listAt(get(fields, "scopeSpans", "scope_spans"), `${path}.scopeSpans`).forEach((scope, i) => {
    const scopePath = `${path}.scopeSpans[${i}]`;
    listAt(get(objectAt(scope, scopePath), "spans"), `${scopePath}.spans`).forEach((item, j) => {
      budget.span();
      const spanPath = `${scopePath}.spans[${j}]`;
      try {
        spans.push(span(item, spanPath, budget));
      } catch (error) {
        if (!(error instanceof ShapeError)) throw error;
        spans.push({ problem: `${error.path}: ${error.message}` });
      }
    });
  });
  return { attributes, spans };
}

function span(value: unknown, path: string, budget: DecodeBudget): DecodedSpan {
  const s = objectAt(value, path);
  const status = get(s, "status");
  const statusFields = status === undefined || status === null ? {} : objectAt(status, `${path}.status`);
  const name = get(s, "name");
  const message = get(statusFields, "message");
  if (name !== undefined && typeof name !== "string") throw new ShapeError(`${path}.name`, "expected a string");
  if (message !== undefined && typeof message !== "string") throw new ShapeError(`${path}.status.message`, "expected a string");
  return {
    traceId: idAt(get(s, "traceId", "trace_id"), 16, `${path}.traceId`),
    spanId: idAt(get(s, "spanId", "span_id"), 8, `${path}.spanId`),
    parentId: parentIdOf(idAt(get(s, "parentSpanId", "parent_span_id"), 8, `${path}.parentSpanId`)),
    name: name ?? "",
    kind: spanKindOf(enumAt(get(s, "kind"), SPAN_KIND_NAMES, `${path}.kind`)),
    startTime: timeAt(get(s, "startTimeUnixNano", "start_time_unix_nano"), `${path}.startTimeUnixNano`),
    endTime: timeAt(get(s, "endTimeUnixNano", "end_time_unix_nano"), `${path}.endTimeUnixNano`),
    status: spanStatusOf(enumAt(get(statusFields, "code"), STATUS_CODE_NAMES, `${path}.status.code`), message ?? ""),
    attributes: keyValues(get(s, "attributes"), `${path}.attributes`, budget, 1),
    events: listAt(get(s, "events"), `${path}.events`).map((item, i) => event(item, `${path}.events[${i}]`, budget)),
    links: listAt(get(s, "links"), `${path}.links`).map((item, i) => link(item, `${path}.links[${i}]`, budget)),
  };
}

function event(value: unknown, path: string, budget: DecodeBudget): Event {
  budget.value();
  const e = objectAt(value, path);
  const name = get(e, "name");
  if (name !== undefined && typeof name !== "string") throw new ShapeError(`${path}.name`, "expected a string");
  return { name: name ?? "", time: timeAt(get(e, "timeUnixNano", "time_unix_nano"), `${path}.timeUnixNano`), attributes: keyValues(get(e, "attributes"), `${path}.attributes`, budget, 1) };
}

function link(value: unknown, path: string, budget: DecodeBudget): Link {
  budget.value();
  const l = objectAt(value, path);
  return {
    traceId: idAt(get(l, "traceId", "trace_id"), 16, `${path}.traceId`),
    spanId: idAt(get(l, "spanId", "span_id"), 8, `${path}.spanId`),
    attributes: keyValues(get(l, "attributes"), `${path}.attributes`, budget, 1),
  };
}

/** A `repeated KeyValue` as an object; a later duplicate key wins, as it would in a map. */
function keyValues(value: unknown, path: string, budget: DecodeBudget, depth: number): JsonObject {
  const out: JsonObject = {};
  listAt(value, path).forEach((item, i) => {
    budget.value();
    const kv = objectAt(item, `${path}[${i}]`);
    const key = get(kv, "key") ?? "";
    if (typeof key !== "string") throw new ShapeError(`${path}[${i}].key`, "expected a string");
    setAttribute(out, key, anyValue(get(kv, "value"), `${path}[${i}].value`, budget, depth));
  });
  return out;
}

/** An AnyValue: `{}` (or none) is null; a proto3 JSON parser would reject several values set, we take the first. */
function anyValue(value: unknown, path: string, budget: DecodeBudget, depth: number): JsonValue {
  if (value === undefined || value === null) return null;
  const v = objectAt(value, path);
  let x: unknown;
  if ((x = get(v, "stringValue", "string_value")) !== undefined) {
    if (typeof x !== "string") throw new ShapeError(`${path}.stringValue`, "expected a string");
    return x;
  }
  if ((x = get(v, "boolValue", "bool_value")) !== undefined) {
    if (typeof x !== "boolean") throw new ShapeError(`${path}.boolValue`, "expected a boolean");
    return x;
  }
  if ((x = get(v, "intValue", "int_value")) !== undefined) return int64Json(int64At(x, `${path}.intValue`));
  if ((x = get(v, "doubleValue", "double_value")) !== undefined) return doubleAt(x, `${path}.doubleValue`);
  if ((x = get(v, "arrayValue", "array_value")) !== undefined) {
    budget.depth(depth + 1, `${path}.arrayValue`);
    const items = x === null ? [] : listAt(get(objectAt(x, `${path}.arrayValue`), "values"), `${path}.arrayValue.values`);
    return items.map((item, i) => {
      budget.value();
      return anyValue(item, `${path}.arrayValue.values[${i}]`, budget, depth + 1);
    });
  }
  if ((x = get(v, "kvlistValue", "kvlist_value")) !== undefined) {
    budget.depth(depth + 1, `${path}.kvlistValue`);
    return x === null ? {} : keyValues(get(objectAt(x, `${path}.kvlistValue`), "values"), `${path}.kvlistValue.values`, budget, depth + 1);
  }
  if ((x = get(v, "bytesValue", "bytes_value")) !== undefined) {
    if (typeof x !== "string" || !BASE64.test(x)) throw new ShapeError(`${path}.bytesValue`, "expected base64");
    return Buffer.from(x, "base64").toString("hex");
  }
  return null;
}

// ---- scalars ----------------------------------------------------------------------------------

const HEX = /^[0-9a-fA-F]*$/;
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;
const UINT64_MAX = (1n << 64n) - 1n;
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

const SPAN_KIND_NAMES: ReadonlyMap<string, number> = new Map(
  ["UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER"].map((name, code) => [`SPAN_KIND_${name}`, code]),
);
const STATUS_CODE_NAMES: ReadonlyMap<string, number> = new Map(["UNSET", "OK", "ERROR"].map((name, code) => [`STATUS_CODE_${name}`, code]));

/**
 * An id of `bytes` bytes as lowercase hex: hex as OTLP/JSON specifies, or base64 when it decodes
 * to exactly that length (the two cannot be confused: the lengths differ). Anything else is
 * returned as sent, for the span schema to reject with its own message. Absent is "".
 */
function idAt(value: unknown, bytes: number, path: string): string {
  if (value === undefined || value === null) return "";
  if (typeof value !== "string") throw new ShapeError(path, "expected a hex string");
  if (value.length === bytes * 2 && HEX.test(value)) return value.toLowerCase();
  if (value.length > 0 && value.length <= 4 * Math.ceil(bytes / 3) && BASE64.test(value)) {
    const decoded = Buffer.from(value, "base64");
    if (decoded.length === bytes) return decoded.toString("hex");
  }
  return value;
}

/** A `fixed64` nanosecond timestamp (decimal string or number) as epoch milliseconds; absent is 0, as in proto3. */
function timeAt(value: unknown, path: string): number {
  if (value === undefined || value === null) return 0;
  if (typeof value === "string" && /^\d{1,20}$/.test(value)) {
    const nanos = BigInt(value);
    if (nanos <= UINT64_MAX) return unixNanoToMs(nanos);
  } else if (typeof value === "number" && Number.isInteger(value) && value >= 0) {
    // A JSON number past 2^53 has already lost its last digits in parsing; divide as a float.
    return Number.isSafeInteger(value) ? unixNanoToMs(BigInt(value)) : value / 1e6;
  }
  throw new ShapeError(path, "expected nanoseconds since the epoch (a non-negative integer or decimal string)");
}

function int64At(value: unknown, path: string): number | bigint {
  if (typeof value === "number" && Number.isInteger(value) && Math.abs(value) <= 2 ** 63) return value;
  if (typeof value === "string" && /^-?\d{1,20}$/.test(value)) {
    const n = BigInt(value);
    if (n >= INT64_MIN && n <= INT64_MAX) return Number.isSafeInteger(Number(n)) ? Number(n) : n;
  }
  throw new ShapeError(path, "expected a 64-bit integer (a number or decimal string)");
}

/** A double: a number, or (proto3 JSON) "NaN", "Infinity", "-Infinity" or a numeric string. `null` — what JSON.stringify makes of NaN — is null. */
function doubleAt(value: unknown, path: string): JsonValue {
  if (value === null) return null;
  if (typeof value === "number") return value;
  if (typeof value === "string") {
    if (value === "NaN" || value === "Infinity" || value === "-Infinity") return value;
    const n = Number(value);
    if (value.trim() !== "" && Number.isFinite(n)) return doubleJson(n);
  }
  throw new ShapeError(path, "expected a number");
}

/** An enum as its number or proto name; absent is 0. */
function enumAt(value: unknown, names: ReadonlyMap<string, number>, path: string): number {
  if (value === undefined || value === null) return 0;
  if (typeof value === "number" && Number.isInteger(value)) return value;
  if (typeof value === "string") {
    const code = names.get(value);
    if (code !== undefined) return code;
  }
  throw new ShapeError(path, `expected a number or one of ${[...names.keys()].join(", ")}`);
}

// ---- structure --------------------------------------------------------------------------------

function objectAt(value: unknown, path: string): Fields {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new ShapeError(path, "expected an object");
  return value as Fields;
}

/** A repeated field: absent (or null) is empty. */
function listAt(value: unknown, path: string): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new ShapeError(path, "expected an array");
  return value;
}

/** A field by its JSON name or its proto name; own properties only, so `constructor` and friends are never read from the prototype. */
function get(fields: Fields, name: string, protoName?: string): unknown {
  if (Object.hasOwn(fields, name)) return fields[name];
  return protoName !== undefined && Object.hasOwn(fields, protoName) ? fields[protoName] : undefined;
}
