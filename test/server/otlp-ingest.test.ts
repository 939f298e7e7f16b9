import { request } from "node:http";
import { gzipSync } from "node:zlib";
import { type Attributes, type DiagLogger, DiagLogLevel, type HrTime, SpanKind, SpanStatusCode, context, diag, trace } from "@opentelemetry/api";
import { OTLPTraceExporter as JsonExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as ProtoExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { CompressionAlgorithm } from "@opentelemetry/otlp-exporter-base";
import { ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, BatchSpanProcessor, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type JsonValue, type Span, type SpanInput, Tracer, type Transition, TracetrainError, ValidationError } from "tracetrain";
import { type AdapterDiagnostics, type AdapterSpan, adaptSpans, diagnose, toChatMessages, toTransitions } from "tracetrain/adapters";
import { createOtelSpanProcessor } from "tracetrain/otel";
import { MemoryStore } from "tracetrain/store";
import { type StoreServer, startStoreServer } from "tracetrain/server";
import { DecodeBudget, anyValue, anyValueToJson, decodeTraceRequestJson, decodeTraceRequestProtobuf } from "../../src/otlp/index.js";
import { Attr } from "../../src/types/conventions.js";
import { createOtlpSink } from "../../src/tracer/otlp-export.js";

// ---- HTTP and protobuf helpers ----------------------------------------------------------------

interface Answer {
  status: number;
  body: Buffer;
  headers: Record<string, string | string[] | undefined>;
}

/** A raw POST, so tests can send what no exporter would. */
function post(url: string, path: string, body: string | Buffer, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, url), { method: "POST", headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), headers: res.headers }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

const postJson = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  post(url, "/v1/traces", typeof body === "string" ? body : JSON.stringify(body), { "content-type": "application/json", ...headers });
const postProto = (url: string, body: Buffer, headers: Record<string, string> = {}) => post(url, "/v1/traces", body, { "content-type": "application/x-protobuf", ...headers });
const json = (answer: Answer): unknown => JSON.parse(answer.body.toString("utf8"));
const errorCode = (answer: Answer): unknown => (json(answer) as { error: { code: string } }).error.code;

/** A minimal protobuf writer for hand-made (and hand-broken) requests. */
const pb = {
  varint(value: number | bigint): Buffer {
    let rest = BigInt.asUintN(64, BigInt(value));
    const bytes: number[] = [];
    while (rest > 0x7fn) {
      bytes.push(Number(rest & 0x7fn) | 0x80);
      rest >>= 7n;
    }
    bytes.push(Number(rest));
    return Buffer.from(bytes);
  },
  tag: (field: number, wire: number) => pb.varint((field << 3) | wire),
  len: (field: number, ...parts: Buffer[]) => {
    const payload = Buffer.concat(parts);
    return Buffer.concat([pb.tag(field, 2), pb.varint(payload.length), payload]);
  },
  str: (field: number, text: string) => pb.len(field, Buffer.from(text, "utf8")),
  hex: (field: number, hex: string) => pb.len(field, Buffer.from(hex, "hex")),
  uint: (field: number, value: number | bigint) => Buffer.concat([pb.tag(field, 0), pb.varint(value)]),
  fixed64: (field: number, value: bigint) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(value);
    return Buffer.concat([pb.tag(field, 1), b]);
  },
  double: (field: number, value: number) => {
    const b = Buffer.alloc(8);
    b.writeDoubleLE(value);
    return Buffer.concat([pb.tag(field, 1), b]);
  },
  fixed32: (field: number, value: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(value);
    return Buffer.concat([pb.tag(field, 5), b]);
  },
  /** KeyValue at `field` (9 on a span, 1 on a resource, 3 on an event, …). */
  kv: (field: number, key: string, value: Buffer) => pb.len(field, pb.str(1, key), pb.len(2, value)),
  request: (resources: Buffer[]) => Buffer.concat(resources.map((r) => pb.len(1, r))),
  resourceSpans: (resourceAttributes: Buffer[], spans: Buffer[]) => Buffer.concat([pb.len(1, ...resourceAttributes), pb.len(2, pb.len(1, pb.str(1, "scope")), ...spans.map((s) => pb.len(2, s)))]),
  span: (fields: { traceId?: string; spanId: string; name: string; start?: bigint; end?: bigint; extra?: Buffer[] }) =>
    Buffer.concat([
      pb.hex(1, fields.traceId ?? TRACE),
      pb.hex(2, fields.spanId),
      pb.str(5, fields.name),
      pb.fixed64(7, fields.start ?? 1_700_000_000_000_000_000n),
      pb.fixed64(8, fields.end ?? 1_700_000_000_250_000_000n),
      ...(fields.extra ?? []),
    ]),
};
const anyString = (s: string) => pb.str(1, s);

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const hr = (seconds: number, nanos: number): HrTime => [seconds, nanos];
const hrMs = ([s, n]: HrTime) => s * 1000 + Math.floor(n / 1e6) + (n % 1e6) / 1e6;

/** A JSON span for hand-made requests. */
function jsonSpan(spanId: string, name: string, attributes: Record<string, string> = {}): Record<string, unknown> {
  return {
    traceId: TRACE,
    spanId,
    name,
    kind: 1,
    startTimeUnixNano: "1700000000000000000",
    endTimeUnixNano: "1700000000250000000",
    attributes: Object.entries(attributes).map(([key, value]) => ({ key, value: { stringValue: value } })),
  };
}
const idAttributes = (rolloutId: string, attemptId: string) => ({ [Attr.rolloutId]: rolloutId, [Attr.attemptId]: attemptId });
function jsonRequest(resources: Array<{ attributes?: Record<string, string>; spans: Array<Record<string, unknown>> }>): unknown {
  return {
    resourceSpans: resources.map((r) => ({
      resource: { attributes: Object.entries(r.attributes ?? {}).map(([key, value]) => ({ key, value: { stringValue: value } })) },
      scopeSpans: [{ scope: { name: "hand" }, spans: r.spans }],
    })),
  };
}

// ---- set-up -----------------------------------------------------------------------------------

let store: MemoryStore;
let server: StoreServer;
let rolloutId: string;
let attemptId: string;

beforeAll(async () => {
  store = new MemoryStore({ watchdogIntervalMs: false });
  server = await startStoreServer({ store, port: 0 });
});
afterAll(async () => {
  await server.close();
  await store.close();
});
beforeEach(async () => {
  const started = await store.startRollout({ input: { task: "otlp" } });
  rolloutId = started.rollout.rolloutId;
  attemptId = started.attempt.attemptId;
});

async function spansOf(id = rolloutId): Promise<Map<string, Span>> {
  const page = await store.querySpans({ rolloutId: id, limit: 1000 });
  return new Map(page.items.map((s) => [s.name, s]));
}

// ---- the real OpenTelemetry exporters ---------------------------------------------------------

