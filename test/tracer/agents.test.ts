import { existsSync } from "node:fs";
import OpenAI from "openai";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import {
  Agent,
  type InputGuardrail,
  getDefaultOpenAIClient,
  run,
  setDefaultOpenAIClient,
  setOpenAIAPI,
  setTraceProcessors,
  setTracingDisabled,
  tool,
  withCustomSpan,
} from "@openai/agents";
import { Attr, SpanTypes } from "tracetrain/instrumentations";
import { Tracer, emitMessage } from "tracetrain";
import type { SpanInput } from "tracetrain";
import type { SpanSink } from "tracetrain/otel";
import { acquire, release } from "../../src/tracer/instrumentation.js";
import { createAgentsInstrumentation } from "../../src/tracer/instrumentations/agents.js";
import { type MockLlm, type Reply, type ResponderRequest, replySequence, startMockLlm } from "tracetrain/testing";

/**
 * The real Agents SDK (and the real openai client under it) against the mock LLM server. The SDK's
 * tracing is global state: it is switched on here (vitest's NODE_ENV=test switches it off), with
 * the default OpenAI exporter removed — it would try the network.
 */

class RecordingSink implements SpanSink {
  spans: SpanInput[] = [];
  async addSpans(spans: SpanInput[]): Promise<void> {
    this.spans.push(...spans);
  }
}

const quietLogger = { debug() {}, info() {}, warn: vi.fn(), error: vi.fn() };
const tracer = new Tracer({ sink: new RecordingSink(), logger: quietLogger });
const attr = (span: SpanInput, key: string) => span.attributes?.[key];
const ofType = (spans: SpanInput[], type: string) => spans.filter((s) => attr(s, Attr.spanType) === type);
const named = (spans: SpanInput[], name: string) => {
  const found = spans.filter((s) => s.name === name);
  expect(found, `one span named ${name}`).toHaveLength(1);
  return found[0]!;
};
const byStart = (spans: SpanInput[]) => [...spans].sort((a, b) => a.startTime - b.startTime);
/** The chain of ancestors' names, innermost first. */
function ancestors(spans: SpanInput[], span: SpanInput): string[] {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const names: string[] = [];
  for (let parent = byId.get(span.parentId ?? ""); parent; parent = byId.get(parent.parentId ?? "")) names.push(parent.name);
  return names;
}

// ---------------------------------------------------------------------------------------------
// Scripted model: ask for the weather tool, then answer with its result. Decided per request
// (not by a counter), so concurrent runs get consistent answers.
// ---------------------------------------------------------------------------------------------

/** The last tool result in a chat (`role: tool`) or Responses (`function_call_output`) request. */
function toolResultOf(body: Record<string, unknown>): string | undefined {
  const items = (Array.isArray(body.messages) ? body.messages : Array.isArray(body.input) ? body.input : []) as Array<Record<string, unknown>>;
  const results = items.filter((m) => m.role === "tool" || m.type === "function_call_output");
  const last = results.at(-1);
  if (!last) return undefined;
  return String(last.content ?? last.output);
}

const cityOf = (text: string) => /in (\w+)\?/.exec(text)?.[1] ?? "nowhere";

function weatherResponder({ body, lastUserText }: ResponderRequest): Reply {
  const result = toolResultOf(body);
  if (result === undefined) return { toolCalls: [{ name: "get_weather", arguments: { city: cityOf(lastUserText) } }] };
  return { text: `Forecast: ${result}.` };
}

const weatherTool = tool({
  name: "get_weather",
  description: "Today's weather in a city",
  parameters: z.object({ city: z.string() }),
  execute: async ({ city }) => `sunny in ${city}`,
});

const INSTRUCTIONS = "You answer weather questions with the get_weather tool.";
const weatherAgent = new Agent({ name: "weather", instructions: INSTRUCTIONS, model: "mock-model", tools: [weatherTool] });

let mock: MockLlm;
let previousClient: OpenAI | undefined;
const instrumentation = createAgentsInstrumentation();
const openaiFile = new URL("../../src/tracer/instrumentations/openai.ts", import.meta.url);

beforeAll(async () => {
  mock = await startMockLlm();
  previousClient = getDefaultOpenAIClient();
  setDefaultOpenAIClient(new OpenAI({ baseURL: mock.baseUrl, apiKey: "test", maxRetries: 0 }));
  setTraceProcessors([]);
  setTracingDisabled(false);
  expect(await acquire(instrumentation)).toEqual({ installed: true });
});

