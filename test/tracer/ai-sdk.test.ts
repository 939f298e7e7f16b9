/**
 * The `ai` layer: AI SDK 7's `ai:telemetry` diagnostics channel. The repository's AI SDK is 6,
 * which does not publish there, so these tests publish what AI SDK 7 publishes: the messages in
 * fixtures/ai-sdk-channel.json were recorded from ai@7 (record-ai-sdk-channel.mjs, beside it),
 * and are replayed here the way the SDK publishes them — `tracePromise` for generateText and
 * every model call and tool; for streamText and its steps, a long-lived context (`start.runStores`
 * around an `AsyncResource` re-entered later) as the SDK's `openTelemetryChannelSpanContext` does.
 * Each recorded model call makes its real request (the body the SDK sent) to the mock LLM, so the
 * fetch layer sees it as it would under the SDK. compat/tests/ai-sdk-telemetry.test.mjs runs the
 * real ai@7.
 */
import { AsyncResource } from "node:async_hooks";
import { hasSubscribers, tracingChannel } from "node:diagnostics_channel";
import { readFileSync } from "node:fs";
import { BasicTracerProvider } from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Attr, SpanTypes } from "tracetrain/instrumentations";
import { Tracer } from "tracetrain";
import type { SpanInput } from "tracetrain";
import type { SpanSink } from "tracetrain/otel";
import { acquire, installedInstrumentations, release } from "../../src/tracer/instrumentation.js";
import { currentFrame } from "../../src/tracer/context.js";
import { AI_SDK_CHANNEL, createAiSdkInstrumentation } from "../../src/tracer/instrumentations/ai-sdk.js";
import { createFetchInstrumentation } from "../../src/tracer/instrumentations/fetch.js";
import { createOtelSpanProcessor } from "../../src/tracer/instrumentations/otel.js";
import { type MockLlm, replySequence, startMockLlm } from "tracetrain/testing";

interface RecordedMessage {
  type: string;
  parent: number | null;
  event: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: unknown;
  fetches: number;
}
interface Scenario {
  text: string;
  messages: RecordedMessage[];
}
const fixture = JSON.parse(readFileSync(new URL("./fixtures/ai-sdk-channel.json", import.meta.url), "utf8")) as { scenarios: Record<"generateText" | "streamText", Scenario> };

const channel = tracingChannel<object, object>(AI_SDK_CHANNEL);

class NullSink implements SpanSink {
  async addSpans(): Promise<void> {}
}
const tracer = new Tracer({ sink: new NullSink(), logger: { debug() {}, info() {}, warn() {}, error() {} } });
const attr = (span: SpanInput, key: string) => span.attributes?.[key];
const ofType = (spans: SpanInput[], type: string) => spans.filter((s) => attr(s, Attr.spanType) === type).sort((a, b) => a.startTime - b.startTime);
const childrenOf = (spans: SpanInput[], parent: SpanInput) => spans.filter((s) => s.parentId === parent.spanId).sort((a, b) => a.startTime - b.startTime);
const named = (spans: SpanInput[], name: string) => spans.filter((s) => s.name === name).sort((a, b) => a.startTime - b.startTime);

/** A copy of a recorded value with what JSON could not hold put back (the stream a streamed call resolves with). */
function revive(value: unknown): unknown {
  if (value === "[ReadableStream]") return new ReadableStream();
  if (Array.isArray(value)) return value.map(revive);
  if (typeof value === "object" && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, revive(v)]));
  return value;
}

let llm: MockLlm;
let rolloutCounter = 0;

/** Replays one recorded scenario in a traced rollout (agent "planner"); returns the rollout's spans and report. */
async function replay(scenario: Scenario, options: { streamed: boolean; insideTool?: () => void; insideOperation?: () => void }) {
  llm.script(replySequence([{ toolCalls: [{ name: "weather", arguments: { city: "Paris" }, id: "call_1" }] }]));
  const n = ++rolloutCounter;
  const outcome = await tracer.capture({ rolloutId: `ro-${n}`, attemptId: `at-${n}`, agentName: "planner" }, () =>
    options.streamed ? replayStreamed(scenario, options) : replayPromised(scenario, 0, options),
  );
  if (!outcome.ok) throw outcome.error;
  return outcome;
}

/** A message as the SDK publishes it: `{type, event}`; the channel adds `result` or `error` at the end. */
interface ChannelMessage {
  type: string;
  event: object;
  result?: unknown;
  error?: unknown;
}
const messageOf = (recorded: RecordedMessage): ChannelMessage => ({ type: recorded.type, event: revive(recorded.event) as object });
const childIndexes = (scenario: Scenario, index: number) => scenario.messages.flatMap((m, i) => (m.parent === index ? [i] : []));

