import { type IncomingHttpHeaders, type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Attr } from "tracetrain/instrumentations";
import { Tracer, ValidationError, emitReward, operation, withAgent } from "tracetrain";
import type { SpanInput } from "tracetrain";
import type { SpanSink } from "tracetrain/otel";
import { recordLlmResponse, startLlmSpan } from "../../src/tracer/llm-call.js";
import { type OtlpAnyValue, type OtlpKeyValue, type OtlpSpan, type OtlpTraceRequest, msToUnixNano } from "../../src/otlp/index.js";
import { createOtlpSink, teeSinks, tracesUrl } from "../../src/tracer/otlp-export.js";

/** A real OTLP/HTTP receiver on loopback that keeps what it is sent and answers as told. */
interface Receiver {
  url: string;
  requests: { path: string; headers: IncomingHttpHeaders; body: OtlpTraceRequest }[];
  reply: { status: number; body: string };
  close(): Promise<void>;
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
  vi.clearAllMocks();
});

async function startReceiver(): Promise<Receiver> {
  const receiver: Receiver = { url: "", requests: [], reply: { status: 200, body: "{}" }, close: async () => {} };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      receiver.requests.push({ path: req.url ?? "", headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString("utf8")) as OtlpTraceRequest });
      res.writeHead(receiver.reply.status, { "content-type": "application/json" }).end(receiver.reply.body);
    });
  });
  server.keepAliveTimeout = 100;
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return receiver;
}

class RecordingSink implements SpanSink {
  spans: SpanInput[] = [];
  failuresLeft = 0;
  async addSpans(spans: SpanInput[]): Promise<void> {
    if (this.failuresLeft > 0) {
      this.failuresLeft--;
      throw new Error("store down");
    }
    this.spans.push(...spans);
  }
}

const quietLogger = () => ({ debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() });
const value = (attributes: OtlpKeyValue[], key: string): OtlpAnyValue | undefined => attributes.find((kv) => kv.key === key)?.value;

/** An agent that records nested spans, an LLM call with token ids, a failed step and rewards. */
async function agentRun(): Promise<void> {
  await withAgent("planner", async () => {
    await operation("plan", async () => {
      const call = startLlmSpan("fetch", {
        operation: "chat",
        provider: "openai",
        model: "mock-model",
        temperature: 1,
        stream: false,
        messages: [{ role: "user", content: "Weather?" }],
      })!;
      recordLlmResponse(call, {
        id: "chatcmpl-9",
        model: "mock-model",
        inputTokens: 12,
        outputTokens: 3,
        promptTokenIds: [101, 102],
        choices: [
          {
            message: { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "weather", arguments: '{"city":"Rome"}' } }] },
            finishReason: "tool_calls",
            tokenIds: [7, 8, 9],
            logprobs: [-0.5, -0.25, 0],
          },
        ],
      });
    });
    try {
      await operation("flaky", () => {
        throw new RangeError("bad input");
      });
    } catch {
      // The agent handles it; the span keeps the error.
    }
    emitReward(1);
  });
}