afterEach(() => {
  setOpenAIAPI("responses");
  mock.script(undefined);
});

afterAll(async () => {
  release("agents");
  setTracingDisabled(true); // as NODE_ENV=test had it
  setOpenAIAPI("responses");
  if (previousClient) setDefaultOpenAIClient(previousClient);
  // The default exporter is not put back: it would start an export loop aimed at the network.
  await mock.close();
});

const APIS = [
  { api: "chat_completions", responseId: /^chatcmpl-\d+$/ },
  { api: "responses", responseId: /^resp_\d+$/ },
] as const;

describe.each(APIS)("OpenAI Agents SDK instrumentation ($api)", ({ api, responseId }) => {
  const useApi = () => setOpenAIAPI(api);

  it("records the run: task, agent, turns, model calls with their messages, and the tool call", async () => {
    useApi();
    mock.script(weatherResponder);
    const first = mock.requests.length;
    const outcome = await tracer.capture({ rolloutId: "ro-tool", attemptId: "at-1" }, () => run(weatherAgent, "Weather in Paris?"));
    expect(outcome.ok).toBe(true);
    expect(outcome.ok && outcome.value.finalOutput).toBe("Forecast: sunny in Paris.");
    const spans = outcome.spans;

    const root = named(spans, "tracetrain.rollout");
    const task = named(spans, "task Agent workflow");
    const agent = named(spans, "invoke_agent weather");
    const [turn1, turn2] = [named(spans, "turn 1"), named(spans, "turn 2")];
    const toolSpan = named(spans, "execute_tool get_weather");
    const llms = byStart(ofType(spans, SpanTypes.llm));
    expect(llms).toHaveLength(2);
    const [call1, call2] = llms as [SpanInput, SpanInput];

    // The SDK's tree, rooted where the run started.
    expect(task.parentId).toBe(root.spanId);
    expect(agent.parentId).toBe(task.spanId);
    expect(turn1.parentId).toBe(agent.spanId);
    expect(turn2.parentId).toBe(agent.spanId);
    expect(call1.parentId).toBe(turn1.spanId);
    expect(toolSpan.parentId).toBe(turn1.spanId);
    expect(call2.parentId).toBe(turn2.spanId);
    for (const span of [task, agent, turn1, turn2, toolSpan, call1, call2]) {
      expect(attr(span, Attr.layer)).toBe("agents");
      expect(String(attr(span, Attr.frameworkRunId))).toMatch(/^span_/);
      expect(span.traceId).toBe(root.traceId);
      expect(span.status?.code).not.toBe("error");
    }
    for (const span of [agent, turn1, turn2, toolSpan, call1, call2]) expect(attr(span, Attr.agentName)).toBe("weather");

    expect(attr(task, Attr.spanType)).toBe(SpanTypes.chain);
    expect(attr(turn1, Attr.frameworkSpanData)).toMatchObject({ type: "turn", turn: 1, agent_name: "weather" });
    expect(attr(agent, Attr.spanType)).toBe(SpanTypes.agent);
    expect(attr(agent, Attr.genAiAgentName)).toBe("weather");
    expect(attr(agent, Attr.frameworkSpanData)).toMatchObject({ tools: ["get_weather"], handoffs: [] });

    // The tool: what the model asked for, and what it got back.
    expect(attr(toolSpan, Attr.spanType)).toBe(SpanTypes.tool);
    expect(attr(toolSpan, Attr.toolName)).toBe("get_weather");
    expect(attr(toolSpan, Attr.toolCallArguments)).toBe('{"city":"Paris"}');
    expect(attr(toolSpan, Attr.toolCallResult)).toBe("sunny in Paris");
    expect(toolSpan.startTime).toBeGreaterThanOrEqual(call1.endTime);

    // The model calls, in the chat format whatever the API.
    const toolCall = { id: expect.stringMatching(/^call_\d+_0_0$/), type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } };
    for (const call of [call1, call2]) {
      expect(call.name).toBe("chat mock-model");
      expect(attr(call, Attr.requestModel)).toBe("mock-model");
      expect(attr(call, Attr.responseModel)).toBe("mock-model");
      expect(String(attr(call, Attr.responseId))).toMatch(responseId);
      expect(attr(call, Attr.usageInputTokens)).toBeGreaterThan(0);
      expect(attr(call, Attr.usageOutputTokens)).toBeGreaterThan(0);
      expect(call.status?.code).toBe("ok");
    }
    expect(attr(call1, Attr.inputMessages)).toEqual([
      { role: "system", content: INSTRUCTIONS },
      { role: "user", content: "Weather in Paris?" },
    ]);
    expect(attr(call1, Attr.outputMessages)).toEqual([{ role: "assistant", content: null, tool_calls: [toolCall], finish_reason: "tool_calls" }]);
    expect(attr(call1, Attr.responseFinishReasons)).toEqual(["tool_calls"]);
    const issuedId = ((attr(call1, Attr.outputMessages) as Array<{ tool_calls: Array<{ id: string }> }>)[0]!.tool_calls[0]!).id;
    expect(attr(call2, Attr.inputMessages)).toEqual([
      { role: "system", content: INSTRUCTIONS },
      { role: "user", content: "Weather in Paris?" },
      { role: "assistant", content: null, tool_calls: [{ ...toolCall, id: issuedId }] },
      { role: "tool", tool_call_id: issuedId, content: "sunny in Paris" },
    ]);
    expect(attr(call2, Attr.outputMessages)).toEqual([{ role: "assistant", content: "Forecast: sunny in Paris.", finish_reason: "stop" }]);

    // What was recorded is what went over the wire.
    const sent = mock.requests.slice(first).map((r) => r.body as Record<string, unknown>);
    expect(sent).toHaveLength(2);
    if (api === "chat_completions") {
      expect(attr(call1, Attr.inputMessages)).toEqual(sent[0]!.messages);
      expect(attr(call2, Attr.inputMessages)).toEqual(sent[1]!.messages);
    } else {
      expect(sent[1]!.instructions).toBe(INSTRUCTIONS);
      expect(attr(call1, Attr.toolDefinitions)).toEqual([
        { type: "function", function: expect.objectContaining({ name: "get_weather", description: "Today's weather in a city", parameters: expect.objectContaining({ required: ["city"] }) }) },
      ]);
    }

    expect(outcome.report).toMatchObject({ llmCalls: 2, incompleteSpans: 0, layers: { agents: { llmCalls: 2 } } });
    expect(outcome.report.warnings).toEqual([]);
  });

  it("records a handoff, and the specialist's name on everything after it", async () => {
    useApi();
    const specialist = new Agent({ name: "specialist", instructions: "You are the weather specialist.", model: "mock-model", tools: [weatherTool] });
    const triage = new Agent({ name: "triage", instructions: "Route weather questions.", model: "mock-model", handoffs: [specialist] });
    mock.script(
      replySequence([
        { toolCalls: [{ name: "transfer_to_specialist", arguments: {} }] },
        { toolCalls: [{ name: "get_weather", arguments: { city: "Oslo" } }] },
        { text: "Sunny in Oslo." },
      ]),
    );
    const outcome = await tracer.capture({ rolloutId: "ro-handoff", attemptId: "at-1", agentName: "outer" }, () => run(triage, "Weather in Oslo?"));
    expect(outcome.ok && outcome.value.finalOutput).toBe("Sunny in Oslo.");
    expect(outcome.ok && outcome.value.lastAgent?.name).toBe("specialist");
    const spans = outcome.spans;

    const task = named(spans, "task Agent workflow");
    const triageSpan = named(spans, "invoke_agent triage");
    const specialistSpan = named(spans, "invoke_agent specialist");
    const handoff = named(spans, "handoff triage -> specialist");
    expect(triageSpan.parentId).toBe(task.spanId);
    expect(specialistSpan.parentId).toBe(task.spanId);
    expect(attr(handoff, Attr.spanType)).toBe(SpanTypes.handoff);
    expect(attr(handoff, Attr.handoffFrom)).toBe("triage");
    expect(attr(handoff, Attr.handoffTo)).toBe("specialist");
    expect(attr(handoff, Attr.agentName)).toBe("triage");
    expect(ancestors(spans, handoff)).toEqual(["turn 1", "invoke_agent triage", "task Agent workflow", "tracetrain.rollout"]);
    expect(attr(task, Attr.agentName)).toBe("outer");

    const [first, second, third] = byStart(ofType(spans, SpanTypes.llm)) as [SpanInput, SpanInput, SpanInput];
    expect(ofType(spans, SpanTypes.llm)).toHaveLength(3);
    expect(attr(first, Attr.agentName)).toBe("triage");
    expect(ancestors(spans, first).slice(0, 2)).toEqual(["turn 1", "invoke_agent triage"]);
    expect((attr(first, Attr.outputMessages) as Array<{ tool_calls: unknown }>)[0]!.tool_calls).toEqual([
      { id: expect.any(String), type: "function", function: { name: "transfer_to_specialist", arguments: "{}" } },
    ]);
    for (const call of [second, third]) {
      expect(attr(call, Attr.agentName)).toBe("specialist");
      expect(ancestors(spans, call)).toContain("invoke_agent specialist");
      expect((attr(call, Attr.inputMessages) as Array<{ content: unknown }>)[0]).toEqual({ role: "system", content: "You are the weather specialist." });
    }
    const toolSpan = named(spans, "execute_tool get_weather");
    expect(attr(toolSpan, Attr.agentName)).toBe("specialist");
    expect(attr(toolSpan, Attr.toolCallResult)).toBe("sunny in Oslo");
    expect(handoff.endTime).toBeLessThanOrEqual(second.startTime);
    if (api === "responses") {
      expect(attr(first, Attr.toolDefinitions)).toEqual([{ type: "function", function: expect.objectContaining({ name: "transfer_to_specialist" }) }]);
    }
    expect(outcome.report).toMatchObject({ llmCalls: 3, incompleteSpans: 0 });
  });

  it("records streamed runs the same way", async () => {
    useApi();
    mock.script(weatherResponder);
    const outcome = await tracer.capture({ rolloutId: "ro-stream", attemptId: "at-1" }, async () => {
      const result = await run(weatherAgent, "Weather in Lima?", { stream: true });
      let text = "";
      for await (const chunk of result.toTextStream()) text += chunk;
      await result.completed;
      return { text, finalOutput: result.finalOutput };
    });
    expect(outcome.ok && outcome.value).toEqual({ text: "Forecast: sunny in Lima.", finalOutput: "Forecast: sunny in Lima." });
    const llms = byStart(ofType(outcome.spans, SpanTypes.llm));
    expect(llms).toHaveLength(2);
    expect(attr(llms[0]!, Attr.inputMessages)).toEqual([
      { role: "system", content: INSTRUCTIONS },
      { role: "user", content: "Weather in Lima?" },
    ]);
    expect(attr(llms[1]!, Attr.outputMessages)).toEqual([{ role: "assistant", content: "Forecast: sunny in Lima.", finish_reason: "stop" }]);
    expect(attr(llms[1]!, Attr.usageOutputTokens)).toBeGreaterThan(0);
    for (const call of llms) expect(attr(call, Attr.agentName)).toBe("weather");
    expect(attr(named(outcome.spans, "execute_tool get_weather"), Attr.toolCallResult)).toBe("sunny in Lima");
    expect(outcome.report).toMatchObject({ llmCalls: 2, incompleteSpans: 0 });
  });

  it("keeps 20 concurrent rollouts apart", async () => {
    useApi();
    mock.script(weatherResponder);
    const cities = Array.from({ length: 20 }, (_, i) => `City${i}`);
    const outcomes = await Promise.all(
      cities.map((city, i) => tracer.capture({ rolloutId: `ro-${i}`, attemptId: "at-1" }, () => run(weatherAgent, `Weather in ${city}?`))),
    );
    const traceIds = new Set<string>();
    outcomes.forEach((outcome, i) => {
      const city = cities[i]!;
      expect(outcome.ok && outcome.value.finalOutput).toBe(`Forecast: sunny in ${city}.`);
      const spans = outcome.spans;
      expect(spans).toHaveLength(8); // rollout, task, agent, 2 turns, 2 model calls, 1 tool
      const ids = new Set(spans.map((s) => s.spanId));
      for (const span of spans) {
        expect(span.rolloutId).toBe(`ro-${i}`);
        if (span.parentId) expect(ids.has(span.parentId)).toBe(true);
        for (const other of cities) if (other !== city) expect(JSON.stringify(span.attributes)).not.toMatch(new RegExp(`"${other}[^0-9]|${other}\\?|in ${other}"`));
      }
      expect(attr(named(spans, "execute_tool get_weather"), Attr.toolCallArguments)).toBe(JSON.stringify({ city }));
      const llms = byStart(ofType(spans, SpanTypes.llm));
      expect((attr(llms[0]!, Attr.inputMessages) as unknown[])[1]).toEqual({ role: "user", content: `Weather in ${city}?` });
      expect((attr(llms[1]!, Attr.inputMessages) as unknown[])[3]).toMatchObject({ role: "tool", content: `sunny in ${city}` });
      expect(outcome.report).toMatchObject({ llmCalls: 2, incompleteSpans: 0 });
      traceIds.add(spans[0]!.traceId);
    });
    expect(traceIds.size).toBe(20);
  });

  it("leaves the agent's result unchanged", async () => {
    useApi();
    mock.script(weatherResponder);
    const traced = await tracer.trace({ rolloutId: "ro-same", attemptId: "at-1" }, () => run(weatherAgent, "Weather in Rome?"));
    release("agents");
    try {
      const plain = await run(weatherAgent, "Weather in Rome?");
      expect(traced.finalOutput).toBe("Forecast: sunny in Rome.");
      expect(traced.finalOutput).toEqual(plain.finalOutput);
      expect(traced.newItems.map((item) => item.type)).toEqual(plain.newItems.map((item) => item.type));
      expect(traced.lastAgent?.name).toBe(plain.lastAgent?.name);
    } finally {
      expect(await acquire(instrumentation)).toEqual({ installed: true });
    }
  });

  it("marks failed model calls and failed tools as errors", async () => {
    const failing = tool({
      name: "flaky",
      description: "Always fails",
      parameters: z.object({}),
      execute: async () => {
        throw new Error("database down");
      },
    });
    useApi();
    const agent = new Agent({ name: "unlucky", instructions: "Try.", model: "mock-model", tools: [failing] });
    mock.script(replySequence([{ toolCalls: [{ name: "flaky", arguments: {} }] }, { error: { status: 400, message: "context too long" } }]));
    const outcome = await tracer.capture({ rolloutId: "ro-errors", attemptId: "at-1" }, () => run(agent, "Go"));
    expect(outcome.ok).toBe(false);
    const spans = outcome.spans;

    const toolSpan = named(spans, "execute_tool flaky");
    expect(toolSpan.status?.code).toBe("error");
    expect(toolSpan.status?.message).toContain("database down");
    expect(toolSpan.events?.[0]).toMatchObject({ name: "exception", attributes: { "exception.type": "AgentsSpanError" } });

    const [ok, failed] = byStart(ofType(spans, SpanTypes.llm)) as [SpanInput, SpanInput];
    expect(ok.status?.code).toBe("ok");
    expect(failed.status?.code).toBe("error");
    expect(failed.status?.message).toContain("context too long");
    expect(attr(failed, Attr.errorType)).toBe("AgentsSpanError");
    // The request that failed is still recorded — where the SDK keeps it: a Responses span gets
    // its input only from a successful call (the openai layer records it either way).
    if (api === "chat_completions") {
      expect((attr(failed, Attr.inputMessages) as unknown[]).at(-1)).toMatchObject({ role: "tool", content: expect.stringContaining("database down") });
    } else {
      expect(attr(failed, Attr.inputMessages)).toBeUndefined();
    }
    expect(named(spans, "invoke_agent unlucky").endTime).toBeGreaterThan(0);
    expect(outcome.report).toMatchObject({ incompleteSpans: 0, agentError: expect.stringContaining("context too long") });
  });
});