/** The model call's own work: the request the SDK sent, to the mock LLM. */
async function callModel(recorded: RecordedMessage): Promise<Response> {
  const request = (recorded.result?.request ?? {}) as { body?: unknown };
  return fetch(`${llm.baseUrl}/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(request.body) });
}

/** generateText: every message through `tracePromise`, children in order, as the SDK nests them. */
async function replayPromised(scenario: Scenario, index: number, options: { insideTool?: () => void; insideOperation?: () => void }): Promise<unknown> {
  const recorded = scenario.messages[index]!;
  return channel.tracePromise(async () => {
    if (recorded.type === "generateText") options.insideOperation?.();
    if (recorded.type === "executeTool") options.insideTool?.();
    if (recorded.fetches > 0) await (await callModel(recorded)).text();
    for (const child of childIndexes(scenario, index)) await replayPromised(scenario, child, options);
    return revive(recorded.result);
  }, messageOf(recorded));
}

/** A promise and its resolve (Node 20 has no `Promise.withResolvers`). */
function deferred(): { promise: Promise<undefined>; resolve(value: undefined): void } {
  let resolve!: (value: undefined) => void;
  const promise = new Promise<undefined>((r) => (resolve = r));
  return { promise, resolve };
}

/** The SDK's `openTelemetryChannelSpanContext`: a context opened now, re-entered by `run`, ended when `completion` settles. */
function longLivedContext(message: ChannelMessage, completion: Promise<unknown>): { run<T>(fn: () => T): T } {
  let resource: AsyncResource | undefined;
  channel.start.runStores(message, () => {
    resource = new AsyncResource("ai.telemetry");
  });
  channel.end.publish(message);
  void completion.then(
    (result) => {
      if (result !== undefined) message.result = result;
      channel.asyncEnd.publish(message);
    },
    (error: unknown) => {
      message.error = error;
      channel.error.publish(message);
      channel.asyncEnd.publish(message);
    },
  );
  return { run: (fn) => resource!.runInAsyncScope(fn) };
}

/**
 * streamText: the operation and each step are long-lived contexts; a step's model call and tools
 * go through `tracePromise` inside the step's context; the model call resolves when the stream
 * opens, and the step reads the stream afterwards.
 */
async function replayStreamed(scenario: Scenario, options: { insideTool?: () => void; insideOperation?: () => void }): Promise<void> {
  const operationDone = deferred();
  const operation = longLivedContext(messageOf(scenario.messages[0]!), operationDone.promise);
  options.insideOperation?.();
  await operation.run(async () => {
    for (const stepIndex of childIndexes(scenario, 0)) {
      const stepDone = deferred();
      const step = longLivedContext(messageOf(scenario.messages[stepIndex]!), stepDone.promise);
      for (const child of childIndexes(scenario, stepIndex)) {
        const recorded = scenario.messages[child]!;
        let response: Response | undefined;
        await step.run(() =>
          channel.tracePromise(async () => {
            if (recorded.type === "executeTool") options.insideTool?.();
            if (recorded.fetches > 0) response = await callModel(recorded);
            return revive(recorded.result);
          }, messageOf(recorded)),
        );
        if (response) await step.run(() => response!.text());
      }
      stepDone.resolve(undefined);
    }
  });
  operationDone.resolve(undefined);
  // The SDK publishes the end of the operation a moment after its last step.
  await new Promise((resolve) => setImmediate(resolve));
}

beforeAll(async () => {
  llm = await startMockLlm();
  expect(await acquire(createAiSdkInstrumentation())).toEqual({ installed: true });
});
afterAll(async () => {
  release("ai");
  await llm.close();
});

describe("the ai layer with the fetch layer (AI SDK 7's generateText, a tool round trip)", () => {
  beforeAll(async () => {
    await acquire(createFetchInstrumentation());
  });
  afterAll(() => release("fetch"));

  it("records the operation, its steps and tool, and each model call once, the fetch layer's exact call under the channel's", async () => {
    const scenario = fixture.scenarios.generateText;
    const { spans, report } = await replay(scenario, { streamed: false });
    const root = spans.find((s) => s.parentId === null)!;

    const [operation, ...moreOperations] = named(spans, "ai.generateText");
    expect(moreOperations).toHaveLength(0);
    expect(operation!.parentId).toBe(root.spanId);
    expect(attr(operation!, Attr.layer)).toBe("ai");
    expect(attr(operation!, Attr.spanType)).toBe(SpanTypes.chain);
    expect(attr(operation!, Attr.operationName)).toBe("invoke_workflow");
    expect(attr(operation!, Attr.providerName)).toBe("openai");
    expect(attr(operation!, Attr.requestModel)).toBe("mock-model");
    expect(attr(operation!, "ai.response.text")).toBe(scenario.text);
    expect(attr(operation!, "ai.response.finishReason")).toBe("stop");

    const steps = childrenOf(spans, operation!);
    expect(steps.map((s) => s.name)).toEqual(["step 1", "step 2"]);
    expect(steps.map((s) => attr(s, Attr.spanType))).toEqual([SpanTypes.operation, SpanTypes.operation]);
    expect(steps.map((s) => attr(s, "ai.response.finishReason"))).toEqual(["tool-calls", "stop"]);

    // Step 1: the model asks for the tool, the tool runs.
    const [firstCall, tool] = childrenOf(spans, steps[0]!);
    expect(tool!.name).toBe("execute_tool weather");
    expect(attr(tool!, Attr.spanType)).toBe(SpanTypes.tool);
    expect(attr(tool!, Attr.toolName)).toBe("weather");
    expect(attr(tool!, Attr.toolCallId)).toBe("call_1");
    expect(attr(tool!, Attr.toolCallArguments)).toEqual({ city: "Paris" });
    expect(attr(tool!, Attr.toolCallResult)).toEqual({ city: "Paris", sky: "sunny" });
    expect(tool!.status?.code).toBe("ok");
    // Step 2: the model answers.
    const [secondCall, ...rest] = childrenOf(spans, steps[1]!);
    expect(rest).toHaveLength(0);

    for (const call of [firstCall!, secondCall!]) {
      expect(call.name).toBe("chat mock-model");
      expect(attr(call, Attr.layer)).toBe("ai");
      expect(attr(call, Attr.spanType)).toBe(SpanTypes.llmRun);
      expect(attr(call, Attr.recordedBy)).toBe("fetch");
      const [exact, ...others] = childrenOf(spans, call);
      expect(others).toHaveLength(0);
      expect(attr(exact!, Attr.layer)).toBe("fetch");
      expect(attr(exact!, Attr.spanType)).toBe(SpanTypes.llm);
      // The channel's event, read with the AI SDK dialect, is the conversation the wire carried.
      expect(attr(call, Attr.inputMessages)).toEqual(attr(exact!, Attr.inputMessages));
      expect(attr(call, Attr.outputMessages)).toEqual(attr(exact!, Attr.outputMessages));
    }
    expect(attr(firstCall!, Attr.inputMessages)).toEqual([
      { role: "system", content: "You are terse." },
      { role: "user", content: "weather in Paris?" },
    ]);

    // Exactly once: two calls, two LLM spans, two in the report.
    expect(ofType(spans, SpanTypes.llm)).toHaveLength(2);
    expect(report.llmCalls).toBe(2);
    expect(Object.keys(report.layers).sort()).toEqual(["ai", "fetch", "tracer"]);
    // Every span belongs to the rollout's agent: an unnamed generateText is not an agent of its own.
    for (const span of spans) expect(attr(span, Attr.agentName)).toBe("planner");
  });

  it("makes a call named with telemetry.functionId an agent of that name", async () => {
    const scenario = structuredClone(fixture.scenarios.generateText);
    for (const message of scenario.messages) message.event.functionId = "weatherman";
    const { spans } = await replay(scenario, { streamed: false });
    const [agent] = ofType(spans, SpanTypes.agent);
    expect(agent!.name).toBe("invoke_agent weatherman");
    expect(attr(agent!, Attr.genAiAgentName)).toBe("weatherman");
    for (const call of ofType(spans, SpanTypes.llm)) expect(attr(call, Attr.agentName)).toBe("weatherman");
  });

  it("records streamText: steps through the SDK's long-lived contexts, each streamed call once, under its step", async () => {
    const scenario = fixture.scenarios.streamText;
    const { spans, report } = await replay(scenario, { streamed: true });
    const [operation] = named(spans, "ai.streamText");
    expect(attr(operation!, Attr.spanType)).toBe(SpanTypes.chain);
    const steps = childrenOf(spans, operation!);
    expect(steps.map((s) => s.name)).toEqual(["step 1", "step 2"]);
    const [firstCall, tool] = childrenOf(spans, steps[0]!);
    expect(tool!.name).toBe("execute_tool weather");
    expect(attr(tool!, Attr.toolCallResult)).toEqual({ city: "Paris", sky: "sunny" });
    const [secondCall] = childrenOf(spans, steps[1]!);
    for (const call of [firstCall!, secondCall!]) {
      expect(attr(call, Attr.spanType)).toBe(SpanTypes.llmRun);
      expect(attr(call, Attr.requestStream)).toBe(true);
      const [exact] = childrenOf(spans, call);
      expect(attr(exact!, Attr.layer)).toBe("fetch");
      expect(attr(exact!, Attr.requestStream)).toBe(true);
      expect(attr(exact!, Attr.outputMessages)).toBeDefined();
      expect(attr(call, Attr.captureWarning)).toBeUndefined();
    }
    expect(attr(childrenOf(spans, secondCall!)[0]!, Attr.outputMessages)).toEqual([{ role: "assistant", content: scenario.text, finish_reason: "stop" }]);
    expect(ofType(spans, SpanTypes.llm)).toHaveLength(2);
    expect(report.llmCalls).toBe(2);
    expect(report.incompleteSpans).toBe(0);
  });
});

describe("the ai layer alone (a provider the fetch layer does not read)", () => {
  it("records each generateText model call as the LLM span, request and response from the channel", async () => {
    const { spans, report } = await replay(fixture.scenarios.generateText, { streamed: false });
    const calls = ofType(spans, SpanTypes.llm);
    expect(calls.map((c) => attr(c, Attr.layer))).toEqual(["ai", "ai"]);
    expect(report.llmCalls).toBe(2);
    expect(attr(calls[0]!, Attr.outputMessages)).toEqual([
      {
        role: "assistant",
        content: null,
        tool_calls: [{ id: "call_1", type: "function", function: { name: "weather", arguments: '{"city":"Paris"}' } }],
        finish_reason: "tool_calls",
      },
    ]);
    expect(attr(calls[0]!, Attr.toolDefinitions)).toEqual([
      {
        type: "function",
        function: {
          name: "weather",
          description: "The weather in a city",
          parameters: { $schema: "http://json-schema.org/draft-07/schema#", type: "object", properties: { city: { type: "string" } }, required: ["city"], additionalProperties: false },
        },
      },
    ]);
    expect(attr(calls[1]!, Attr.inputMessages)).toEqual([
      { role: "system", content: "You are terse." },
      { role: "user", content: "weather in Paris?" },
      { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "weather", arguments: '{"city":"Paris"}' } }] },
      { role: "tool", tool_call_id: "call_1", content: '{"city":"Paris","sky":"sunny"}' },
    ]);
    expect(attr(calls[1]!, Attr.outputMessages)).toEqual([{ role: "assistant", content: fixture.scenarios.generateText.text, finish_reason: "stop" }]);
    const usage = fixture.scenarios.generateText.messages[5]!.result!.usage as { inputTokens: { total: number }; outputTokens: { total: number } };
    expect(attr(calls[1]!, Attr.usageInputTokens)).toBe(usage.inputTokens.total);
    expect(attr(calls[1]!, Attr.usageOutputTokens)).toBe(usage.outputTokens.total);
    expect(attr(calls[1]!, Attr.responseId)).toBe("chatcmpl-1");
  });

  it("says a streamed call's output is missing, and ends the call with the step that read its stream", async () => {
    const { spans, report } = await replay(fixture.scenarios.streamText, { streamed: true });
    const calls = ofType(spans, SpanTypes.llm);
    expect(calls).toHaveLength(2);
    expect(report.llmCalls).toBe(2);
    for (const call of calls) {
      expect(attr(call, Attr.layer)).toBe("ai");
      expect(attr(call, Attr.captureWarning)).toMatch(/carries no streamed output/);
      expect(attr(call, Attr.outputMessages)).toBeUndefined();
      const step = spans.find((s) => s.spanId === call.parentId)!;
      expect(step.name).toMatch(/^step /);
      expect(call.endTime).toBe(step.endTime);
    }
  });

  it("records a failed model call and tool as errors", async () => {
    // The SDK catches a tool's error and resolves with a tool-error output.
    const [operationMessage, stepMessage, callMessage, toolMessage] = fixture.scenarios.generateText.messages;
    const toolError = { output: { type: "tool-error", toolCallId: "call_1", toolName: "weather", input: { city: "Paris" }, error: new Error("no such city") } };
    const n = ++rolloutCounter;
    const outcome = await tracer.capture({ rolloutId: `ro-${n}`, attemptId: `at-${n}` }, async () => {
      await channel.tracePromise(async () => {
        await channel.tracePromise(async () => {
          await channel.tracePromise(() => Promise.reject(new Error("model unavailable")), messageOf(callMessage!)).catch(() => undefined);
          await channel.tracePromise(async () => toolError, messageOf(toolMessage!));
        }, messageOf(stepMessage!));
      }, messageOf(operationMessage!));
    });
    const [call] = ofType(outcome.spans, SpanTypes.llm);
    expect(call!.status).toEqual({ code: "error", message: "model unavailable" });
    expect(attr(call!, Attr.errorType)).toBe("Error");
    const [tool] = ofType(outcome.spans, SpanTypes.tool);
    expect(tool!.status).toEqual({ code: "error", message: "no such city" });
    expect(outcome.report.incompleteSpans).toBe(0);
  });

  it("records nothing outside a traced rollout, and the SDK's work runs as without it", async () => {
    expect(installedInstrumentations()).toContain("ai");
    const value = await channel.tracePromise(async () => currentFrame() ?? 42, messageOf(fixture.scenarios.generateText.messages[0]!));
    expect(value).toBe(42);
  });
});

describe("the ai layer and the otel layer both seeing AI SDK 7 (@ai-sdk/otel registered)", () => {
  const processor = createOtelSpanProcessor();
  const provider = new BasicTracerProvider({ spanProcessors: [processor] });
  const otel = provider.getTracer("gen_ai");
  afterAll(async () => {
    await provider.shutdown();
  });

  it("keeps the channel's record: the SDK's GenAI spans are left out, other OTel spans are mirrored", async () => {
    // What @ai-sdk/otel starts for the operation and the tool (a GenAI root, a GenAI tool span),
    // and what the tool itself might start (a database call).
    const { spans, report } = await replay(fixture.scenarios.streamText, {
      streamed: true,
      insideOperation: () => otel.startSpan("invoke_agent mock-model", { attributes: { "gen_ai.operation.name": "invoke_agent", "gen_ai.request.model": "mock-model" } }).end(),
      insideTool: () => {
        otel.startSpan("execute_tool weather", { attributes: { "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "weather" } }).end();
        otel.startSpan("SELECT weather", { attributes: { "db.system": "postgresql" } }).end();
      },
    });
    expect(spans.filter((s) => attr(s, Attr.layer) === "otel").map((s) => s.name)).toEqual(["SELECT weather"]);
    const [query] = named(spans, "SELECT weather");
    expect(spans.find((s) => s.spanId === query!.parentId)!.name).toBe("execute_tool weather");
    expect(ofType(spans, SpanTypes.tool)).toHaveLength(1);
    expect(report.llmCalls).toBe(2);
  });

  it("mirrors GenAI spans again once the channel's operation is over", async () => {
    const n = ++rolloutCounter;
    const outcome = await tracer.capture({ rolloutId: `ro-${n}`, attemptId: `at-${n}` }, async () => {
      await channel.tracePromise(async () => undefined, messageOf(fixture.scenarios.generateText.messages[0]!));
      otel.startSpan("chat other-model", { attributes: { "gen_ai.operation.name": "chat", "gen_ai.request.model": "other-model" } }).end();
    });
    expect(outcome.spans.filter((s) => attr(s, Attr.layer) === "otel").map((s) => s.name)).toEqual(["chat other-model"]);
  });
});

describe("installing and uninstalling", () => {
  it("unsubscribes and unbinds on uninstall, so the SDK stops publishing", async () => {
    expect(hasSubscribers(`tracing:${AI_SDK_CHANNEL}:asyncEnd`)).toBe(true);
    release("ai");
    try {
      for (const phase of ["start", "end", "asyncStart", "asyncEnd", "error"]) expect(hasSubscribers(`tracing:${AI_SDK_CHANNEL}:${phase}`), phase).toBe(false);
      // Published anyway (an SDK that does not check), nothing is recorded.
      const n = ++rolloutCounter;
      const outcome = await tracer.capture({ rolloutId: `ro-${n}`, attemptId: `at-${n}` }, () => channel.tracePromise(async () => undefined, messageOf(fixture.scenarios.generateText.messages[0]!)));
      expect(outcome.spans).toHaveLength(1);
    } finally {
      expect(await acquire(createAiSdkInstrumentation())).toEqual({ installed: true });
    }
  });

  it("reports not installed, with the reason, on a Node without tracingChannel", async () => {
    vi.resetModules();
    vi.doMock("node:diagnostics_channel", () => ({ channel: () => undefined, tracingChannel: undefined }));
    try {
      const { createAiSdkInstrumentation: create } = await import("../../src/tracer/instrumentations/ai-sdk.js");
      const result = await create().install();
      expect(result).toEqual({ installed: false, reason: expect.stringMatching(/has no tracingChannel/) });
    } finally {
      vi.doUnmock("node:diagnostics_channel");
    }
  });
});