/** Captures what the OTel SDK reports through `diag`: export errors and partial-success warnings. */
function captureDiag(): { warnings: string[]; errors: string[] } {
  const seen = { warnings: [] as string[], errors: [] as string[] };
  const text = (args: unknown[]) => args.map((a) => (typeof a === "string" ? a : a instanceof Error ? a.message : JSON.stringify(a))).join(" ");
  const logger: DiagLogger = {
    error: (...args) => void seen.errors.push(text(args)),
    warn: (...args) => void seen.warnings.push(text(args)),
    info: () => undefined,
    debug: () => undefined,
    verbose: () => undefined,
  };
  diag.setLogger(logger, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
  return seen;
}

const EXPORTERS = [
  ["http/json", (url: string, gzip: boolean, headers?: Record<string, string>) => new JsonExporter({ url, ...(gzip ? { compression: CompressionAlgorithm.GZIP } : {}), ...(headers ? { headers } : {}) })],
  ["http/protobuf", (url: string, gzip: boolean, headers?: Record<string, string>) => new ProtoExporter({ url, ...(gzip ? { compression: CompressionAlgorithm.GZIP } : {}), ...(headers ? { headers } : {}) })],
] as const;

const SPAN_ATTRIBUTES: Attributes = {
  "str": "hello",
  "int": 42,
  "neg": -7,
  "big": 2 ** 40,
  "huge": 2 ** 60,
  "dbl": 0.25,
  "bool": true,
  "strs": ["a", "b"],
  "ints": [1, 2, 3],
  "dbls": [0.5, 1.5],
  "bools": [true, false],
  "holes": ["x", null, "z"],
};
/** How SPAN_ATTRIBUTES come out: JSON as sent, except an int64 past 2^53 keeps its digits as a string. */
const SPAN_ATTRIBUTES_STORED = { ...SPAN_ATTRIBUTES, huge: "1152921504606846976" };

const START = hr(1_700_000_000, 123_456_789);
const CHILD_START = hr(1_700_000_000, 200_000_000);
const EVENT_TIME = hr(1_700_000_000, 250_000_500);
const CHILD_END = hr(1_700_000_000, 300_000_000);
const END = hr(1_700_000_001, 5);
const LINKED = { traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331", traceFlags: 1 };

/** A parent and a failing child with an event and a link; returns their OTel contexts. */
function recordAgentRun(provider: BasicTracerProvider, extra: Attributes = {}) {
  const tracer = provider.getTracer("test-agent", "1.2.3");
  const parent = tracer.startSpan("agent run", { kind: SpanKind.SERVER, startTime: START, attributes: { ...SPAN_ATTRIBUTES, ...extra } });
  const child = tracer.startSpan(
    "chat gpt-test",
    { kind: SpanKind.CLIENT, startTime: CHILD_START, attributes: { "gen_ai.request.model": "gpt-test", ...extra }, links: [{ context: LINKED, attributes: { "link.why": "retry of" } }] },
    trace.setSpan(context.active(), parent),
  );
  child.addEvent("first token", { index: 1, "token.text": "Hel" }, EVENT_TIME);
  child.setStatus({ code: SpanStatusCode.ERROR, message: "boom" });
  child.end(CHILD_END);
  parent.setStatus({ code: SpanStatusCode.OK });
  parent.end(END);
  return { parent: parent.spanContext(), child: child.spanContext() };
}

function expectAgentRun(spans: Map<string, Span>, ids: ReturnType<typeof recordAgentRun>, common: Record<string, unknown>): void {
  const parent = spans.get("agent run")!;
  const child = spans.get("chat gpt-test")!;
  expect(parent).toBeDefined();
  expect(child).toBeDefined();
  expect(parent).toMatchObject({ rolloutId, attemptId, traceId: ids.parent.traceId, spanId: ids.parent.spanId, parentId: null, kind: "server" });
  expect(parent.startTime).toBe(hrMs(START));
  expect(parent.endTime).toBe(hrMs(END));
  expect(parent.status).toEqual({ code: "ok" });
  expect(parent.attributes).toEqual({ ...common, ...SPAN_ATTRIBUTES_STORED });
  expect(parent.events).toEqual([]);
  expect(parent.links).toEqual([]);

  expect(child).toMatchObject({ rolloutId, attemptId, traceId: ids.parent.traceId, spanId: ids.child.spanId, parentId: ids.parent.spanId, kind: "client" });
  expect(child.startTime).toBe(hrMs(CHILD_START));
  expect(child.endTime).toBe(hrMs(CHILD_END));
  expect(child.status).toEqual({ code: "error", message: "boom" });
  expect(child.attributes).toEqual({ ...common, "gen_ai.request.model": "gpt-test" });
  expect(child.events).toEqual([{ name: "first token", time: hrMs(EVENT_TIME), attributes: { index: 1, "token.text": "Hel" } }]);
  expect(child.links).toEqual([{ traceId: LINKED.traceId, spanId: LINKED.spanId, attributes: { "link.why": "retry of" } }]);
  // The store numbers spans as they arrive. SimpleSpanProcessor exports each span in a request of
  // its own as it ends, and two requests in flight may arrive in either order (gzip makes that
  // likely), so only distinct, store-assigned numbers can be asserted here.
  expect([child.sequence, parent.sequence].every((n) => Number.isInteger(n) && n > 0)).toBe(true);
  expect(child.sequence).not.toBe(parent.sequence);
}

describe.each(EXPORTERS)("OTLP ingest from the OpenTelemetry %s exporter", (_name, makeExporter) => {
  let seen: ReturnType<typeof captureDiag>;
  beforeEach(() => {
    seen = captureDiag();
  });
  afterEach(() => {
    diag.disable();
  });

  it("stores spans whose rollout ids are resource attributes, field by field", async () => {
    const resource = {
      "service.name": "checkout-agent",
      ...idAttributes(rolloutId, attemptId),
      // Resource attributes are not sanitized by the SDK, so the exporters send these as kvlist and bytes.
      deployment: { region: "eu-west", replicas: 3, tags: ["a", "b"] },
      "build.digest": new Uint8Array([0xde, 0xad, 0xbe, 0xef]),
    };
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes(resource as unknown as Attributes),
      spanProcessors: [new SimpleSpanProcessor(makeExporter(`${server.url}/v1/traces`, false))],
    });
    const before = server.metrics.spansIngested;
    const ids = recordAgentRun(provider);
    await provider.forceFlush();
    await provider.shutdown();
    expect(seen.errors).toEqual([]);
    expect(seen.warnings).toEqual([]);
    expectAgentRun(await spansOf(), ids, {
      "service.name": "checkout-agent",
      ...idAttributes(rolloutId, attemptId),
      deployment: { region: "eu-west", replicas: 3, tags: ["a", "b"] },
      "build.digest": "deadbeef",
    });
    expect(server.metrics.spansIngested - before).toBe(2);
  });

  it("takes the ids from span attributes, which win over the resource's", async () => {
    const other = await store.startRollout({ input: "other" });
    const provider = new BasicTracerProvider({
      // The resource names another rollout and shares a key with the spans: the span's values win.
      resource: resourceFromAttributes({ "service.name": "svc", ...idAttributes(other.rollout.rolloutId, other.attempt.attemptId), shared: "resource" }),
      spanProcessors: [new SimpleSpanProcessor(makeExporter(`${server.url}/v1/traces`, false))],
    });
    const ids = recordAgentRun(provider, { ...idAttributes(rolloutId, attemptId), shared: "span" });
    await provider.forceFlush();
    await provider.shutdown();
    expect(seen.errors).toEqual([]);
    const spans = await spansOf();
    const common = { "service.name": "svc", ...idAttributes(rolloutId, attemptId), shared: "span" };
    expect(spans.get("agent run")!.attributes).toEqual({ ...common, ...SPAN_ATTRIBUTES_STORED });
    expect(spans.get("chat gpt-test")!.attributes).toEqual({ ...common, "gen_ai.request.model": "gpt-test" });
    expect(spans.get("chat gpt-test")!.parentId).toBe(ids.parent.spanId);
    expect((await spansOf(other.rollout.rolloutId)).size).toBe(0);
  });

  it("accepts gzip-compressed requests", async () => {
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes(idAttributes(rolloutId, attemptId)),
      spanProcessors: [new SimpleSpanProcessor(makeExporter(`${server.url}/v1/traces`, true))],
    });
    const ids = recordAgentRun(provider);
    await provider.forceFlush();
    await provider.shutdown();
    expect(seen.errors).toEqual([]);
    expectAgentRun(await spansOf(), ids, idAttributes(rolloutId, attemptId));
  });

  it("reports rejected spans as a partial success the exporter understands", async () => {
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ "service.name": "no-ids" }),
      spanProcessors: [new SimpleSpanProcessor(makeExporter(`${server.url}/v1/traces`, false))],
    });
    provider.getTracer("t").startSpan("orphan").end();
    await provider.forceFlush();
    await provider.shutdown();
    expect(seen.errors).toEqual([]);
    expect(seen.warnings).toHaveLength(1);
    expect(seen.warnings[0]).toMatch(/Partial Success/);
    const partial = JSON.parse(seen.warnings[0]!.slice(seen.warnings[0]!.indexOf("{"))) as { rejectedSpans: unknown; errorMessage: string };
    expect(Number(partial.rejectedSpans)).toBe(1);
    expect(partial.errorMessage).toMatch(/^1 of 1 span rejected: span 'orphan' \([0-9a-f]{16}\): no tracetrain\.rollout_id or tracetrain\.attempt_id attribute/);
  });
});