describe("OpenAI Agents SDK instrumentation", () => {
  it("records nothing outside a trace, even while a traced run goes on", async () => {
    mock.script(weatherResponder);
    const [outside, inside] = await Promise.all([
      run(weatherAgent, "Weather in Cairo?"),
      tracer.capture({ rolloutId: "ro-inside", attemptId: "at-1" }, () => run(weatherAgent, "Weather in Quito?")),
    ]);
    expect(outside.finalOutput).toBe("Forecast: sunny in Cairo.");
    expect(inside.ok && inside.value.finalOutput).toBe("Forecast: sunny in Quito.");
    expect(inside.spans).toHaveLength(8);
    expect(inside.spans.filter((s) => s.name === "task Agent workflow")).toHaveLength(1);
    expect(JSON.stringify(inside.spans)).not.toContain("Cairo");
    // And a trace that runs no agent gets nothing from the run that went on outside.
    const [, empty] = await Promise.all([run(weatherAgent, "Weather in Lagos?"), tracer.capture({ rolloutId: "ro-empty", attemptId: "at-1" }, () => new Promise((r) => setTimeout(r, 30)))]);
    expect(empty.spans.map((s) => s.name)).toEqual(["tracetrain.rollout"]);
  });

  it("records guardrails and custom spans as chains, and parents other layers' spans by the SDK's current span", async () => {
    const guardrail: InputGuardrail = {
      name: "no_secrets",
      execute: async () => ({ outputInfo: { checked: true }, tripwireTriggered: false }),
    };
    const lookup = tool({
      name: "lookup",
      description: "Looks a city up",
      parameters: z.object({ city: z.string() }),
      execute: async ({ city }) => {
        emitMessage(`looking up ${city}`);
        return withCustomSpan(async () => `found ${city}`, { data: { name: "db_query", data: { table: "cities", city } } });
      },
    });
    const agent = new Agent({ name: "librarian", instructions: "Look things up.", model: "mock-model", tools: [lookup], inputGuardrails: [guardrail] });
    mock.script(replySequence([{ toolCalls: [{ name: "lookup", arguments: { city: "Bern" } }] }, { text: "Bern exists." }]));
    const outcome = await tracer.capture({ rolloutId: "ro-chains", attemptId: "at-1" }, () => run(agent, "Is there a Bern?"));
    expect(outcome.ok && outcome.value.finalOutput).toBe("Bern exists.");
    const spans = outcome.spans;

    const guard = named(spans, "guardrail no_secrets");
    expect(attr(guard, Attr.spanType)).toBe(SpanTypes.chain);
    expect(attr(guard, Attr.frameworkSpanData)).toEqual({ type: "guardrail", name: "no_secrets", triggered: false });
    expect(attr(guard, Attr.agentName)).toBe("librarian");
    expect(ancestors(spans, guard)).toContain("invoke_agent librarian");

    const toolSpan = named(spans, "execute_tool lookup");
    const custom = named(spans, "db_query");
    expect(custom.parentId).toBe(toolSpan.spanId);
    expect(attr(custom, Attr.spanType)).toBe(SpanTypes.chain);
    expect(attr(custom, Attr.frameworkSpanData)).toEqual({ type: "custom", name: "db_query", data: { table: "cities", city: "Bern" } });
    expect(attr(custom, Attr.agentName)).toBe("librarian");

    // emitMessage knows nothing of the SDK: the bridge makes the tool its parent.
    const message = named(spans, "tracetrain.message");
    expect(message.parentId).toBe(toolSpan.spanId);
    expect(attr(message, Attr.agentName)).toBe("librarian");
    expect(attr(message, Attr.messageBody)).toBe("looking up Bern");
    expect(outcome.report.incompleteSpans).toBe(0);
  });

  it("records again after setTraceProcessors() when instrumented again, behind another processor", async () => {
    // Like the SDK's default exporter: async callbacks, registered before ours — so ours run a
    // few microtasks after each span starts.
    const seen: string[] = [];
    const exporter = {
      async onTraceStart() {},
      async onTraceEnd() {},
      async onSpanStart(span: { spanId: string }) {
        seen.push(span.spanId);
      },
      async onSpanEnd() {},
      async shutdown() {},
      async forceFlush() {},
    };
    setTraceProcessors([exporter]);
    await new Promise((resolve) => setImmediate(resolve));
    // setTraceProcessors dropped ours: installing again registers it (after the exporter).
    release("agents");
    expect(await acquire(createAgentsInstrumentation())).toEqual({ installed: true });
    try {
      mock.script(weatherResponder);
      const outcome = await tracer.capture({ rolloutId: "ro-replaced", attemptId: "at-1" }, () => run(weatherAgent, "Weather in Kyiv?"));
      expect(outcome.ok && outcome.value.finalOutput).toBe("Forecast: sunny in Kyiv.");
      const spans = outcome.spans;
      expect(spans.map((s) => s.name).sort()).toEqual(
        ["chat mock-model", "chat mock-model", "execute_tool get_weather", "invoke_agent weather", "task Agent workflow", "tracetrain.rollout", "turn 1", "turn 2"].sort(),
      );
      expect(ancestors(spans, named(spans, "execute_tool get_weather"))).toEqual(["turn 1", "invoke_agent weather", "task Agent workflow", "tracetrain.rollout"]);
      for (const call of ofType(spans, SpanTypes.llm)) expect(ancestors(spans, call).slice(1)).toEqual(["invoke_agent weather", "task Agent workflow", "tracetrain.rollout"]);
      // The other processor saw every span too.
      expect(new Set(seen)).toEqual(new Set(spans.filter((s) => s.name !== "tracetrain.rollout").map((s) => attr(s, Attr.frameworkRunId))));
    } finally {
      setTraceProcessors([]);
      await new Promise((resolve) => setImmediate(resolve));
    }
  });

  it("is inert once uninstalled, and records again when installed again", async () => {
    mock.script(weatherResponder);
    release("agents");
    const off = await tracer.capture({ rolloutId: "ro-off", attemptId: "at-1" }, () => run(weatherAgent, "Weather in Baku?"));
    expect(off.ok && off.value.finalOutput).toBe("Forecast: sunny in Baku.");
    expect(off.spans.map((s) => s.name)).toEqual(["tracetrain.rollout"]);
    // Dropped from the SDK's processors meanwhile: installing registers it again.
    setTraceProcessors([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(await acquire(instrumentation)).toEqual({ installed: true });
    const on = await tracer.capture({ rolloutId: "ro-on", attemptId: "at-1" }, () => run(weatherAgent, "Weather in Baku?"));
    // One processor, not two: each SDK span is mirrored once.
    expect(on.spans.filter((s) => s.name === "invoke_agent weather")).toHaveLength(1);
    expect(on.spans).toHaveLength(8);
  });
});

// ---------------------------------------------------------------------------------------------
// With the openai instrumentation too: the exact call under the SDK's model-call span.
// ---------------------------------------------------------------------------------------------

describe.skipIf(!existsSync(openaiFile)).each(APIS)("OpenAI Agents SDK + openai instrumentation ($api)", ({ api }) => {
  it("records each model call once: an exact llm span (openai) under an llm_run span (agents)", async () => {
    const { createOpenAIInstrumentation } = (await import("../../src/tracer/instrumentations/openai.js")) as {
      createOpenAIInstrumentation: () => Parameters<typeof acquire>[0];
    };
    expect(await acquire(createOpenAIInstrumentation())).toEqual({ installed: true });
    try {
      setOpenAIAPI(api);
      mock.script(weatherResponder);
      const outcome = await tracer.capture({ rolloutId: "ro-both", attemptId: "at-1" }, () => run(weatherAgent, "Weather in Paris?"));
      expect(outcome.ok && outcome.value.finalOutput).toBe("Forecast: sunny in Paris.");
      const spans = outcome.spans;

      const exact = byStart(ofType(spans, SpanTypes.llm));
      const runs = byStart(ofType(spans, SpanTypes.llmRun));
      expect(exact).toHaveLength(2);
      expect(runs).toHaveLength(2);
      const turns = [named(spans, "turn 1"), named(spans, "turn 2")];
      exact.forEach((call, i) => {
        const wrapper = runs[i]!;
        expect(attr(call, Attr.layer)).toBe("openai");
        expect(call.parentId).toBe(wrapper.spanId);
        expect(attr(call, Attr.agentName)).toBe("weather");
        expect(call.name).toBe("chat mock-model");
        expect(attr(wrapper, Attr.layer)).toBe("agents");
        expect(attr(wrapper, Attr.recordedBy)).toBe("openai");
        expect(attr(wrapper, Attr.agentName)).toBe("weather");
        expect(wrapper.parentId).toBe(turns[i]!.spanId);
        // Both layers saw the same call.
        expect(attr(call, Attr.inputMessages)).toEqual(attr(wrapper, Attr.inputMessages));
        expect(attr(call, Attr.outputMessages)).toEqual(attr(wrapper, Attr.outputMessages));
        expect(attr(call, Attr.responseId)).toBe(attr(wrapper, Attr.responseId));
      });
      expect((attr(exact[1]!, Attr.inputMessages) as unknown[]).at(-1)).toEqual({ role: "tool", tool_call_id: expect.any(String), content: "sunny in Paris" });
      expect(outcome.report).toMatchObject({ llmCalls: 2, incompleteSpans: 0, layers: { openai: { llmCalls: 2 }, agents: { llmCalls: 0 } } });
    } finally {
      release("openai");
    }
  });
});