describe("createOtlpSink", () => {
  it("exports a trace as OTLP/HTTP JSON: resource, scope, hex ids, nanosecond strings, typed values, the evaluation event", async () => {
    const receiver = await startReceiver();
    const store = new RecordingSink();
    const sink = teeSinks(store, createOtlpSink({ url: receiver.url, headers: { authorization: "Bearer t0ken" }, serviceName: "room-agent" }));
    const tracer = new Tracer({ sink, logger: quietLogger() });
    const outcome = await tracer.capture({ rolloutId: "ro-otlp", attemptId: "at-2" }, agentRun);
    await sink.flush();
    expect(outcome.report.delivery).toMatchObject({ sent: 6, dropped: 0 });

    expect(receiver.requests).toHaveLength(1);
    const [request] = receiver.requests;
    expect(request!.path).toBe("/v1/traces");
    expect(request!.headers["content-type"]).toBe("application/json");
    expect(request!.headers.authorization).toBe("Bearer t0ken");
    const body = request!.body;
    expect(body.resourceSpans).toHaveLength(1);
    const resource = body.resourceSpans[0]!;
    expect(resource.resource.attributes).toEqual([
      { key: "service.name", value: { stringValue: "room-agent" } },
      { key: "tracetrain.rollout_id", value: { stringValue: "ro-otlp" } },
      { key: "tracetrain.attempt_id", value: { stringValue: "at-2" } },
    ]);
    expect(resource.scopeSpans).toHaveLength(1);
    expect(resource.scopeSpans[0]!.scope).toEqual({ name: "tracetrain" });
    const exported = resource.scopeSpans[0]!.spans;

    // Every span the store got, field by field.
    expect(exported.map((s) => s.spanId).sort()).toEqual(store.spans.map((s) => s.spanId).sort());
    const byId = new Map<string, OtlpSpan>(exported.map((s) => [s.spanId, s]));
    for (const span of store.spans) {
      const otlp = byId.get(span.spanId)!;
      expect(otlp.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(otlp.traceId).toBe(span.traceId);
      expect(otlp.spanId).toMatch(/^[0-9a-f]{16}$/);
      if (span.parentId) expect(otlp.parentSpanId).toBe(span.parentId);
      else expect(otlp).not.toHaveProperty("parentSpanId");
      expect(otlp.name).toBe(span.name);
      for (const [nanos, ms] of [
        [otlp.startTimeUnixNano, span.startTime],
        [otlp.endTimeUnixNano, span.endTime],
      ] as const) {
        expect(nanos).toMatch(/^\d{19}$/);
        // Same instant to the microsecond (the float ms carries no more).
        expect(Math.abs(Number(BigInt(nanos) / 1000n) - ms * 1000)).toBeLessThanOrEqual(1);
      }
      expect(BigInt(otlp.endTimeUnixNano) >= BigInt(otlp.startTimeUnixNano)).toBe(true);
    }
    const named = (name: string) => exported.find((s) => s.name === name)!;
    const root = named("tracetrain.rollout");
    const agent = named("invoke_agent planner");
    const plan = named("plan");
    const call = named("chat mock-model");
    const flaky = named("flaky");
    const reward = named("tracetrain.reward");
    expect(root).not.toHaveProperty("parentSpanId");
    expect(agent.parentSpanId).toBe(root.spanId);
    expect(plan.parentSpanId).toBe(agent.spanId);
    expect(call.parentSpanId).toBe(plan.spanId);
    expect(flaky.parentSpanId).toBe(agent.spanId);
    expect(reward.parentSpanId).toBe(agent.spanId);

    // Kinds and statuses as OTLP enum numbers.
    expect(call.kind).toBe(3);
    expect(plan.kind).toBe(1);
    expect(call.status).toEqual({ code: 1 });
    expect(root.status).toEqual({ code: 0 });
    expect(flaky.status).toEqual({ code: 2, message: "bad input" });
    expect(flaky.events).toEqual([
      {
        name: "exception",
        timeUnixNano: expect.stringMatching(/^\d{19}$/),
        attributes: [
          { key: "exception.type", value: { stringValue: "RangeError" } },
          { key: "exception.message", value: { stringValue: "bad input" } },
          { key: "exception.stacktrace", value: { stringValue: expect.stringContaining("RangeError: bad input") } },
        ],
      },
    ]);

    // AnyValue types: strings, 64-bit ints as strings, doubles, bools, lists, objects as kvlists, null as empty.
    const a = call.attributes;
    expect(value(a, Attr.requestModel)).toEqual({ stringValue: "mock-model" });
    expect(value(a, Attr.usageInputTokens)).toEqual({ intValue: "12" });
    expect(value(a, Attr.requestTemperature)).toEqual({ doubleValue: 1 });
    expect(value(a, Attr.requestStream)).toEqual({ boolValue: false });
    expect(value(a, Attr.promptTokenIds)).toEqual({ arrayValue: { values: [{ intValue: "101" }, { intValue: "102" }] } });
    expect(value(a, Attr.responseTokenIds)).toEqual({ arrayValue: { values: [{ arrayValue: { values: [{ intValue: "7" }, { intValue: "8" }, { intValue: "9" }] } }] } });
    expect(value(a, Attr.logprobs)).toEqual({ arrayValue: { values: [{ arrayValue: { values: [{ doubleValue: -0.5 }, { doubleValue: -0.25 }, { doubleValue: 0 }] } }] } });
    expect(value(a, Attr.inputMessages)).toEqual({
      arrayValue: { values: [{ kvlistValue: { values: [{ key: "role", value: { stringValue: "user" } }, { key: "content", value: { stringValue: "Weather?" } }] } }] },
    });
    expect(value(a, Attr.outputMessages)).toEqual({
      arrayValue: {
        values: [
          {
            kvlistValue: {
              values: [
                { key: "role", value: { stringValue: "assistant" } },
                { key: "content", value: {} },
                {
                  key: "tool_calls",
                  value: {
                    arrayValue: {
                      values: [
                        {
                          kvlistValue: {
                            values: [
                              { key: "id", value: { stringValue: "call_1" } },
                              { key: "type", value: { stringValue: "function" } },
                              {
                                key: "function",
                                value: { kvlistValue: { values: [{ key: "name", value: { stringValue: "weather" } }, { key: "arguments", value: { stringValue: '{"city":"Rome"}' } }] } },
                              },
                            ],
                          },
                        },
                      ],
                    },
                  },
                },
                { key: "finish_reason", value: { stringValue: "tool_calls" } },
              ],
            },
          },
        ],
      },
    });

    // The reward: a double value (even when it is exactly 1) and the evaluation event.
    expect(value(reward.attributes, Attr.rewardValue)).toEqual({ doubleValue: 1 });
    expect(value(reward.attributes, Attr.rewardFinal)).toEqual({ boolValue: true });
    expect(value(reward.attributes, Attr.agentName)).toEqual({ stringValue: "planner" });
    expect(reward.events).toEqual([
      {
        name: "gen_ai.evaluation.result",
        timeUnixNano: expect.stringMatching(/^\d{19}$/),
        attributes: [
          { key: "gen_ai.evaluation.name", value: { stringValue: "reward" } },
          { key: "gen_ai.evaluation.score.value", value: { doubleValue: 1 } },
        ],
      },
    ]);
  });

  it("adds the evaluation event to a reward span that lacks one", async () => {
    const receiver = await startReceiver();
    const sink = createOtlpSink({ url: `${receiver.url}/v1/traces` });
    const reward: SpanInput = {
      rolloutId: "ro-1",
      attemptId: "at-1",
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      spanId: "00f067aa0ba902b7",
      name: "tracetrain.reward",
      startTime: 1_700_000_000_123.5,
      endTime: 1_700_000_000_124.25,
      attributes: { [Attr.spanType]: "reward", [Attr.rewardValue]: 0.25, [Attr.rewardName]: "accuracy" },
    };
    await sink.addSpans([reward]);
    const span = receiver.requests[0]!.body.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
    expect(receiver.requests[0]!.path).toBe("/v1/traces");
    expect(span.startTimeUnixNano).toBe("1700000000123500000");
    expect(span.endTimeUnixNano).toBe("1700000000124250000");
    expect(span.kind).toBe(1);
    expect(span.links).toEqual([]);
    expect(span.events).toEqual([
      {
        name: "gen_ai.evaluation.result",
        timeUnixNano: "1700000000124250000",
        attributes: [
          { key: "gen_ai.evaluation.name", value: { stringValue: "accuracy" } },
          { key: "gen_ai.evaluation.score.value", value: { doubleValue: 0.25 } },
        ],
      },
    ]);
  });

  it("puts each rollout attempt under its own resource", async () => {
    const receiver = await startReceiver();
    const base = { traceId: "4bf92f3577b34da6a3ce929d0e0e4736", name: "step", startTime: 1, endTime: 2 };
    await createOtlpSink({ url: receiver.url }).addSpans([
      { ...base, rolloutId: "ro-a", attemptId: "at-1", spanId: "00000000000000a1" },
      { ...base, rolloutId: "ro-b", attemptId: "at-1", spanId: "00000000000000b1" },
      { ...base, rolloutId: "ro-a", attemptId: "at-1", spanId: "00000000000000a2" },
    ]);
    const resources = receiver.requests[0]!.body.resourceSpans;
    expect(resources.map((r) => [value(r.resource.attributes, Attr.rolloutId), r.scopeSpans[0]!.spans.map((s) => s.spanId)])).toEqual([
      [{ stringValue: "ro-a" }, ["00000000000000a1", "00000000000000a2"]],
      [{ stringValue: "ro-b" }, ["00000000000000b1"]],
    ]);
    expect(value(resources[0]!.resource.attributes, "service.name")).toEqual({ stringValue: "tracetrain" });
  });

  it("accepts a base URL or a full /v1/traces URL", () => {
    expect(tracesUrl("http://collector:4318")).toBe("http://collector:4318/v1/traces");
    expect(tracesUrl("http://collector:4318/")).toBe("http://collector:4318/v1/traces");
    expect(tracesUrl("http://collector:4318/v1/traces")).toBe("http://collector:4318/v1/traces");
    expect(tracesUrl("https://cloud.example/otlp/v1/traces/")).toBe("https://cloud.example/otlp/v1/traces");
    expect(tracesUrl("https://cloud.example/otlp")).toBe("https://cloud.example/otlp/v1/traces");
  });

  it("converts milliseconds to nanoseconds without float overflow", () => {
    expect(msToUnixNano(1_700_000_000_123)).toBe("1700000000123000000");
    expect(msToUnixNano(1_700_000_000_123.25)).toBe("1700000000123250000");
    expect(msToUnixNano(0.001)).toBe("1000");
  });

  it("as the only sink, a collector answering 500 makes the tracer retry, then drop and report the spans", async () => {
    const receiver = await startReceiver();
    receiver.reply = { status: 500, body: '{"code":13,"message":"collector overloaded"}' };
    const logger = quietLogger();
    const tracer = new Tracer({ sink: createOtlpSink({ url: receiver.url }), retryDelaysMs: [5, 5], logger });
    const outcome = await tracer.capture({ rolloutId: "ro-500", attemptId: "at-1" }, agentRun);
    expect(outcome.ok).toBe(true);
    expect(receiver.requests).toHaveLength(3);
    expect(outcome.report.delivery).toEqual({
      sent: 0,
      dropped: 6,
      retries: 2,
      errors: [`TracetrainError: OTLP export to ${receiver.url}/v1/traces failed: HTTP 500: {"code":13,"message":"collector overloaded"}`],
    });
    expect(outcome.report.warnings.some((w) => w.includes("6 span(s) could not be delivered") && w.includes("HTTP 500"))).toBe(true);
    expect(logger.warn).toHaveBeenCalled();
  });

  it("logs spans a collector rejected in a partial success", async () => {
    const receiver = await startReceiver();
    receiver.reply = { status: 200, body: JSON.stringify({ partialSuccess: { rejectedSpans: "2", errorMessage: "span too large" } }) };
    const logger = quietLogger();
    await createOtlpSink({ url: receiver.url, logger }).addSpans([
      { rolloutId: "ro-1", attemptId: "at-1", traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", name: "x", startTime: 1, endTime: 2 },
    ]);
    expect(logger.warn).toHaveBeenCalledWith(expect.stringMatching(/rejected 2 span\(s\): span too large/));
  });
});

describe("teeSinks", () => {
  it("a failing collector is retried then dropped and reported, while the primary sink gets every span at once", async () => {
    const receiver = await startReceiver();
    receiver.reply = { status: 500, body: "down" };
    const store = new RecordingSink();
    const logger = quietLogger();
    const sink = teeSinks(store, createOtlpSink({ url: receiver.url }), { logger, retryDelaysMs: [5, 5] });
    const tracer = new Tracer({ sink, logger: quietLogger() });
    const outcome = await tracer.capture({ rolloutId: "ro-tee", attemptId: "at-1" }, agentRun);
    // The trace's delivery is the primary's: complete, not held up by the collector.
    expect(outcome.report.delivery).toMatchObject({ sent: 6, dropped: 0, retries: 0 });
    expect(store.spans).toHaveLength(6);
    await sink.flush();
    expect(receiver.requests).toHaveLength(3);
    for (const request of receiver.requests) expect(request.body.resourceSpans[0]!.scopeSpans[0]!.spans).toHaveLength(6);
    expect(sink.secondaryStats).toEqual([{ sent: 0, dropped: 6, retries: 2, errors: [`TracetrainError: OTLP export to ${receiver.url}/v1/traces failed: HTTP 500: down`] }]);
    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(logger.warn).toHaveBeenCalledWith(expect.stringContaining("secondary span sink #1 dropped 6 span(s) after 2 retries"));
  });

  it("when the primary fails and the batch is retried, the collector still receives each span once", async () => {
    const receiver = await startReceiver();
    const store = new RecordingSink();
    store.failuresLeft = 1;
    const sink = teeSinks(store, createOtlpSink({ url: receiver.url }));
    const tracer = new Tracer({ sink, retryDelaysMs: [5], logger: quietLogger() });
    const outcome = await tracer.capture({ rolloutId: "ro-retry", attemptId: "at-1" }, agentRun);
    await sink.flush();
    expect(outcome.report.delivery).toMatchObject({ sent: 6, dropped: 0, retries: 1 });
    expect(store.spans).toHaveLength(6);
    expect(receiver.requests).toHaveLength(1);
    expect(receiver.requests[0]!.body.resourceSpans[0]!.scopeSpans[0]!.spans.map((s) => s.spanId).sort()).toEqual(store.spans.map((s) => s.spanId).sort());
    expect(sink.secondaryStats).toEqual([{ sent: 6, dropped: 0, retries: 0, errors: [] }]);
  });

  it("rejects when the primary fails, whatever the others do", async () => {
    const store = new RecordingSink();
    store.failuresLeft = 1;
    const other = new RecordingSink();
    const sink = teeSinks(store, other);
    await expect(sink.addSpans([])).rejects.toThrow("store down");
    await sink.flush();
    expect(() => teeSinks()).toThrow(ValidationError);
  });
});

describe("OTLP options", () => {
  it("names the field of a bad option, and refuses unknown ones", () => {
    const field = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        return error instanceof ValidationError ? error.issues.map((i) => i.path) : ["not a ValidationError"];
      }
      return [];
    };
    expect(field(() => createOtlpSink({ url: "ftp://collector" }))).toEqual(["url"]);
    expect(field(() => createOtlpSink({ url: "http://collector:4318", timeoutMs: -1 }))).toEqual(["timeoutMs"]);
    expect(field(() => createOtlpSink({ url: "http://collector:4318", headers: { authorization: 1 as unknown as string } }))).toEqual(["headers.authorization"]);
    expect(field(() => createOtlpSink({ url: "http://collector:4318", serviceNmae: "x" } as never))).toEqual([""]);
    const sink: SpanSink = { addSpans: async () => undefined };
    expect(field(() => teeSinks(sink, { retryDelaysMs: [-5] }))).toEqual(["retryDelaysMs[0]"]);
  });
});