// ---- hand-made requests -----------------------------------------------------------------------

describe("OTLP ingest of hand-made requests", () => {
  it("rejects spans without ids through partial success and stores the others (JSON)", async () => {
    const before = server.metrics.otlpSpansRejected;
    const answer = await postJson(
      server.url,
      jsonRequest([
        { attributes: { "service.name": "mixed" }, spans: [jsonSpan("00000000000000a1", "no ids"), jsonSpan("00000000000000a2", "has ids", idAttributes(rolloutId, attemptId))] },
        { spans: [jsonSpan("00000000000000a3", "only rollout", { [Attr.rolloutId]: rolloutId })] },
      ]),
    );
    expect(answer.status).toBe(200);
    expect(answer.headers["content-type"]).toMatch(/^application\/json/);
    const body = json(answer) as { partialSuccess: { rejectedSpans: string; errorMessage: string } };
    expect(body.partialSuccess.rejectedSpans).toBe("2");
    expect(body.partialSuccess.errorMessage).toBe(
      "2 of 3 spans rejected: span 'no ids' (00000000000000a1): no tracetrain.rollout_id or tracetrain.attempt_id attribute (set it on the span or on its resource); " +
        "span 'only rollout' (00000000000000a3): no tracetrain.attempt_id attribute (set it on the span or on its resource)",
    );
    const spans = await spansOf();
    expect([...spans.keys()]).toEqual(["has ids"]);
    expect(spans.get("has ids")!.attributes).toEqual({ "service.name": "mixed", ...idAttributes(rolloutId, attemptId) });
    expect(server.metrics.otlpSpansRejected - before).toBe(2);
  });

  it("answers a fully accepted JSON request with an empty response and a protobuf one with an empty body", async () => {
    const ok = await postJson(server.url, jsonRequest([{ attributes: idAttributes(rolloutId, attemptId), spans: [jsonSpan("00000000000000b1", "fine")] }]));
    expect(ok.status).toBe(200);
    expect(json(ok)).toEqual({});
    const proto = await postProto(server.url, pb.request([pb.resourceSpans([pb.kv(1, Attr.rolloutId, anyString(rolloutId)), pb.kv(1, Attr.attemptId, anyString(attemptId))], [pb.span({ spanId: "00000000000000b2", name: "fine too" })])]));
    expect(proto.status).toBe(200);
    expect(proto.headers["content-type"]).toBe("application/x-protobuf");
    expect(proto.body.length).toBe(0);
    expect([...(await spansOf()).keys()].sort()).toEqual(["fine", "fine too"]);
  });

  it("rejects spans of unknown rollouts and attempts, and stores the others", async () => {
    const answer = await postJson(
      server.url,
      jsonRequest([
        { attributes: idAttributes(rolloutId, attemptId), spans: [jsonSpan("00000000000000c1", "good 1"), jsonSpan("00000000000000c2", "good 2")] },
        { attributes: idAttributes(rolloutId, "at-nope"), spans: [jsonSpan("00000000000000c3", "bad attempt"), jsonSpan("00000000000000c4", "bad attempt 2")] },
        { attributes: idAttributes("ro-nope", attemptId), spans: [jsonSpan("00000000000000c5", "bad rollout")] },
      ]),
    );
    expect(answer.status).toBe(200);
    const body = json(answer) as { partialSuccess: { rejectedSpans: string; errorMessage: string } };
    expect(body.partialSuccess.rejectedSpans).toBe("3");
    expect(body.partialSuccess.errorMessage).toMatch(/^3 of 5 spans rejected: 2 spans: attempt 'at-nope' not found in rollout '.+'; attempt '.+' not found in rollout 'ro-nope'$/);
    expect([...(await spansOf()).keys()].sort()).toEqual(["good 1", "good 2"]);

    // Only unknown ones: all rejected, still a 200 (retrying would not help), in protobuf.
    const proto = await postProto(server.url, pb.request([pb.resourceSpans([pb.kv(1, Attr.rolloutId, anyString("ro-nope")), pb.kv(1, Attr.attemptId, anyString("at-nope"))], [pb.span({ spanId: "00000000000000c6", name: "lost" })])]));
    expect(proto.status).toBe(200);
    const response = ProtobufTraceSerializer.deserializeResponse(proto.body);
    expect(Number(response.partialSuccess?.rejectedSpans)).toBe(1);
    expect(response.partialSuccess?.errorMessage).toBe("1 of 1 span rejected: attempt 'at-nope' not found in rollout 'ro-nope'");
  });

  it("rejects spans the span schema refuses, one by one", async () => {
    const ids = idAttributes(rolloutId, attemptId);
    const backwards = { ...jsonSpan("00000000000000d2", "backwards", ids), endTimeUnixNano: "1600000000000000000" };
    const zeroTrace = { ...jsonSpan("00000000000000d3", "zero trace", ids), traceId: "0".repeat(32) };
    const unnamed = { ...jsonSpan("00000000000000d4", "", ids) };
    const wrongType = { ...jsonSpan("00000000000000d5", "wrong type", ids), kind: "sideways" };
    const answer = await postJson(server.url, jsonRequest([{ spans: [jsonSpan("00000000000000d1", "valid", ids), backwards, zeroTrace, unnamed, wrongType] }]));
    expect(answer.status).toBe(200);
    const { partialSuccess } = json(answer) as { partialSuccess: { rejectedSpans: string; errorMessage: string } };
    expect(partialSuccess.rejectedSpans).toBe("4");
    expect(partialSuccess.errorMessage).toContain("span 'backwards' (00000000000000d2): endTime: endTime must not be before startTime");
    expect(partialSuccess.errorMessage).toContain("span 'zero trace' (00000000000000d3): traceId: expected 32 lowercase hex characters, not all zero");
    expect(partialSuccess.errorMessage).toContain("span '' (00000000000000d4): name:");
    expect(partialSuccess.errorMessage).toContain("resourceSpans[0].scopeSpans[0].spans[4].kind: expected a number or one of SPAN_KIND_UNSPECIFIED");
    expect([...(await spansOf()).keys()]).toEqual(["valid"]);
  });

  it("ignores a retried request: the store skips span ids it has", async () => {
    const body = jsonRequest([{ attributes: idAttributes(rolloutId, attemptId), spans: [jsonSpan("00000000000000e1", "once"), jsonSpan("00000000000000e2", "twice")] }]);
    const before = server.metrics.spansIngested;
    expect((await postJson(server.url, body)).status).toBe(200);
    const again = await postJson(server.url, body);
    expect(again.status).toBe(200);
    expect(json(again)).toEqual({});
    expect(server.metrics.spansIngested - before).toBe(2);
    expect((await store.querySpans({ rolloutId })).items).toHaveLength(2);
  });

  it("reads OTLP/JSON as other senders write it: proto field names, enum names, base64 ids, numeric times", async () => {
    const b64 = (hex: string) => Buffer.from(hex, "hex").toString("base64");
    const answer = await postJson(server.url, {
      resource_spans: [
        {
          resource: { attributes: [{ key: Attr.rolloutId, value: { string_value: rolloutId } }, { key: Attr.attemptId, value: { string_value: attemptId } }] },
          scope_spans: [
            {
              spans: [
                {
                  trace_id: b64(TRACE),
                  span_id: b64("00000000000000f1"),
                  parent_span_id: "00000000000000F0",
                  name: "snake",
                  kind: "SPAN_KIND_PRODUCER",
                  start_time_unix_nano: 1_700_000_000_000_000_000, // a JSON number past 2^53
                  end_time_unix_nano: "1700000000000500000",
                  status: { code: "STATUS_CODE_ERROR", message: "" },
                  attributes: [
                    { key: "n", value: { int_value: "-9007199254740993" } },
                    { key: "d", value: { double_value: "NaN" } },
                    { key: "b", value: { bytes_value: b64("cafe") } },
                    { key: "kv", value: { kvlist_value: { values: [{ key: "x", value: { array_value: { values: [{ bool_value: false }, {}] } } }] } } },
                    { key: "empty" },
                  ],
                  events: [{ time_unix_nano: "1700000000000250000", name: "e" }],
                },
              ],
            },
          ],
        },
      ],
    });
    expect(answer.status).toBe(200);
    expect(json(answer)).toEqual({});
    const span = (await spansOf()).get("snake")!;
    expect(span).toMatchObject({ traceId: TRACE, spanId: "00000000000000f1", parentId: "00000000000000f0", kind: "producer", status: { code: "error" } });
    expect(span.startTime).toBe(1_700_000_000_000);
    expect(span.endTime).toBe(1_700_000_000_000.5);
    expect(span.attributes).toEqual({ ...idAttributes(rolloutId, attemptId), n: "-9007199254740993", d: "NaN", b: "cafe", kv: { x: [false, null] }, empty: null });
    expect(span.events).toEqual([{ name: "e", time: 1_700_000_000_000.25, attributes: {} }]);
  });

  it("decodes every protobuf field it knows and skips the ones it does not", async () => {
    const unknownFields = Buffer.concat([pb.uint(99, 7), pb.fixed64(98, 1n), pb.fixed32(97, 1), pb.str(96, "later proto versions add fields")]);
    const any = {
      string: anyString("s"),
      bool: pb.uint(2, 1),
      int: pb.uint(3, 123),
      negative: pb.uint(3, -5),
      int64: pb.uint(3, -(2n ** 62n)),
      double: pb.double(4, 2.5),
      infinity: pb.double(4, -Infinity),
      array: pb.len(5, pb.len(1, anyString("a")), pb.len(1, pb.uint(3, 2)), pb.len(1)),
      kvlist: pb.len(6, pb.kv(1, "inner", pb.len(6, pb.kv(1, "deeper", pb.uint(2, 0)))), unknownFields),
      bytes: pb.hex(7, "00ff"),
      // A oneof with two values set: the last one on the wire wins, as in any protobuf decoder.
      lastWins: Buffer.concat([anyString("first"), pb.uint(3, 2)]),
    };
    const span = pb.span({
      spanId: "0000000000000101",
      name: "every field",
      extra: [
        pb.str(3, "vendor=state"), // trace_state
        pb.hex(4, "0000000000000100"),
        pb.uint(6, 4), // PRODUCER
        ...Object.entries(any).map(([key, value]) => pb.kv(9, key, value)),
        pb.uint(10, 3), // dropped_attributes_count
        pb.len(11, pb.fixed64(1, 1_700_000_000_100_250_000n), pb.str(2, "evt"), pb.kv(3, "k", anyString("v")), pb.uint(4, 0), unknownFields),
        pb.len(13, pb.hex(1, "0af7651916cd43dd8448eb211c80319c"), pb.hex(2, "b7ad6b7169203331"), pb.str(3, ""), pb.kv(4, "why", anyString("because")), pb.fixed32(6, 0x101)),
        pb.len(15, pb.uint(1, 2), pb.str(2, "it broke"), pb.uint(3, 2)),
        pb.fixed32(16, 0x301),
        unknownFields,
      ],
    });
    const body = Buffer.concat([
      pb.request([Buffer.concat([pb.len(1, pb.kv(1, Attr.rolloutId, anyString(rolloutId)), pb.kv(1, Attr.attemptId, anyString(attemptId)), pb.uint(2, 0), unknownFields), pb.len(2, pb.len(1, pb.str(1, "scope"), pb.str(2, "1.0")), pb.len(2, span), pb.str(3, "https://schema")), pb.str(3, "https://schema")])]),
      unknownFields,
    ]);
    const answer = await postProto(server.url, body);
    expect(answer.status).toBe(200);
    expect(answer.body.length).toBe(0);
    const stored = (await spansOf()).get("every field")!;
    expect(stored).toMatchObject({ traceId: TRACE, spanId: "0000000000000101", parentId: "0000000000000100", kind: "producer", status: { code: "error", message: "it broke" } });
    expect(stored.startTime).toBe(1_700_000_000_000);
    expect(stored.endTime).toBe(1_700_000_000_250);
    expect(stored.attributes).toEqual({
      ...idAttributes(rolloutId, attemptId),
      string: "s",
      bool: true,
      int: 123,
      negative: -5,
      int64: "-4611686018427387904",
      double: 2.5,
      infinity: "-Infinity",
      array: ["a", 2, null],
      kvlist: { inner: { deeper: false } },
      bytes: "00ff",
      lastWins: 2,
    });
    expect(stored.events).toEqual([{ name: "evt", time: 1_700_000_000_100.25, attributes: { k: "v" } }]);
    expect(stored.links).toEqual([{ traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331", attributes: { why: "because" } }]);
  });

  it("stores what tracetrain's own OTLP export sends, unchanged (AnyValue both ways)", async () => {
    const span: SpanInput = {
      rolloutId,
      attemptId,
      traceId: TRACE,
      spanId: "0000000000000201",
      parentId: "0000000000000200",
      name: "chat gpt-test",
      kind: "client",
      startTime: 1_700_000_000_000.25,
      endTime: 1_700_000_000_321.5,
      status: { code: "error", message: "rate limited" },
      attributes: {
        "gen_ai.input.messages": [{ role: "user", parts: [{ type: "text", content: "hi" }] }],
        "gen_ai.usage.input_tokens": 12,
        "tracetrain.llm.logprobs": [[-0.5, -1.25]],
        nothing: null,
        nested: { a: { b: [true, "x", 1.5] } },
      },
      events: [{ name: "gen_ai.content.first_chunk", time: 1_700_000_000_100, attributes: {} }],
      links: [{ traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331", attributes: { n: 1 } }],
    };
    await createOtlpSink({ url: server.url, serviceName: "round-trip" }).addSpans([span]);
    const { sequence, ...stored } = (await spansOf()).get("chat gpt-test")!;
    expect(sequence).toBe(1);
    expect(stored).toEqual({ ...span, attributes: { ...span.attributes, "service.name": "round-trip", ...idAttributes(rolloutId, attemptId) } });
    const values: JsonValue[] = [null, true, "s", 0, -3, 2.5, [], {}, [1, [2, { x: null }]], { "a.b": { c: ["d"] } }];
    for (const value of values) {
      expect(anyValueToJson(JSON.parse(JSON.stringify(anyValue(value))))).toEqual(value);
    }
  });
});

// ---- malformed requests -----------------------------------------------------------------------

describe("OTLP ingest of malformed requests", () => {
  async function expectHealthy(): Promise<void> {
    const answer = await postJson(server.url, jsonRequest([{ attributes: idAttributes(rolloutId, attemptId), spans: [jsonSpan(`${Math.floor(Math.random() * 1e15).toString(16).padStart(16, "1")}`, "after")] }]));
    expect(answer.status).toBe(200);
    expect(json(answer)).toEqual({});
  }

  const nest = (depth: number): Buffer => {
    let value = anyString("bottom");
    for (let i = 0; i < depth; i++) value = pb.len(5, pb.len(1, value));
    return value;
  };
  const inSpan = (attribute: Buffer) => pb.request([pb.resourceSpans([], [pb.span({ spanId: "0000000000000301", name: "x", extra: [pb.kv(9, "deep", attribute)] })])]);

  it("answers broken protobuf with 400, never 500, and stays healthy", async () => {
    const cases: Array<[string, Buffer, RegExp]> = [
      ["truncated varint", Buffer.from([0x0a, 0x80]), /truncated varint/],
      ["truncated tag", Buffer.from([0x80]), /truncated varint/],
      ["varint longer than 10 bytes", Buffer.concat([Buffer.from([0x28]), Buffer.alloc(9, 0xff), Buffer.from([0x81, 0x01])]), /longer than 10 bytes/],
      ["varint past 64 bits", Buffer.concat([Buffer.from([0x28]), Buffer.alloc(9, 0xff), Buffer.from([0x7f])]), /overflows 64 bits/],
      ["length past the end", Buffer.from([0x0a, 0x05, 0x01]), /runs past the end/],
      ["huge declared length", Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00]), /length 4294967295 .* runs past the end/],
      ["length past 4 GiB", Buffer.concat([Buffer.from([0x0a]), pb.varint(2n ** 62n)]), /over 4 GiB/],
      ["inner length past its message", pb.len(1, Buffer.from([0x12, 0x09, 0x01])), /runs past the end/],
      ["fixed64 cut short", Buffer.concat([pb.tag(9, 1), Buffer.alloc(4)]), /needs 8 bytes/],
      ["field number 0", Buffer.from([0x02, 0x00]), /invalid field number/],
      ["group wire type", Buffer.from([0x0b]), /unsupported wire type 3/],
      ["wire type 7", Buffer.from([0x0f]), /unsupported wire type 7/],
      ["known field, wrong wire type", pb.request([pb.resourceSpans([], [Buffer.concat([pb.uint(1, 5)])])]), /field 1 has wire type varint, expected length-delimited/],
      ["deep nesting", inSpan(nest(10_000)), /nested deeper than 32 levels/],
    ];
    for (const [name, body, message] of cases) {
      const answer = await postProto(server.url, body);
      expect(answer.status, name).toBe(400);
      expect(errorCode(answer), name).toBe("validation");
      expect((json(answer) as { error: { message: string } }).error.message, name).toMatch(message);
    }
    expect((await postProto(server.url, inSpan(nest(31)))).status).toBe(200); // within the limit: decoded (its span has no ids)
    await expectHealthy();
  });

  it("rejects every truncation and random corruption of a valid body with a 400-class error, never anything else", () => {
    const valid = pb.request([pb.resourceSpans([pb.kv(1, "k", pb.len(6, pb.kv(1, "x", pb.len(5, pb.len(1, pb.uint(3, -1))))))], [pb.span({ spanId: "0000000000000401", name: "fuzz", extra: [pb.kv(9, "d", pb.double(4, 1)), pb.len(11, pb.str(2, "e"))] })])]);
    expect(decodeTraceRequestProtobuf(valid)[0]!.spans).toHaveLength(1);
    const outcomes = new Map<string, number>();
    const attempt = (body: Buffer) => {
      try {
        decodeTraceRequestProtobuf(body);
        outcomes.set("decoded", (outcomes.get("decoded") ?? 0) + 1);
      } catch (error) {
        expect(error).toBeInstanceOf(TracetrainError);
        expect(["validation", "payload_too_large"]).toContain((error as TracetrainError).code);
        outcomes.set("rejected", (outcomes.get("rejected") ?? 0) + 1);
      }
    };
    for (let cut = 0; cut < valid.length; cut++) attempt(valid.subarray(0, cut));
    let seed = 42;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 5000; i++) {
      const body = Buffer.from(valid);
      for (let flips = 1 + Math.floor(random() * 3); flips > 0; flips--) body[Math.floor(random() * body.length)] = Math.floor(random() * 256);
      attempt(body);
    }
    for (let i = 0; i < 2000; i++) attempt(Buffer.from(Array.from({ length: Math.floor(random() * 64) }, () => Math.floor(random() * 256))));
    expect(outcomes.get("rejected")).toBeGreaterThan(1000);
  });

  it("limits what a small protobuf body may decode into (413)", async () => {
    // 2 bytes per empty event would be 10k objects per 20 kB: the budget stops it before the memory does.
    const events = Buffer.concat(Array.from({ length: 60 }, () => pb.len(11)));
    const body = pb.request([pb.resourceSpans([], [pb.span({ spanId: "0000000000000501", name: "many events", extra: [events] })])]);
    expect(() => decodeTraceRequestProtobuf(body, new DecodeBudget({ maxSpans: 10, maxValues: 50, maxDepth: 32 }))).toThrow(/more than 50 values/);
    const spans = pb.request([pb.resourceSpans([], Array.from({ length: 11 }, () => Buffer.alloc(0)))]);
    expect(() => decodeTraceRequestProtobuf(spans, new DecodeBudget({ maxSpans: 10, maxValues: 1000, maxDepth: 32 }))).toThrow(/more than 10 spans/);
    expect(() => decodeTraceRequestJson({ resourceSpans: [{ scopeSpans: [{ spans: Array.from({ length: 11 }, () => ({})) }] }] }, new DecodeBudget({ maxSpans: 10, maxValues: 1000, maxDepth: 32 }))).toThrow(/more than 10 spans/);
    // Over HTTP, with the default limit of 100,000 spans per request.
    const tooMany = pb.request([pb.resourceSpans([], Array.from({ length: 100_001 }, () => Buffer.alloc(0)))]);
    const answer = await postProto(server.url, tooMany);
    expect(answer.status).toBe(413);
    expect(errorCode(answer)).toBe("payload_too_large");
    await expectHealthy();
  });

  it("answers malformed JSON with 400, and a malformed span inside good JSON with a partial success", async () => {
    const cases: Array<[string, string]> = [
      ["not JSON", "{not json"],
      ["empty", ""],
      ["not an object", "[]"],
      ["resourceSpans not a list", JSON.stringify({ resourceSpans: 5 })],
      ["resource not an object", JSON.stringify({ resourceSpans: [{ resource: "x" }] })],
      ["resource attribute without a key", JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: 1 }] } }] })],
      ["spans not a list", JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: {} }] }] })],
      ["deep nesting", `{"resourceSpans":[{"resource":{"attributes":[{"key":"k","value":${'{"arrayValue":{"values":['.repeat(5000)}{}${"]}}".repeat(5000)}}]}}]}`],
    ];
    for (const [name, body] of cases) {
      const answer = await postJson(server.url, body);
      expect(answer.status, name).toBe(400);
      expect(errorCode(answer), name).toBe("validation");
    }
    const answer = await postJson(server.url, jsonRequest([{ attributes: idAttributes(rolloutId, attemptId), spans: [{ ...jsonSpan("0000000000000601", "odd"), startTimeUnixNano: "soon" }, jsonSpan("0000000000000602", "fine")] }]));
    expect(answer.status).toBe(200);
    expect((json(answer) as { partialSuccess: { errorMessage: string } }).partialSuccess.errorMessage).toBe(
      "1 of 2 spans rejected: resourceSpans[0].scopeSpans[0].spans[0].startTimeUnixNano: expected nanoseconds since the epoch (a non-negative integer or decimal string)",
    );
    expect(() => anyValueToJson({ intValue: 1.5 })).toThrow(ValidationError);
    await expectHealthy();
  });

  it("answers a wrong content type or encoding with a 400 and bad gzip with a 400", async () => {
    const body = JSON.stringify(jsonRequest([]));
    const wrong: Array<Record<string, string>> = [{ "content-type": "text/plain" }, { "content-type": "application/xml" }, {}, { "content-type": "application/json", "content-encoding": "br" }];
    for (const headers of wrong) {
      const answer = await post(server.url, "/v1/traces", body, headers);
      expect(answer.status, JSON.stringify(headers)).toBe(400);
      expect(errorCode(answer)).toBe("validation");
    }
    const charset = await post(server.url, "/v1/traces", body, { "content-type": "Application/JSON; charset=utf-8" });
    expect(charset.status).toBe(200);
    const notGzip = await postJson(server.url, body, { "content-encoding": "gzip" });
    expect(notGzip.status).toBe(400);
    expect((json(notGzip) as { error: { message: string } }).error.message).toMatch(/not valid gzip/);
    expect((await post(server.url, "/v1/traces", "{}", { "content-type": "application/json" }).then((a) => a.status))).toBe(200);
    const get = await new Promise<number>((resolve, reject) => {
      const req = request(new URL("/v1/traces", server.url), { method: "GET" }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject).end();
    });
    expect(get).toBe(404);
  });

  it("answers a gzip bomb with 413 and never inflates it whole", async () => {
    const small = await startStoreServer({ store, port: 0, bodyLimitBytes: 1024 * 1024 });
    try {
      const bomb = gzipSync(Buffer.alloc(256 * 1024 * 1024), { level: 9 }); // 256 MiB of zeros in ~260 kB
      expect(bomb.length).toBeLessThan(1024 * 1024);
      const before = process.memoryUsage().rss;
      for (const contentType of ["application/x-protobuf", "application/json"]) {
        const answer = await post(small.url, "/v1/traces", bomb, { "content-type": contentType, "content-encoding": "gzip" });
        expect(answer.status).toBe(413);
        expect(errorCode(answer)).toBe("payload_too_large");
        expect((json(answer) as { error: { message: string } }).error.message).toMatch(/inflates to more than 1048576 bytes/);
      }
      expect(process.memoryUsage().rss - before).toBeLessThan(128 * 1024 * 1024);
      // A compressed body within the limit is fine on the same server.
      const ok = await post(small.url, "/v1/traces", gzipSync(JSON.stringify(jsonRequest([{ attributes: idAttributes(rolloutId, attemptId), spans: [jsonSpan("0000000000000701", "zipped")] }]))), {
        "content-type": "application/json",
        "content-encoding": "gzip",
      });
      expect(ok.status).toBe(200);
      expect((await spansOf()).has("zipped")).toBe(true);
    } finally {
      await small.close();
    }
  });
});

