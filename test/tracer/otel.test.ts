import { createOpenAI } from "@ai-sdk/openai";
import { ROOT_CONTEXT, context, trace } from "@opentelemetry/api";
import { BasicTracerProvider } from "@opentelemetry/sdk-trace-base";
import { generateText, stepCountIs, streamText, tool } from "ai";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { Attr, SpanTypes } from "tracetrain/instrumentations";
import { Tracer, emitReward, withAgent } from "tracetrain";
import type { SpanInput } from "tracetrain";
import type { SpanSink } from "tracetrain/otel";
import { acquire, release } from "../../src/tracer/instrumentation.js";
import { createFetchInstrumentation } from "../../src/tracer/instrumentations/fetch.js";
import { createOtelInstrumentation, createOtelSpanProcessor } from "../../src/tracer/instrumentations/otel.js";
import { type MockLlm, replySequence, startMockLlm } from "tracetrain/testing";

class RecordingSink implements SpanSink {
  spans: SpanInput[] = [];
  async addSpans(spans: SpanInput[]): Promise<void> {
    this.spans.push(...spans);
  }
}

const quietLogger = { debug() {}, info() {}, warn: vi.fn(), error: vi.fn() };
const attr = (span: SpanInput, key: string) => span.attributes?.[key];
const ofType = (spans: SpanInput[], type: string) => spans.filter((s) => attr(s, Attr.spanType) === type).sort((a, b) => a.startTime - b.startTime);
const only = (spans: SpanInput[], type: string): SpanInput => {
  const found = ofType(spans, type);
  expect(found, `exactly one ${type} span`).toHaveLength(1);
  return found[0]!;
};
const rootOf = (spans: SpanInput[]) => only(spans, SpanTypes.rollout);

const weatherTool = tool({
  description: "Current weather in a city",
  inputSchema: z.object({ city: z.string() }),
  execute: async ({ city }) => {
    emitReward(0.5, { name: "tool-used", final: false });
    return { city, sky: "sunny" };
  },
});

let llm: MockLlm;
let model: ReturnType<ReturnType<typeof createOpenAI>["chat"]>;

beforeAll(async () => {
  llm = await startMockLlm();
  model = createOpenAI({ baseURL: llm.baseUrl, apiKey: "test" }).chat("mock-model");
});
afterAll(async () => {
  await llm.close();
});
beforeEach(() => llm.script(undefined));

