import { request } from "node:http";
import { gzipSync } from "node:zlib";
import { type Attributes, type DiagLogger, DiagLogLevel, type HrTime, SpanKind, SpanStatusCode, context, diag, trace } from "@opentelemetry/api";
import { OTLPTraceExporter as JsonExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as ProtoExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { CompressionAlgorithm } from "@opentelemetry/otlp-exporter-base";
import { ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type JsonValue, type Span, type SpanInput, TracetrainError, ValidationError } from "tracetrain";
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