// ---- the token and the route table ------------------------------------------------------------

describe("OTLP ingest on a server with a token", () => {
  it("requires the bearer token, from raw requests and from the real exporter", async () => {
    const guarded = await startStoreServer({ store, port: 0, token: "otlp-s3cret" });
    try {
      const body = jsonRequest([{ attributes: idAttributes(rolloutId, attemptId), spans: [jsonSpan("0000000000000801", "guarded")] }]);
      const unauthorized: Array<Record<string, string>> = [{}, { authorization: "Bearer wrong" }];
      for (const headers of unauthorized) {
        const answer = await postJson(guarded.url, body, headers);
        expect(answer.status).toBe(401);
        expect(errorCode(answer)).toBe("unauthorized");
      }
      expect((await spansOf()).size).toBe(0);
      expect((await postJson(guarded.url, body, { authorization: "Bearer otlp-s3cret" })).status).toBe(200);

      const seen = captureDiag();
      try {
        const provider = new BasicTracerProvider({
          resource: resourceFromAttributes(idAttributes(rolloutId, attemptId)),
          spanProcessors: [new SimpleSpanProcessor(new ProtoExporter({ url: `${guarded.url}/v1/traces`, headers: { authorization: "Bearer otlp-s3cret" } }))],
        });
        provider.getTracer("t").startSpan("exported with the token").end();
        await provider.forceFlush();
        await provider.shutdown();
        expect(seen.errors).toEqual([]);
      } finally {
        diag.disable();
      }
      expect([...(await spansOf()).keys()].sort()).toEqual(["exported with the token", "guarded"]);
    } finally {
      await guarded.close();
    }
  });

  it("lets a caller replace the default route", async () => {
    let called = 0;
    const own = await startStoreServer({
      store,
      port: 0,
      extraRoutes: [
        {
          method: "POST",
          path: "/v1/traces",
          handle: async (_req, res) => {
            called++;
            res.writeHead(204).end();
          },
        },
      ],
    });
    try {
      expect((await postJson(own.url, jsonRequest([]))).status).toBe(204);
      expect(called).toBe(1);
    } finally {
      await own.close();
    }
  });
});