describe("otel instrumentation with the Vercel AI SDK", () => {
  beforeAll(async () => {
    expect(await acquire(createOtelInstrumentation())).toEqual({ installed: true });
  });
  afterAll(() => release("otel"));

  it("mirrors ai.generateText → doGenerate under the rollout root, the call in the shared LLM format", async () => {
    const tracer = new Tracer({ sink: new RecordingSink(), logger: quietLogger });
    const outcome = await tracer.capture({ rolloutId: "ro-1", attemptId: "at-1", agentName: "writer" }, () =>
      generateText({ model, system: "You are terse.", prompt: "Say hi", temperature: 0.3, maxOutputTokens: 50, experimental_telemetry: { isEnabled: true } }),
    );
    if (!outcome.ok) throw outcome.error;
    const result = outcome.value;
    expect(result.text).toBe("echo: Say hi");
    const spans = outcome.spans;
    const root = rootOf(spans);
    const chain = only(spans, SpanTypes.chain);
    const call = only(spans, SpanTypes.llm);
    expect(spans).toHaveLength(3);

    expect(chain.name).toBe("ai.generateText");
    expect(chain.parentId).toBe(root.spanId);
    expect(attr(chain, Attr.layer)).toBe("otel");
    // Other spans keep their attributes, under their own names.
    expect(attr(chain, "ai.operationId")).toBe("ai.generateText");
    expect(attr(chain, "ai.prompt")).toBe(JSON.stringify({ system: "You are terse.", prompt: "Say hi" }));
    expect(attr(chain, "ai.response.text")).toBe("echo: Say hi");

    expect(call.name).toBe("chat mock-model");
    expect(call.kind).toBe("client");
    expect(call.parentId).toBe(chain.spanId);
    expect(call.status).toEqual({ code: "ok" });
    expect(call.startTime).toBeGreaterThanOrEqual(chain.startTime);
    expect(call.endTime).toBeLessThanOrEqual(chain.endTime);
    expect(call.attributes).toMatchObject({
      [Attr.layer]: "otel",
      [Attr.agentName]: "writer",
      [Attr.otelSpanName]: "ai.generateText.doGenerate",
      "ai.operationId": "ai.generateText.doGenerate",
      [Attr.operationName]: "chat",
      [Attr.providerName]: "openai",
      [Attr.requestModel]: "mock-model",
      [Attr.requestTemperature]: 0.3,
      [Attr.requestMaxTokens]: 50,
      [Attr.inputMessages]: [
        { role: "system", content: "You are terse." },
        { role: "user", content: "Say hi" },
      ],
      [Attr.outputMessages]: [{ role: "assistant", content: "echo: Say hi", finish_reason: "stop" }],
      [Attr.responseFinishReasons]: ["stop"],
      [Attr.responseId]: result.response.id,
      [Attr.responseModel]: "mock-model",
      [Attr.usageInputTokens]: result.usage.inputTokens,
      [Attr.usageOutputTokens]: result.usage.outputTokens,
    });
    expect(result.usage.inputTokens).toBeGreaterThan(0);
    // The converted content replaces the SDK's own copy rather than doubling it.
    expect(attr(call, "ai.prompt.messages")).toBeUndefined();
    expect(attr(call, "ai.response.text")).toBeUndefined();
    expect(outcome.report).toMatchObject({ llmCalls: 1, layers: { otel: { spans: 2, llmCalls: 1 } } });
  });

  it("records a tool round: the model's tool call, the ai.toolCall span and the second call's messages", async () => {
    llm.script(replySequence([{ toolCalls: [{ name: "weather", arguments: { city: "Paris" } }] }]));
    const tracer = new Tracer({ sink: new RecordingSink(), logger: quietLogger });
    const outcome = await tracer.capture({ rolloutId: "ro-tools", attemptId: "at-1" }, () =>
      withAgent("forecaster", () =>
        generateText({
          model,
          prompt: "Weather in Paris?",
          tools: { weather: weatherTool },
          stopWhen: stepCountIs(3),
          experimental_telemetry: { isEnabled: true },
        }),
      ),
    );
    if (!outcome.ok) throw outcome.error;
    expect(outcome.value.text).toBe("echo: Weather in Paris?");
    const spans = outcome.spans;
    const agent = only(spans, SpanTypes.agent);
    const chain = only(spans, SpanTypes.chain);
    const [first, second] = ofType(spans, SpanTypes.llm);
    const toolSpan = only(spans, SpanTypes.tool);
    const reward = only(spans, SpanTypes.reward);
    expect(ofType(spans, SpanTypes.llm)).toHaveLength(2);
    expect(chain.parentId).toBe(agent.spanId);
    for (const span of [first!, second!, toolSpan]) {
      expect(span.parentId).toBe(chain.spanId);
      expect(attr(span, Attr.agentName)).toBe("forecaster");
    }

    const toolCallId = (outcome.value.steps[0]!.toolCalls[0] as { toolCallId: string }).toolCallId;
    const toolCall = { id: toolCallId, type: "function", function: { name: "weather", arguments: '{"city":"Paris"}' } };
    expect(attr(first!, Attr.outputMessages)).toEqual([{ role: "assistant", content: null, tool_calls: [toolCall], finish_reason: "tool_calls" }]);
    expect(attr(first!, Attr.toolDefinitions)).toEqual([
      {
        type: "function",
        function: {
          name: "weather",
          description: "Current weather in a city",
          parameters: expect.objectContaining({ type: "object", properties: { city: { type: "string" } }, required: ["city"] }),
        },
      },
    ]);

    expect(toolSpan.name).toBe("ai.toolCall");
    expect(toolSpan.startTime).toBeGreaterThanOrEqual(first!.endTime);
    expect(toolSpan.attributes).toMatchObject({
      [Attr.layer]: "otel",
      [Attr.operationName]: "execute_tool",
      [Attr.toolName]: "weather",
      [Attr.toolCallId]: toolCallId,
      [Attr.toolCallArguments]: { city: "Paris" },
      [Attr.toolCallResult]: { city: "Paris", sky: "sunny" },
      "ai.toolCall.name": "weather",
    });
    // A reward emitted inside the tool lands under the tool's mirror: the bridge reads OTel's active span.
    expect(reward.parentId).toBe(toolSpan.spanId);
    expect(attr(reward, Attr.agentName)).toBe("forecaster");

    expect(attr(second!, Attr.inputMessages)).toEqual([
      { role: "user", content: "Weather in Paris?" },
      { role: "assistant", content: null, tool_calls: [toolCall] },
      { role: "tool", tool_call_id: toolCallId, content: '{"city":"Paris","sky":"sunny"}' },
    ]);
    // What the OpenAI provider really sent (the mock recorded it) is what the span says was sent.
    const sent = llm.requests.filter((r) => r.path === "/v1/chat/completions").at(-1)!.body as { messages: unknown[] };
    expect(sent.messages).toEqual(attr(second!, Attr.inputMessages));
    expect(attr(second!, Attr.outputMessages)).toEqual([{ role: "assistant", content: "echo: Weather in Paris?", finish_reason: "stop" }]);
    expect(outcome.report).toMatchObject({ llmCalls: 2, rewards: 1 });
  });

  it("records streamText's doStream call: streamed text, usage and time to first chunk", async () => {
    const tracer = new Tracer({ sink: new RecordingSink(), logger: quietLogger });
    const outcome = await tracer.capture({ rolloutId: "ro-stream", attemptId: "at-1" }, async () => {
      const result = streamText({ model, prompt: "Stream this", experimental_telemetry: { isEnabled: true } });
      let text = "";
      for await (const chunk of result.textStream) text += chunk;
      return { text, usage: await result.usage };
    });
    if (!outcome.ok) throw outcome.error;
    expect(outcome.value.text).toBe("echo: Stream this");
    const chain = only(outcome.spans, SpanTypes.chain);
    const call = only(outcome.spans, SpanTypes.llm);
    expect(chain.name).toBe("ai.streamText");
    expect(call.parentId).toBe(chain.spanId);
    expect(call.attributes).toMatchObject({
      [Attr.otelSpanName]: "ai.streamText.doStream",
      [Attr.requestStream]: true,
      [Attr.inputMessages]: [{ role: "user", content: "Stream this" }],
      [Attr.outputMessages]: [{ role: "assistant", content: "echo: Stream this", finish_reason: "stop" }],
      [Attr.usageInputTokens]: outcome.value.usage.inputTokens,
      [Attr.usageOutputTokens]: outcome.value.usage.outputTokens,
    });
    const ttfc = attr(call, Attr.timeToFirstChunk);
    expect(typeof ttfc === "number" && ttfc >= 0 && ttfc <= (call.endTime - call.startTime) / 1000).toBe(true);
    expect(call.events?.map((e) => e.name)).toContain("ai.stream.firstChunk");
  });

  it("keeps 20 concurrent rollouts apart", async () => {
    const sink = new RecordingSink();
    const tracer = new Tracer({ sink, logger: quietLogger });
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        tracer.capture({ rolloutId: `ro-${i}`, attemptId: "at-1" }, async () => {
          await new Promise((resolve) => setTimeout(resolve, (i * 7) % 11));
          return withAgent(`agent-${i}`, () => generateText({ model, prompt: `question ${i}`, experimental_telemetry: { isEnabled: true } }));
        }),
      ),
    );
    outcomes.forEach((outcome, i) => {
      if (!outcome.ok) throw outcome.error;
      expect(outcome.value.text).toBe(`echo: question ${i}`);
      const spans = outcome.spans;
      expect(spans.every((s) => s.rolloutId === `ro-${i}` && s.traceId === spans[0]!.traceId)).toBe(true);
      const agent = only(spans, SpanTypes.agent);
      const chain = only(spans, SpanTypes.chain);
      const call = only(spans, SpanTypes.llm);
      expect(chain.parentId).toBe(agent.spanId);
      expect(call.parentId).toBe(chain.spanId);
      expect(attr(call, Attr.agentName)).toBe(`agent-${i}`);
      expect(attr(call, Attr.inputMessages)).toEqual([{ role: "user", content: `question ${i}` }]);
      expect(attr(call, Attr.outputMessages)).toEqual([{ role: "assistant", content: `echo: question ${i}`, finish_reason: "stop" }]);
    });
    expect(sink.spans).toHaveLength(20 * 4);
  });

  it("records nothing for calls made outside a traced rollout", async () => {
    const sink = new RecordingSink();
    const tracer = new Tracer({ sink, logger: quietLogger });
    const [outside, inside] = await Promise.all([
      generateText({ model, prompt: "outside", experimental_telemetry: { isEnabled: true } }),
      tracer.capture({ rolloutId: "ro-in", attemptId: "at-1" }, () => generateText({ model, prompt: "inside", experimental_telemetry: { isEnabled: true } })),
    ]);
    expect(outside.text).toBe("echo: outside");
    expect(inside.ok).toBe(true);
    expect(sink.spans).toHaveLength(3);
    expect(sink.spans.every((s) => s.rolloutId === "ro-in")).toBe(true);
    expect(attr(only(sink.spans, SpanTypes.llm), Attr.inputMessages)).toEqual([{ role: "user", content: "inside" }]);
    // And a later trace does not pick up anything left over from the call outside.
    const later = await tracer.capture({ rolloutId: "ro-later", attemptId: "at-1" }, () => undefined);
    expect(later.spans.map((s) => s.name)).toEqual(["tracetrain.rollout"]);
  });

  it("records a failed model call: error status, error type and the exception event, on the call and the chain", async () => {
    llm.script(() => ({ error: { status: 400, message: "context too long", type: "invalid_request_error" } }));
    const tracer = new Tracer({ sink: new RecordingSink(), logger: quietLogger });
    const outcome = await tracer.capture({ rolloutId: "ro-err", attemptId: "at-1" }, () =>
      generateText({ model, prompt: "Too long", maxRetries: 0, experimental_telemetry: { isEnabled: true } }),
    );
    expect(outcome.ok).toBe(false);
    const chain = only(outcome.spans, SpanTypes.chain);
    const call = only(outcome.spans, SpanTypes.llm);
    expect(call.parentId).toBe(chain.spanId);
    expect(call.status).toEqual({ code: "error", message: "context too long" });
    expect(call.attributes).toMatchObject({ [Attr.errorType]: "AI_APICallError", [Attr.inputMessages]: [{ role: "user", content: "Too long" }] });
    expect(attr(call, Attr.outputMessages)).toBeUndefined();
    expect(call.events?.filter((e) => e.name === "exception").map((e) => e.attributes?.[Attr.exceptionMessage])).toEqual(["context too long"]);
    expect(chain.status).toMatchObject({ code: "error" });
  });

  it("keeps every message of a long flattened conversation (beyond OTel's default 128 attributes)", async () => {
    const attributes: Record<string, string> = { "openinference.span.kind": "LLM", "llm.model_name": "m" };
    for (let i = 0; i < 100; i++) {
      attributes[`llm.input_messages.${i}.message.role`] = i % 2 === 0 ? "user" : "assistant";
      attributes[`llm.input_messages.${i}.message.content`] = `turn ${i}`;
    }
    const tracer = new Tracer({ sink: new RecordingSink(), logger: quietLogger });
    const outcome = await tracer.capture({ rolloutId: "ro-long", attemptId: "at-1" }, () => {
      trace.getTracer("openinference").startSpan("llm", { attributes }).end();
    });
    const messages = attr(only(outcome.spans, SpanTypes.llm), Attr.inputMessages) as { content: string }[];
    expect(messages).toHaveLength(100);
    expect(messages[99]).toEqual({ role: "assistant", content: "turn 99" });
  });

  it("with the fetch instrumentation too, each call counts once: fetch's llm under otel's llm_run", async () => {
    const fetchInstrumentation = createFetchInstrumentation();
    expect(await acquire(fetchInstrumentation)).toEqual({ installed: true });
    try {
      llm.script(replySequence([{ toolCalls: [{ name: "weather", arguments: { city: "Oslo" } }] }]));
      const tracer = new Tracer({ sink: new RecordingSink(), logger: quietLogger });
      const outcome = await tracer.capture({ rolloutId: "ro-both", attemptId: "at-1" }, () =>
        generateText({ model, prompt: "Weather in Oslo?", tools: { weather: weatherTool }, stopWhen: stepCountIs(3), experimental_telemetry: { isEnabled: true } }),
      );
      if (!outcome.ok) throw outcome.error;
      const spans = outcome.spans;
      const calls = ofType(spans, SpanTypes.llm);
      const runs = ofType(spans, SpanTypes.llmRun);
      expect(calls).toHaveLength(2);
      expect(runs).toHaveLength(2);
      calls.forEach((call, i) => {
        const run = runs[i]!;
        expect(attr(call, Attr.layer)).toBe("fetch");
        expect(call.parentId).toBe(run.spanId);
        expect(run.attributes).toMatchObject({ [Attr.layer]: "otel", [Attr.recordedBy]: "fetch", [Attr.otelSpanName]: "ai.generateText.doGenerate" });
        // Both layers saw the same call.
        expect(attr(call, Attr.inputMessages)).toEqual(attr(run, Attr.inputMessages));
      });
      expect(attr(calls[1]!, Attr.outputMessages)).toEqual([expect.objectContaining({ role: "assistant", content: "echo: Weather in Oslo?" })]);
      expect(outcome.report).toMatchObject({ llmCalls: 2, layers: { fetch: { llmCalls: 2 }, otel: { llmCalls: 0 } } });
    } finally {
      release(fetchInstrumentation.name);
    }
  });
});

