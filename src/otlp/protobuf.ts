/**
 * OTLP/HTTP protobuf for traces: decodes an `ExportTraceServiceRequest` and encodes the
 * `ExportTraceServiceResponse`. Field numbers are those of opentelemetry-proto
 * (`collector/trace/v1/trace_service.proto`, `trace/v1/trace.proto`, `common/v1/common.proto`,
 * `resource/v1/resource.proto`); fields we do not use (trace state, flags, dropped counts,
 * instrumentation scopes, schema URLs) and fields newer than these are skipped by wire type.
 */
import type { JsonObject, JsonValue } from "../types/index.js";
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
import { ProtobufReader } from "./protobuf-reader.js";

type Event = NonNullable<DecodedSpan["events"]>[number];
type Link = NonNullable<DecodedSpan["links"]>[number];

/** Decodes a protobuf `ExportTraceServiceRequest`; a malformed body throws ValidationError, an oversized one payload_too_large. */
export function decodeTraceRequestProtobuf(body: Uint8Array, budget = new DecodeBudget()): DecodedResourceSpans[] {
  const reader = new ProtobufReader(body);
  const out: DecodedResourceSpans[] = [];
  while (reader.more()) {
    reader.nextTag();
    if (reader.field === 1) out.push(reader.message(() => resourceSpans(reader, budget)));
    else reader.skip();
  }
  return out;
}

/**
 * `ExportTraceServiceResponse`: empty on full success (the spec asks that `partial_success` be
 * left unset), else `partial_success { rejected_spans = 1; error_message = 2 }`.
 */
export function encodeTraceResponseProtobuf(rejectedSpans: number, errorMessage: string): Buffer {
  if (rejectedSpans === 0) return Buffer.alloc(0);
  const text = Buffer.from(errorMessage, "utf8");
  const partial = Buffer.concat([Buffer.from([0x08]), varint(rejectedSpans), Buffer.from([0x12]), varint(text.length), text]);
  return Buffer.concat([Buffer.from([0x0a]), varint(partial.length), partial]);
}