// ---- OTel GenAI spans become training data ----------------------------------------------------

/**
 * An agent run as an OpenTelemetry GenAI instrumentation records it, in the current conventions:
 * messages as `parts` (JSON text, as the JS SDK requires), `gen_ai.system_instructions`, an
 * `invoke_agent` span around `chat` spans and an `execute_tool` span — and a second agent.
 */
function recordGenAiRun(provider: BasicTracerProvider): void {
  const otel = provider.getTracer("genai-instrumentation", "0.1.0");
  const system = JSON.stringify([{ type: "text", content: "Be brief." }]);
  const tools = JSON.stringify([{ type: "function", name: "weather", description: "Current weather", parameters: { type: "object", properties: { city: { type: "string" } } } }]);
  const chat = (parent: ReturnType<typeof otel.startSpan>, attributes: Attributes, response: Attributes) => {
    const span = otel.startSpan("chat gpt-4.1-mini", { kind: SpanKind.CLIENT, attributes: { "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4.1-mini", ...attributes } }, trace.setSpan(context.active(), parent));
    span.setAttributes({ "gen_ai.response.model": "gpt-4.1-mini-2025", "gen_ai.usage.input_tokens": 20, "gen_ai.usage.output_tokens": 8, ...response });
    span.end();
  };

  const planner = otel.startSpan("invoke_agent planner", { attributes: { "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "planner", "gen_ai.provider.name": "openai" } });
  chat(
    planner,
    { "gen_ai.system_instructions": system, "gen_ai.tool.definitions": tools, "gen_ai.input.messages": JSON.stringify([{ role: "user", parts: [{ type: "text", content: "Weather in Rome?" }] }]) },
    {
      "gen_ai.response.id": "chatcmpl-1",
      "gen_ai.response.finish_reasons": ["tool_call"],
      "gen_ai.output.messages": JSON.stringify([
        { role: "assistant", parts: [{ type: "text", content: "Let me check." }, { type: "tool_call", id: "call_7", name: "weather", arguments: { city: "Rome" } }], finish_reason: "tool_call" },
      ]),
    },
  );
  const tool = otel.startSpan(
    "execute_tool weather",
    { attributes: { "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "weather", "gen_ai.tool.call.id": "call_7", "gen_ai.tool.call.arguments": '{"city":"Rome"}' } },
    trace.setSpan(context.active(), planner),
  );
  tool.setAttribute("gen_ai.tool.call.result", '{"sky":"sunny"}');
  tool.end();
  chat(
    planner,
    {
      "gen_ai.system_instructions": system,
      "gen_ai.tool.definitions": tools,
      "gen_ai.input.messages": JSON.stringify([
        { role: "user", parts: [{ type: "text", content: "Weather in Rome?" }] },
        { role: "assistant", parts: [{ type: "text", content: "Let me check." }, { type: "tool_call", id: "call_7", name: "weather", arguments: { city: "Rome" } }] },
        { role: "tool", parts: [{ type: "tool_call_response", id: "call_7", response: { sky: "sunny" } }] },
      ]),
    },
    { "gen_ai.response.id": "chatcmpl-2", "gen_ai.response.finish_reasons": ["stop"], "gen_ai.output.messages": JSON.stringify([{ role: "assistant", parts: [{ type: "text", content: "Sunny in Rome." }], finish_reason: "stop" }]) },
  );
  planner.end();

  const critic = otel.startSpan("invoke_agent critic", { attributes: { "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "critic" } });
  chat(
    critic,
    { "gen_ai.input.messages": JSON.stringify([{ role: "user", parts: [{ type: "text", content: "Check: Sunny in Rome." }] }]) },
    { "gen_ai.response.id": "chatcmpl-3", "gen_ai.output.messages": JSON.stringify([{ role: "assistant", parts: [{ type: "text", content: "Looks right." }], finish_reason: "stop" }]) },
  );
  critic.end();
}

const weatherTool = { type: "function", function: { name: "weather", description: "Current weather", parameters: { type: "object", properties: { city: { type: "string" } } } } };
const askWeather = { role: "user", content: "Weather in Rome?" };
const checking = { role: "assistant", content: "Let me check.", tool_calls: [{ id: "call_7", type: "function", function: { name: "weather", arguments: '{"city":"Rome"}' } }] };
/** The three calls, as the transitions must give them. */
const EXPECTED_CALLS = [
  { agentName: "planner", prompt: { messages: [{ role: "system", content: "Be brief." }, askWeather] }, response: { message: checking, finishReason: "tool_call" }, textOnly: true, position: 0, tools: [weatherTool] },
  {
    agentName: "planner",
    prompt: { messages: [{ role: "system", content: "Be brief." }, askWeather, checking, { role: "tool", tool_call_id: "call_7", content: '{"sky":"sunny"}' }] },
    response: { message: { role: "assistant", content: "Sunny in Rome." }, finishReason: "stop" },
    textOnly: true,
    position: 1,
    tools: [weatherTool],
  },
  { agentName: "critic", prompt: { messages: [{ role: "user", content: "Check: Sunny in Rome." }] }, response: { message: { role: "assistant", content: "Looks right." }, finishReason: "stop" }, textOnly: true, position: 2 },
];

/** A transition without the ids that differ between recordings. */
const content = ({ rolloutId: _r, attemptId: _a, callId: _c, creditPolicy: _p, ...rest }: Transition) => rest;

/** The same run, mirrored in process by the tracer's OTel span processor. */
async function recordInProcess(): Promise<SpanInput[]> {
  const provider = new BasicTracerProvider({ spanProcessors: [createOtelSpanProcessor()] });
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };
  const outcome = await new Tracer({ sink: { addSpans: async () => undefined }, logger: quiet }).capture({ rolloutId: "ro-in-process", attemptId: "at-1" }, () => recordGenAiRun(provider));
  await provider.shutdown();
  if (!outcome.ok) throw outcome.error;
  return outcome.spans;
}

describe.each(EXPORTERS)("OTel GenAI spans sent by the %s exporter", (_name, makeExporter) => {
  async function ingest(): Promise<Span[]> {
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ "service.name": "weather-agent", ...idAttributes(rolloutId, attemptId) }),
      // One batch: the exporter sends spans in the order they ended, as a real application's would.
      spanProcessors: [new BatchSpanProcessor(makeExporter(`${server.url}/v1/traces`, false))],
    });
    recordGenAiRun(provider);
    await provider.forceFlush();
    await provider.shutdown();
    return (await store.querySpans({ rolloutId, attemptId, limit: 1000 })).items;
  }

  it("become the same training data as the same spans mirrored in process: text, tool calls, agents", async () => {
    const spans = await ingest();
    expect(spans).toHaveLength(6);
    const overOtlp = toTransitions(spans);
    expect(overOtlp.map(content)).toEqual(EXPECTED_CALLS);
    expect(toTransitions(await recordInProcess()).map(content)).toEqual(overOtlp.map(content));
    expect(overOtlp.map((t) => t.callId)).toEqual(spans.filter((s) => s.name.startsWith("chat ")).map((s) => s.spanId));
  });

  it("selects agents by the name on their invoke_agent span", async () => {
    const spans = await ingest();
    expect(toTransitions(spans, { agents: ["planner"] }).map((t) => t.response.message?.content)).toEqual(["Let me check.", "Sunny in Rome."]);
    expect(toTransitions(spans, { agents: ["critic"] }).map((t) => t.response.message?.content)).toEqual(["Looks right."]);
    const [diagnostics] = diagnose(spans, { agents: ["critic"] });
    expect(diagnostics!.dropped.filter((d) => d.reason === "agent_not_selected").map((d) => d.detail)).toEqual(["agent 'planner' is not selected", "agent 'planner' is not selected"]);
  });

  it("types agent and tool spans, so a call's tool use finds the tool that ran it", async () => {
    const spans = await ingest();
    const [attempt] = adaptSpans(spans);
    expect(attempt!.tree.nodes.map((n) => [n.span!.name, n.type])).toEqual([
      ["chat gpt-4.1-mini", "llm"],
      ["execute_tool weather", "tool"],
      ["chat gpt-4.1-mini", "llm"],
      ["invoke_agent planner", "agent"],
      ["chat gpt-4.1-mini", "llm"],
      ["invoke_agent critic", "agent"],
    ]);
    const toolSpan = spans.find((s) => s.name === "execute_tool weather")!;
    expect(attempt!.calls[0]!.toolUses).toEqual([{ id: "call_7", name: "weather", arguments: '{"city":"Rome"}', result: { sky: "sunny" }, spanId: toolSpan.spanId }]);
    // Stored as sent: the conversion is the adapters' reading, not a rewrite of the record.
    expect(toolSpan.attributes["tracetrain.span.type"]).toBeUndefined();
  });

  it("give SFT records with every message's text, one conversation per agent", async () => {
    const records = toChatMessages(await ingest());
    expect(records).toEqual([
      { messages: [{ role: "system", content: "Be brief." }, askWeather, checking, { role: "tool", content: '{"sky":"sunny"}', tool_call_id: "call_7" }, { role: "assistant", content: "Sunny in Rome." }], tools: [weatherTool] },
      { messages: [{ role: "user", content: "Check: Sunny in Rome." }, { role: "assistant", content: "Looks right." }] },
    ]);
  });
});

describe("OTel GenAI messages that cannot be read", () => {
  /** A GenAI chat span for a hand-made request: its messages as structured OTLP values (kvlist / array), as the conventions recommend. */
  function chatSpan(spanId: string, input: JsonValue, output: JsonValue): Record<string, unknown> {
    const span = jsonSpan(spanId, "chat gpt-4.1-mini", { "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4.1-mini" });
    const attributes = span.attributes as unknown[];
    attributes.push({ key: "gen_ai.input.messages", value: anyValue(input) }, { key: "gen_ai.output.messages", value: anyValue(output) });
    return span;
  }
  const text = (role: string, content: string) => ({ role, parts: [{ type: "text", content }] });

  it("are named in diagnostics — span, attribute, part — and never become empty SFT messages", async () => {
    const answer = await postJson(
      server.url,
      jsonRequest([
        {
          attributes: idAttributes(rolloutId, attemptId),
          spans: [
            chatSpan("00000000000000f1", [text("user", "Hello")], [text("assistant", "Hi there.")]),
            // Content a chat message cannot hold: a video by URI in the prompt, a provider-side tool call as the whole answer.
            chatSpan("00000000000000f2", [{ role: "user", parts: [{ type: "text", content: "Describe:" }, { type: "uri", modality: "video", uri: "https://example.com/v.mp4" }] }], [text("assistant", "A cat.")]),
            chatSpan("00000000000000f3", [text("user", "Search it")], [{ role: "assistant", parts: [{ type: "server_tool_call", name: "web_search", server_tool_call: { type: "web_search" } }] }]),
            // A text part whose content is not text.
            chatSpan("00000000000000f4", [{ role: "user", parts: [{ type: "text", content: 42 }] }], [text("assistant", "Forty-two?")]),
          ],
        },
      ]),
    );
    expect(answer.status).toBe(200);
    expect(json(answer)).toEqual({});
    const spans = (await store.querySpans({ rolloutId, limit: 1000 })).items;

    expect(toTransitions(spans).map((t) => [t.callId, t.prompt.messages, t.response.message])).toEqual([["00000000000000f1", [{ role: "user", content: "Hello" }], { role: "assistant", content: "Hi there." }]]);
    const reported: AdapterDiagnostics[] = [];
    const records = toChatMessages(spans, { onDiagnostics: (d) => reported.push(d) });
    expect(records).toEqual([{ messages: [{ role: "user", content: "Hello" }, { role: "assistant", content: "Hi there." }] }]);
    expect(reported).toHaveLength(1);
    expect(reported[0]).toMatchObject({ callsFound: 4, callsSelected: 1 });
    expect(reported[0]!.dropped.map((d) => [d.spanId, d.reason, d.detail])).toEqual([
      ["00000000000000f2", "unreadable_message", "gen_ai.input.messages: message 0 (user) part 1: a video part given by URI (chat messages take only images by URI); left out — the call is not training data"],
      [
        "00000000000000f3",
        "unreadable_message",
        'gen_ai.output.messages: message 0 (assistant) part 0: part type "server_tool_call" has no chat-message form; left out; gen_ai.output.messages: message 0 (assistant) has no text, tool call or media — the call is not training data',
      ],
      [
        "00000000000000f4",
        "unreadable_message",
        "gen_ai.input.messages: message 0 (user) part 0: a text part's content is 42, not text; left out; gen_ai.input.messages: message 0 (user) has no text, tool call or media — the call is not training data",
      ],
    ]);
  });

  it("say so when an instrumentation recorded no message content at all", async () => {
    const bare = jsonSpan("00000000000000f5", "chat gpt-4.1-mini", { "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4.1-mini", "gen_ai.response.id": "chatcmpl-9" });
    expect((await postJson(server.url, jsonRequest([{ attributes: idAttributes(rolloutId, attemptId), spans: [bare] }]))).status).toBe(200);
    const [diagnostics] = diagnose((await store.querySpans({ rolloutId })).items as AdapterSpan[]);
    expect(diagnostics!.dropped).toEqual([{ spanId: "00000000000000f5", reason: "no_response", detail: expect.stringMatching(/no output message .*OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=span_only/) }]);
    expect(diagnostics!.warnings).toEqual(["no usable LLM call: 1 call(s) failed or returned nothing"]);
  });
});