describe("createOtelSpanProcessor fed spans by hand", () => {
  const provider = new BasicTracerProvider({ spanProcessors: [createOtelSpanProcessor()] });
  const otel = provider.getTracer("hand-made");
  afterAll(() => provider.shutdown());

  const weatherSchema = { type: "function", function: { name: "weather", description: "Current weather", parameters: { type: "object", properties: { city: { type: "string" } } } } };
  /** What both dialects below describe, in tracetrain's format. */
  const expectedCall = {
    [Attr.operationName]: "chat",
    [Attr.providerName]: "openai",
    [Attr.requestModel]: "gpt-4.1-mini",
    [Attr.requestTemperature]: 0.2,
    [Attr.requestMaxTokens]: 64,
    [Attr.inputMessages]: [
      { role: "system", content: "Be brief." },
      { role: "user", content: "Weather in Rome?" },
    ],
    [Attr.toolDefinitions]: [weatherSchema],
    [Attr.outputMessages]: [
      { role: "assistant", content: null, tool_calls: [{ id: "call_7", type: "function", function: { name: "weather", arguments: '{"city":"Rome"}' } }], finish_reason: "tool_calls" },
    ],
    [Attr.responseFinishReasons]: ["tool_calls"],
    [Attr.usageInputTokens]: 21,
    [Attr.usageOutputTokens]: 9,
    [Attr.agentName]: "planner",
  };

  /** Runs `spans` inside a traced rollout and returns what was recorded. */
  async function record(spans: () => void) {
    const tracer = new Tracer({ sink: new RecordingSink(), logger: quietLogger });
    const outcome = await tracer.capture({ rolloutId: "ro-hand", attemptId: "at-1" }, spans);
    return outcome.spans;
  }

  it("normalises OpenInference spans (kinds AGENT, LLM, TOOL) into the LLM-call format", async () => {
    const spans = await record(() => {
      const agent = otel.startSpan("planner-run", { attributes: { "openinference.span.kind": "AGENT", "agent.name": "planner" } });
      const inAgent = trace.setSpan(ROOT_CONTEXT, agent);
      const call = otel.startSpan(
        "ChatCompletion",
        {
          attributes: {
            "openinference.span.kind": "LLM",
            "llm.model_name": "gpt-4.1-mini",
            "llm.provider": "openai",
            "llm.invocation_parameters": JSON.stringify({ temperature: 0.2, max_tokens: 64 }),
            "llm.input_messages.0.message.role": "system",
            "llm.input_messages.0.message.content": "Be brief.",
            "llm.input_messages.1.message.role": "user",
            "llm.input_messages.1.message.contents.0.message_content.type": "text",
            "llm.input_messages.1.message.contents.0.message_content.text": "Weather in Rome?",
            "llm.tools.0.tool.json_schema": JSON.stringify(weatherSchema),
            "input.value": '{"messages":"…the raw request…"}',
          },
        },
        inAgent,
      );
      // Instrumentations set the response when it arrives.
      call.setAttributes({
        "llm.output_messages.0.message.role": "assistant",
        "llm.output_messages.0.message.tool_calls.0.tool_call.id": "call_7",
        "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "weather",
        "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": '{"city":"Rome"}',
        "llm.finish_reason": "tool_calls",
        "llm.token_count.prompt": 21,
        "llm.token_count.completion": 9,
        "llm.token_count.total": 30,
      });
      call.setStatus({ code: 1 });
      call.end();
      const toolSpan = otel.startSpan("weather", { attributes: { "openinference.span.kind": "TOOL", "tool.name": "weather", "input.value": '{"city":"Rome"}', "output.value": "sunny" } }, inAgent);
      toolSpan.end();
      agent.end();
    });
    const agent = only(spans, SpanTypes.agent);
    const call = only(spans, SpanTypes.llm);
    const toolSpan = only(spans, SpanTypes.tool);
    expect(agent.parentId).toBe(rootOf(spans).spanId);
    expect(agent.attributes).toMatchObject({ [Attr.agentName]: "planner", [Attr.genAiAgentName]: "planner", [Attr.operationName]: "invoke_agent", "openinference.span.kind": "AGENT" });
    expect(call.parentId).toBe(agent.spanId);
    expect(call.name).toBe("chat gpt-4.1-mini");
    expect(call.attributes).toMatchObject({ ...expectedCall, [Attr.otelSpanName]: "ChatCompletion", "llm.token_count.total": 30 });
    // The flattened messages and raw input were converted, not copied.
    expect(Object.keys(call.attributes ?? {}).filter((k) => k.startsWith("llm.input_messages") || k === "input.value")).toEqual([]);
    expect(toolSpan.parentId).toBe(agent.spanId);
    expect(toolSpan.attributes).toMatchObject({ [Attr.toolName]: "weather", [Attr.toolCallArguments]: { city: "Rome" }, [Attr.toolCallResult]: "sunny", [Attr.agentName]: "planner" });
  });

  it("normalises OTel GenAI spans (invoke_agent, chat with structured messages, execute_tool) into the same format", async () => {
    const spans = await record(() => {
      const agent = otel.startSpan("invoke_agent planner", { attributes: { "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "planner" } });
      const inAgent = trace.setSpan(ROOT_CONTEXT, agent);
      const call = otel.startSpan(
        "chat gpt-4.1-mini",
        {
          kind: 2,
          attributes: {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4.1-mini",
            "gen_ai.request.temperature": 0.2,
            "gen_ai.request.max_tokens": 64,
            "gen_ai.system_instructions": JSON.stringify([{ type: "text", content: "Be brief." }]),
            "gen_ai.input.messages": JSON.stringify([{ role: "user", parts: [{ type: "text", content: "Weather in Rome?" }] }]),
            "gen_ai.tool.definitions": JSON.stringify([{ type: "function", name: "weather", description: "Current weather", parameters: weatherSchema.function.parameters }]),
          },
        },
        inAgent,
      );
      call.setAttributes({
        "gen_ai.response.id": "resp-1",
        "gen_ai.response.model": "gpt-4.1-mini-2025",
        "gen_ai.response.finish_reasons": ["tool_calls"],
        "gen_ai.usage.input_tokens": 21,
        "gen_ai.usage.output_tokens": 9,
        "gen_ai.output.messages": JSON.stringify([
          { role: "assistant", parts: [{ type: "tool_call", id: "call_7", name: "weather", arguments: { city: "Rome" } }], finish_reason: "tool_calls" },
        ]),
      });
      call.end();
      const toolSpan = otel.startSpan(
        "execute_tool weather",
        { attributes: { "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "weather", "gen_ai.tool.call.id": "call_7", "gen_ai.tool.call.arguments": '{"city":"Rome"}' } },
        inAgent,
      );
      toolSpan.setAttribute("gen_ai.tool.call.result", '"sunny"');
      toolSpan.end();
      const failed = otel.startSpan("chat gpt-4.1-mini", { attributes: { "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4.1-mini", "error.type": "429" } }, inAgent);
      failed.setStatus({ code: 2, message: "rate limited" });
      failed.end();
      agent.end();
    });
    const agent = only(spans, SpanTypes.agent);
    const [call, failed] = ofType(spans, SpanTypes.llm);
    const toolSpan = only(spans, SpanTypes.tool);
    expect(call!.parentId).toBe(agent.spanId);
    expect(call!.name).toBe("chat gpt-4.1-mini");
    expect(call!.attributes).toMatchObject({ ...expectedCall, [Attr.responseId]: "resp-1", [Attr.responseModel]: "gpt-4.1-mini-2025" });
    expect(toolSpan.attributes).toMatchObject({ [Attr.toolName]: "weather", [Attr.toolCallId]: "call_7", [Attr.toolCallArguments]: { city: "Rome" }, [Attr.toolCallResult]: "sunny", [Attr.agentName]: "planner" });
    expect(failed!.status).toEqual({ code: "error", message: "rate limited" });
    expect(attr(failed!, Attr.errorType)).toBe("429");
    expect(attr(failed!, Attr.outputMessages)).toBeUndefined();
  });

  it("reads GenAI messages from the operation-details event, and from the older indexed gen_ai.prompt / gen_ai.completion form", async () => {
    const spans = await record(() => {
      const withEvent = otel.startSpan("chat m", { attributes: { "gen_ai.operation.name": "chat", "gen_ai.request.model": "m" } });
      withEvent.addEvent("gen_ai.client.inference.operation.details", {
        "gen_ai.input.messages": JSON.stringify([
          { role: "user", parts: [{ type: "text", content: "2+2?" }] },
          { role: "assistant", parts: [{ type: "tool_call", id: "c1", name: "calc", arguments: { expr: "2+2" } }] },
          { role: "tool", parts: [{ type: "tool_call_response", id: "c1", response: 4 }] },
        ]),
        "gen_ai.output.messages": JSON.stringify([{ role: "assistant", parts: [{ type: "text", content: "4" }], finish_reason: "stop" }]),
      });
      withEvent.end();
      const indexed = otel.startSpan("openai.chat", {
        attributes: {
          "gen_ai.system": "openai",
          "gen_ai.request.model": "m2",
          "gen_ai.prompt.0.role": "user",
          "gen_ai.prompt.0.content": "hello",
          "gen_ai.completion.0.role": "assistant",
          "gen_ai.completion.0.finish_reason": "tool_calls",
          "gen_ai.completion.0.tool_calls.0.id": "c2",
          "gen_ai.completion.0.tool_calls.0.name": "greet",
          "gen_ai.completion.0.tool_calls.0.arguments": '{"to":"you"}',
          "gen_ai.usage.prompt_tokens": 3,
          "gen_ai.usage.completion_tokens": 4,
        },
      });
      indexed.end();
    });
    const [fromEvent, fromIndexed] = ofType(spans, SpanTypes.llm);
    expect(fromEvent!.attributes).toMatchObject({
      [Attr.inputMessages]: [
        { role: "user", content: "2+2?" },
        { role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: "calc", arguments: '{"expr":"2+2"}' } }] },
        { role: "tool", tool_call_id: "c1", content: "4" },
      ],
      [Attr.outputMessages]: [{ role: "assistant", content: "4", finish_reason: "stop" }],
    });
    // Converted, so the bulky event itself is not copied.
    expect(fromEvent!.events).toEqual([]);
    expect(fromIndexed!.attributes).toMatchObject({
      [Attr.providerName]: "openai",
      [Attr.requestModel]: "m2",
      [Attr.inputMessages]: [{ role: "user", content: "hello" }],
      [Attr.outputMessages]: [{ role: "assistant", content: null, tool_calls: [{ id: "c2", type: "function", function: { name: "greet", arguments: '{"to":"you"}' } }], finish_reason: "tool_calls" }],
      [Attr.usageInputTokens]: 3,
      [Attr.usageOutputTokens]: 4,
    });
    expect(Object.keys(fromIndexed!.attributes ?? {}).filter((k) => k.startsWith("gen_ai.prompt.") || k.startsWith("gen_ai.completion."))).toEqual([]);
  });

  it("places OTel times on the tracer's clock: started now, or explicitly in the past, durations exact", async () => {
    // Bounds come from clock readings around each step, so a busy machine cannot fail them.
    const clock = { beforeRoot: Date.now(), started: 0, afterStart: 0 };
    const spans = await record(() => {
      const started = (clock.started = Date.now());
      const now = otel.startSpan("now", { attributes: { "gen_ai.operation.name": "invoke_workflow" } });
      clock.afterStart = Date.now();
      now.end(started + 250.123456);
      const past = otel.startSpan("past", { startTime: started - 5_000 });
      past.addEvent("mid", {}, started - 4_000);
      past.end(started - 3_000);
    });
    const root = rootOf(spans);
    const now = spans.find((s) => s.name === "now")!;
    const past = spans.find((s) => s.name === "past")!;
    expect(now.startTime).toBeGreaterThanOrEqual(root.startTime);
    // "now" started somewhere between the two clock readings around startSpan (to the millisecond).
    expect(now.endTime - now.startTime).toBeGreaterThan(250.123 - (clock.afterStart - clock.started) - 1);
    expect(now.endTime - now.startTime).toBeLessThanOrEqual(250.124);
    expect(past.endTime - past.startTime).toBeCloseTo(2_000, 3);
    expect(past.events![0]!.time - past.startTime).toBeCloseTo(1_000, 3);
    // Anchored 5 s before `started`, which came after the trace's start — by as much as passed since beforeRoot.
    const offset = past.startTime - (root.startTime - 5_000);
    expect(offset).toBeGreaterThan(-1);
    expect(offset).toBeLessThan(clock.started - clock.beforeRoot + 1);
  });

  it("parents a span started after its OTel parent ended to that parent's mirror", async () => {
    const spans = await record(() => {
      const job = otel.startSpan("job", { attributes: { "gen_ai.operation.name": "invoke_workflow" } });
      job.end();
      otel.startSpan("follow-up", {}, trace.setSpan(ROOT_CONTEXT, job)).end();
    });
    const job = spans.find((s) => s.name === "job")!;
    expect(attr(job, Attr.spanType)).toBe(SpanTypes.chain);
    expect(spans.find((s) => s.name === "follow-up")!.parentId).toBe(job.spanId);
  });

  it("ignores spans outside a traced rollout, and spans that end after their trace are closed by it", async () => {
    const outside = otel.startSpan("chat gpt-4.1-mini", { attributes: { "gen_ai.operation.name": "chat" } });
    outside.end();
    let late: ReturnType<typeof otel.startSpan> | undefined;
    const spans = await record(() => {
      late = otel.startSpan("long", { attributes: { "gen_ai.operation.name": "invoke_workflow" } });
    });
    late!.end();
    expect(spans.map((s) => s.name).sort()).toEqual(["long", "tracetrain.rollout"]);
    const long = spans.find((s) => s.name === "long")!;
    expect(long.attributes).toMatchObject({ [Attr.spanType]: SpanTypes.chain, [Attr.incomplete]: true });
  });
});

describe("install and uninstall", () => {
  it("registers a provider and a context manager, and removes exactly what it registered", async () => {
    const instrumentation = createOtelInstrumentation();
    expect(await instrumentation.install()).toEqual({ installed: true });
    // Spans record inside a traced rollout only; outside, they are non-recording (and cost almost nothing).
    expect(trace.getTracer("probe").startSpan("outside").isRecording()).toBe(false);
    const inside = await new Tracer({ sink: new RecordingSink(), logger: quietLogger }).capture({ rolloutId: "ro-probe", attemptId: "at-1" }, () => {
      const probe = trace.getTracer("probe").startSpan("probe");
      expect(probe.isRecording()).toBe(true);
      probe.end();
    });
    expect(inside.spans.map((s) => s.name)).toContain("probe");
    const key = Symbol("k");
    await expect(context.with(ROOT_CONTEXT.setValue(key, 1), async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      return context.active().getValue(key);
    })).resolves.toBe(1);
    instrumentation.uninstall();
    const after = await new Tracer({ sink: new RecordingSink(), logger: quietLogger }).capture({ rolloutId: "ro-probe", attemptId: "at-2" }, () => {
      expect(trace.getTracer("probe").startSpan("probe").isRecording()).toBe(false);
    });
    expect(after.spans.map((s) => s.name)).toEqual(["tracetrain.rollout"]);
    expect(context.with(ROOT_CONTEXT.setValue(key, 1), () => context.active().getValue(key))).toBeUndefined();
  });

  it("declines with the fix when the app registered its own provider, and leaves it in place", async () => {
    const own = new BasicTracerProvider({ spanProcessors: [createOtelSpanProcessor()] });
    expect(trace.setGlobalTracerProvider(own)).toBe(true);
    try {
      const instrumentation = createOtelInstrumentation();
      const result = await instrumentation.install();
      expect(result.installed).toBe(false);
      expect(!result.installed && result.reason).toMatch(/already registered.*spanProcessors: \[createOtelSpanProcessor\(\)/);
      instrumentation.uninstall();
      // The app's provider, carrying our processor, still records — and mirrors into rollouts.
      const tracer = new Tracer({ sink: new RecordingSink(), logger: quietLogger });
      const outcome = await tracer.capture({ rolloutId: "ro-own", attemptId: "at-1" }, () => {
        trace.getTracer("app").startSpan("app-step").end();
      });
      expect(outcome.spans.map((s) => s.name).sort()).toEqual(["app-step", "tracetrain.rollout"]);
    } finally {
      trace.disable();
      await own.shutdown();
    }
  });
});