function varint(value: number): Buffer {
  const bytes: number[] = [];
  let rest = value;
  while (rest > 0x7f) {
    bytes.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

// ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; string schema_url = 3; }
function resourceSpans(reader: ProtobufReader, budget: DecodeBudget): DecodedResourceSpans {
  const decoded: DecodedResourceSpans = { attributes: {}, spans: [] };
  while (reader.more()) {
    reader.nextTag();
    if (reader.field === 1) reader.message(() => resource(reader, budget, decoded.attributes));
    else if (reader.field === 2) reader.message(() => scopeSpans(reader, budget, decoded.spans));
    else reader.skip();
  }
  return decoded;
}

// Resource { repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2; … }
function resource(reader: ProtobufReader, budget: DecodeBudget, attributes: JsonObject): void {
  while (reader.more()) {
    reader.nextTag();
    if (reader.field === 1) reader.message(() => keyValue(reader, budget, attributes, 1));
    else reader.skip();
  }
}

// ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; string schema_url = 3; }
function scopeSpans(reader: ProtobufReader, budget: DecodeBudget, spans: DecodedResourceSpans["spans"]): void {
  while (reader.more()) {
    reader.nextTag();
    if (reader.field === 2) {
      budget.span();
      spans.push(reader.message(() => span(reader, budget)));
    } else reader.skip();
  }
}

/*
 * Span { bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; bytes parent_span_id = 4;
 *   string name = 5; SpanKind kind = 6; fixed64 start_time_unix_nano = 7; fixed64 end_time_unix_nano = 8;
 *   repeated KeyValue attributes = 9; uint32 dropped_attributes_count = 10; repeated Event events = 11;
 *   uint32 dropped_events_count = 12; repeated Link links = 13; uint32 dropped_links_count = 14;
 *   Status status = 15; fixed32 flags = 16; }
 */
function span(reader: ProtobufReader, budget: DecodeBudget): DecodedSpan {
  let traceId = "";
  let spanId = "";
  let parentSpanId = "";
  let name = "";
  let kind = 0;
  let start = 0n;
  let end = 0n;
  let statusCode = 0;
  let statusMessage = "";
  const attributes: JsonObject = {};
  const events: Event[] = [];
  const links: Link[] = [];
  while (reader.more()) {
    reader.nextTag();
    switch (reader.field) {
      case 1:
        traceId = reader.hex();
        break;
      case 2:
        spanId = reader.hex();
        break;
      case 4:
        parentSpanId = reader.hex();
        break;
      case 5:
        name = reader.string();
        break;
      case 6:
        kind = reader.uint32();
        break;
      case 7:
        start = reader.fixed64();
        break;
      case 8:
        end = reader.fixed64();
        break;
      case 9:
        reader.message(() => keyValue(reader, budget, attributes, 1));
        break;
      case 11:
        budget.value();
        events.push(reader.message(() => event(reader, budget)));
        break;
      case 13:
        budget.value();
        links.push(reader.message(() => link(reader, budget)));
        break;
      case 15:
        // Status { string message = 2; StatusCode code = 3; } (field 1 is the deprecated code)
        reader.message(() => {
          while (reader.more()) {
            reader.nextTag();
            if (reader.field === 2) statusMessage = reader.string();
            else if (reader.field === 3) statusCode = reader.uint32();
            else reader.skip();
          }
        });
        break;
      default:
        reader.skip();
    }
  }
  return {
    traceId,
    spanId,
    parentId: parentIdOf(parentSpanId),
    name,
    kind: spanKindOf(kind),
    startTime: unixNanoToMs(start),
    endTime: unixNanoToMs(end),
    status: spanStatusOf(statusCode, statusMessage),
    attributes,
    events,
    links,
  };
}

// Event { fixed64 time_unix_nano = 1; string name = 2; repeated KeyValue attributes = 3; uint32 dropped_attributes_count = 4; }
function event(reader: ProtobufReader, budget: DecodeBudget): Event {
  let time = 0n;
  let name = "";
  const attributes: JsonObject = {};
  while (reader.more()) {
    reader.nextTag();
    if (reader.field === 1) time = reader.fixed64();
    else if (reader.field === 2) name = reader.string();
    else if (reader.field === 3) reader.message(() => keyValue(reader, budget, attributes, 1));
    else reader.skip();
  }
  return { name, time: unixNanoToMs(time), attributes };
}

// Link { bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; repeated KeyValue attributes = 4; … fixed32 flags = 6; }
function link(reader: ProtobufReader, budget: DecodeBudget): Link {
  let traceId = "";
  let spanId = "";
  const attributes: JsonObject = {};
  while (reader.more()) {
    reader.nextTag();
    if (reader.field === 1) traceId = reader.hex();
    else if (reader.field === 2) spanId = reader.hex();
    else if (reader.field === 4) reader.message(() => keyValue(reader, budget, attributes, 1));
    else reader.skip();
  }
  return { traceId, spanId, attributes };
}

// KeyValue { string key = 1; AnyValue value = 2; } — an absent value is the empty AnyValue (null).
function keyValue(reader: ProtobufReader, budget: DecodeBudget, into: JsonObject, depth: number): void {
  budget.value();
  let key = "";
  let value: JsonValue = null;
  while (reader.more()) {
    reader.nextTag();
    if (reader.field === 1) key = reader.string();
    else if (reader.field === 2) value = reader.message(() => anyValue(reader, budget, depth));
    else reader.skip();
  }
  setAttribute(into, key, value);
}

/*
 * AnyValue { oneof value { string string_value = 1; bool bool_value = 2; int64 int_value = 3;
 *   double double_value = 4; ArrayValue array_value = 5; KeyValueList kvlist_value = 6;
 *   bytes bytes_value = 7; } } — as JSON: lists become arrays, key-value lists objects, bytes hex.
 * As in any oneof, the last value on the wire wins; none set (or one we do not know) is null.
 */
function anyValue(reader: ProtobufReader, budget: DecodeBudget, depth: number): JsonValue {
  let value: JsonValue = null;
  while (reader.more()) {
    reader.nextTag();
    switch (reader.field) {
      case 1:
        value = reader.string();
        break;
      case 2:
        value = reader.bool();
        break;
      case 3:
        value = int64Json(reader.int64());
        break;
      case 4:
        value = doubleJson(reader.double());
        break;
      case 5: {
        // ArrayValue { repeated AnyValue values = 1; }
        budget.depth(depth + 1, "array_value");
        const items: JsonValue[] = [];
        reader.message(() => {
          while (reader.more()) {
            reader.nextTag();
            if (reader.field !== 1) {
              reader.skip();
              continue;
            }
            budget.value();
            items.push(reader.message(() => anyValue(reader, budget, depth + 1)));
          }
        });
        value = items;
        break;
      }
      case 6: {
        // KeyValueList { repeated KeyValue values = 1; }
        budget.depth(depth + 1, "kvlist_value");
        const object: JsonObject = {};
        reader.message(() => {
          while (reader.more()) {
            reader.nextTag();
            if (reader.field === 1) reader.message(() => keyValue(reader, budget, object, depth + 1));
            else reader.skip();
          }
        });
        value = object;
        break;
      }
      case 7:
        value = reader.hex();
        break;
      default:
        reader.skip();
    }
  }
  return value;
}
