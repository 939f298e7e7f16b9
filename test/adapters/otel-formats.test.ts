/**
 * Spans other OpenTelemetry instrumentations wrote — as they arrive over OTLP, without a tracetrain
 * type — in every message format adapters read: each row of the table describes the same agent,
 * LLM call and tool in one format, and must give the same transition, agent and typed tool span,
 * both read from the stored spans and mirrored in process by the tracer's OTel span processor.
 * A property test then throws arbitrary GenAI `parts` at both paths: never an empty message without
 * a word, and the same result either way.
 */
import { ROOT_CONTEXT, trace } from "@opentelemetry/api";
import { BasicTracerProvider } from "@opentelemetry/sdk-trace-base";
import { describe, expect, it } from "vitest";
import { type JsonValue, type Span, type SpanInput, Tracer, type Transition } from "tracetrain";
import { type AdapterDiagnostics, type AdapterSpan, adaptSpans, toChatMessages, toTransitions } from "tracetrain/adapters";
import { createOtelSpanProcessor } from "tracetrain/otel";
import { type Rng, rng, span as storedSpan } from "./build.js";

/** A span as an OTel instrumentation writes it. */
interface OtelSpanDef {
  name: string;
  attributes: Record<string, JsonValue>;
  events?: Array<{ name: string; attributes: Record<string, JsonValue> }>;
}

interface Row {
  format: string;
  agent: OtelSpanDef;
  call: OtelSpanDef;
  tool: OtelSpanDef;
  /** The OTel JS SDK holds only primitives (and lists of them) in attributes: structured values arrive only over OTLP. */
  inProcess: boolean;
}

const json = (value: JsonValue) => JSON.stringify(value);
const genAiAgent: OtelSpanDef = { name: "invoke_agent planner", attributes: { "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "planner" } };
const genAiTool: OtelSpanDef = {
  name: "execute_tool weather",
  attributes: { "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "weather", "gen_ai.tool.call.id": "call_7", "gen_ai.tool.call.arguments": '{"city":"Rome"}', "gen_ai.tool.call.result": "sunny" },
};
const chatCall = (attributes: Record<string, JsonValue>, events?: OtelSpanDef["events"]): OtelSpanDef => ({
  name: "chat gpt-4.1-mini",
  attributes: { "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4.1-mini", ...attributes },
  ...(events === undefined ? {} : { events }),
});

/** The conversation every row records: system, question, a tool call and its result; then the answer. */
const partsInput = [
  { role: "user", parts: [{ type: "text", content: "Weather in Rome?" }] },
  { role: "assistant", parts: [{ type: "tool_call", id: "call_7", name: "weather", arguments: { city: "Rome" } }] },
  { role: "tool", parts: [{ type: "tool_call_response", id: "call_7", response: "sunny" }] },
];
const partsOutput = [{ role: "assistant", parts: [{ type: "text", content: "Sunny." }], finish_reason: "stop" }];
const openAiToolCalls = [{ id: "call_7", type: "function", function: { name: "weather", arguments: '{"city":"Rome"}' } }];
const openAiInput: JsonValue[] = [
  { role: "system", content: "Be brief." },
  { role: "user", content: "Weather in Rome?" },
  { role: "assistant", content: null, tool_calls: openAiToolCalls },
  { role: "tool", tool_call_id: "call_7", content: "sunny" },
];

const ROWS: Row[] = [
  {
    format: "GenAI parts as JSON text, with gen_ai.system_instructions",
    agent: genAiAgent,
    call: chatCall({ "gen_ai.system_instructions": json([{ type: "text", content: "Be brief." }]), "gen_ai.input.messages": json(partsInput), "gen_ai.output.messages": json(partsOutput) }),
    tool: genAiTool,
    inProcess: true,
  },
  {
    format: "GenAI parts as structured values (OTLP kvlist / array)",
    agent: genAiAgent,
    call: chatCall({ "gen_ai.input.messages": [{ role: "system", parts: [{ type: "text", content: "Be brief." }] }, ...partsInput], "gen_ai.output.messages": partsOutput }),
    tool: genAiTool,
    inProcess: false,
  },
  {
    format: "GenAI parts on a gen_ai.client.inference.operation.details event, finish reason in gen_ai.response.finish_reasons",
    agent: genAiAgent,
    call: chatCall({ "gen_ai.response.finish_reasons": ["stop"] }, [
      {
        name: "gen_ai.client.inference.operation.details",
        attributes: {
          "gen_ai.system_instructions": json([{ type: "text", content: "Be brief." }]),
          "gen_ai.input.messages": json(partsInput),
          "gen_ai.output.messages": json([{ role: "assistant", parts: [{ type: "text", content: "Sunny." }] }]),
        },
      },
    ]),
    tool: genAiTool,
    inProcess: true,
  },
  {
    format: "GenAI v1.36 per-message events, fields as event attributes",
    agent: genAiAgent,
    call: chatCall({}, [
      { name: "gen_ai.system.message", attributes: { content: "Be brief." } },
      { name: "gen_ai.user.message", attributes: { content: "Weather in Rome?" } },
      { name: "gen_ai.assistant.message", attributes: { tool_calls: json(openAiToolCalls) } },
      { name: "gen_ai.tool.message", attributes: { id: "call_7", content: "sunny" } },
      { name: "gen_ai.choice", attributes: { index: 0, finish_reason: "stop", message: json({ role: "assistant", content: "Sunny." }) } },
    ]),
    tool: genAiTool,
    inProcess: true,
  },
  {
    format: "GenAI v1.36 per-message events, body in gen_ai.event.content",
    agent: genAiAgent,
    call: chatCall({}, [
      { name: "gen_ai.system.message", attributes: { "gen_ai.event.content": json({ content: "Be brief." }) } },
      { name: "gen_ai.user.message", attributes: { "gen_ai.event.content": json({ role: "user", content: "Weather in Rome?" }) } },
      { name: "gen_ai.assistant.message", attributes: { "gen_ai.event.content": json({ role: "assistant", tool_calls: openAiToolCalls }) } },
      { name: "gen_ai.tool.message", attributes: { "gen_ai.event.content": json({ id: "call_7", content: "sunny" }) } },
      { name: "gen_ai.choice", attributes: { "gen_ai.event.content": json({ index: 0, finish_reason: "stop", message: { content: "Sunny." } }) } },
    ]),
    tool: genAiTool,
    inProcess: true,
  },
  {
    format: "GenAI indexed gen_ai.prompt.N / gen_ai.completion.N attributes",
    agent: genAiAgent,
    call: {
      name: "openai.chat",
      attributes: {
        "gen_ai.system": "openai",
        "gen_ai.request.model": "gpt-4.1-mini",
        "gen_ai.prompt.0.role": "system",
        "gen_ai.prompt.0.content": "Be brief.",
        "gen_ai.prompt.1.role": "user",
        "gen_ai.prompt.1.content": "Weather in Rome?",
        "gen_ai.prompt.2.role": "assistant",
        "gen_ai.prompt.2.tool_calls.0.id": "call_7",
        "gen_ai.prompt.2.tool_calls.0.name": "weather",
        "gen_ai.prompt.2.tool_calls.0.arguments": '{"city":"Rome"}',
        "gen_ai.prompt.3.role": "tool",
        "gen_ai.prompt.3.tool_call_id": "call_7",
        "gen_ai.prompt.3.content": "sunny",
        "gen_ai.completion.0.role": "assistant",
        "gen_ai.completion.0.content": "Sunny.",
        "gen_ai.completion.0.finish_reason": "stop",
      },
    },
    tool: genAiTool,
    inProcess: true,
  },
  {
    format: "OpenInference llm.input_messages.N.message.* (AGENT, LLM and TOOL kinds)",
    agent: { name: "planner", attributes: { "openinference.span.kind": "AGENT", "agent.name": "planner" } },
    call: {
      name: "ChatCompletion",
      attributes: {
        "openinference.span.kind": "LLM",
        "llm.model_name": "gpt-4.1-mini",
        "llm.input_messages.0.message.role": "system",
        "llm.input_messages.0.message.content": "Be brief.",
        "llm.input_messages.1.message.role": "user",
        "llm.input_messages.1.message.content": "Weather in Rome?",
        "llm.input_messages.2.message.role": "assistant",
        "llm.input_messages.2.message.tool_calls.0.tool_call.id": "call_7",
        "llm.input_messages.2.message.tool_calls.0.tool_call.function.name": "weather",
        "llm.input_messages.2.message.tool_calls.0.tool_call.function.arguments": '{"city":"Rome"}',
        "llm.input_messages.3.message.role": "tool",
        "llm.input_messages.3.message.tool_call_id": "call_7",
        "llm.input_messages.3.message.content": "sunny",
        "llm.output_messages.0.message.role": "assistant",
        "llm.output_messages.0.message.content": "Sunny.",
        "llm.finish_reason": "stop",
      },
    },
    tool: { name: "weather", attributes: { "openinference.span.kind": "TOOL", "tool.name": "weather", "tool.id": "call_7", "input.value": '{"city":"Rome"}', "output.value": "sunny" } },
    inProcess: true,
  },
  {
    format: "Vercel AI SDK ai.prompt.messages on a doGenerate span, ai.toolCall",
    agent: genAiAgent,
    call: {
      name: "ai.generateText.doGenerate",
      attributes: {
        "ai.operationId": "ai.generateText.doGenerate",
        "ai.model.id": "gpt-4.1-mini",
        "ai.model.provider": "openai.chat",
        "ai.prompt.messages": json([
          { role: "system", content: "Be brief." },
          { role: "user", content: [{ type: "text", text: "Weather in Rome?" }] },
          { role: "assistant", content: [{ type: "tool-call", toolCallId: "call_7", toolName: "weather", input: { city: "Rome" } }] },
          { role: "tool", content: [{ type: "tool-result", toolCallId: "call_7", toolName: "weather", output: { type: "text", value: "sunny" } }] },
        ]),
        "ai.response.text": "Sunny.",
        "ai.response.finishReason": "stop",
      },
    },
    tool: { name: "ai.toolCall", attributes: { "ai.operationId": "ai.toolCall", "ai.toolCall.name": "weather", "ai.toolCall.id": "call_7", "ai.toolCall.args": '{"city":"Rome"}', "ai.toolCall.result": '"sunny"' } },
    inProcess: true,
  },
  {
    format: "GenAI attributes holding OpenAI-shaped messages",
    agent: genAiAgent,
    call: chatCall({ "gen_ai.input.messages": json(openAiInput), "gen_ai.output.messages": json([{ role: "assistant", content: "Sunny.", finish_reason: "stop" }]) }),
    tool: genAiTool,
    inProcess: true,
  },
];

const EXPECTED = [{ agentName: "planner", prompt: { messages: openAiInput }, response: { message: { role: "assistant", content: "Sunny." }, finishReason: "stop" }, textOnly: true, position: 0 }];

/** The spans as a store returns them after OTLP ingest: in the order they ended, untyped. */
function stored(row: Row): Span[] {
  const at = (id: number, def: OtelSpanDef, parent: number | null) => ({
    ...storedSpan(id, { parent, name: def.name, attributes: def.attributes }),
    events: (def.events ?? []).map((e) => ({ name: e.name, time: id, attributes: e.attributes })),
  });
  return [at(1, row.call, 3), at(2, row.tool, 3), at(3, row.agent, null)];
}

/** The same spans, emitted through the OTel SDK in a traced rollout and mirrored by the tracer. */
async function mirrored(defs: ReadonlyArray<{ call: OtelSpanDef; tool?: OtelSpanDef }>, agent: OtelSpanDef = genAiAgent): Promise<SpanInput[]> {
  const provider = new BasicTracerProvider({ spanProcessors: [createOtelSpanProcessor()] });
  const otel = provider.getTracer("hand-made");
  const emit = (def: OtelSpanDef, parent: ReturnType<typeof otel.startSpan> | undefined) => {
    const span = otel.startSpan(def.name, { attributes: def.attributes as Record<string, string> }, parent === undefined ? ROOT_CONTEXT : trace.setSpan(ROOT_CONTEXT, parent));
    for (const event of def.events ?? []) span.addEvent(event.name, event.attributes as Record<string, string>);
    return span;
  };
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };
  const outcome = await new Tracer({ sink: { addSpans: async () => undefined }, logger: quiet }).capture({ rolloutId: "ro-mirror", attemptId: "at-1" }, () => {
    const parent = emit(agent, undefined);
    for (const { call, tool } of defs) {
      emit(call, parent).end();
      if (tool !== undefined) emit(tool, parent).end();
    }
    parent.end();
  });
  await provider.shutdown();
  if (!outcome.ok) throw outcome.error;
  return outcome.spans;
}

const content = ({ rolloutId: _r, attemptId: _a, callId: _c, creditPolicy: _p, ...rest }: Transition) => rest;

describe.each(ROWS)("$format", (row) => {
  it("gives the transition, the agent and a typed tool span", () => {
    const spans = stored(row);
    const before = structuredClone(spans);
    expect(toTransitions(spans).map(content)).toEqual(EXPECTED);
    const [attempt] = adaptSpans(spans);
    expect(attempt!.tree.nodes.map((n) => n.type)).toEqual(["llm", "tool", "agent"]);
    expect(attempt!.tree.nodes[1]!.span!.attributes).toMatchObject({ "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "weather", "gen_ai.tool.call.id": "call_7", "gen_ai.tool.call.result": "sunny" });
    expect(attempt!.diagnostics.dropped).toEqual([]);
    expect(attempt!.diagnostics.warnings).toEqual([]);
    expect(toTransitions(spans, { agents: ["planner"] })).toHaveLength(1);
    expect(toTransitions(spans, { agents: ["someone else"] })).toHaveLength(0);
    expect(spans, "the input is left unchanged").toEqual(before);
  });

});

describe.each(ROWS.filter((row) => row.inProcess))("$format, mirrored in process", (row) => {
  it("gives the same transition when the tracer's OTel span processor records the spans", async () => {
    const spans = await mirrored([{ call: row.call, tool: row.tool }], row.agent);
    expect(toTransitions(spans).map(content)).toEqual(EXPECTED);
  });
});

it("reads the framework role names some GenAI instrumentations write (Human, AI, model) as chat roles", () => {
  const call = chatCall({
    "gen_ai.input.messages": json([
      { role: "Human", parts: [{ type: "text", content: "hello world" }] },
      { role: "model", parts: [{ type: "text", content: "hi" }] },
      { role: "constructor", parts: [{ type: "text", content: "odd" }] },
    ]),
    "gen_ai.output.messages": json([{ role: "AI", parts: [{ type: "text", content: "hello back" }], finish_reason: "stop" }]),
  });
  expect(toTransitions([storedSpan(1, { name: call.name, attributes: call.attributes })]).map((t) => [t.prompt.messages, t.response.message])).toEqual([
    [
      [
        { role: "user", content: "hello world" },
        { role: "assistant", content: "hi" },
        { role: "constructor", content: "odd" },
      ],
      { role: "assistant", content: "hello back" },
    ],
  ]);
});

it("keeps the exact tokens a GenAI call carries under tracetrain's keys (a program in another language with vLLM's ids)", () => {
  const call = chatCall({
    "gen_ai.input.messages": json([{ role: "user", parts: [{ type: "text", content: "Weather in Rome?" }] }]),
    "gen_ai.output.messages": json(partsOutput),
    "tracetrain.llm.prompt_token_ids": [9, 8, 7],
    "tracetrain.llm.response_token_ids": [[5, 6]],
    "tracetrain.llm.logprobs": [[-0.5, -0.25]],
  });
  const [withIds] = toTransitions([storedSpan(1, { name: call.name, attributes: call.attributes })]);
  expect(withIds).toMatchObject({ textOnly: false, prompt: { tokenIds: [9, 8, 7] }, response: { tokenIds: [5, 6], logprobs: [-0.5, -0.25], message: { role: "assistant", content: "Sunny." } } });
  const { "tracetrain.llm.prompt_token_ids": _p, "tracetrain.llm.response_token_ids": _r, "tracetrain.llm.logprobs": _l, ...textOnly } = call.attributes;
  const [without] = toTransitions([storedSpan(2, { name: call.name, attributes: textOnly })]);
  expect(without).toMatchObject({ textOnly: true, response: { message: { role: "assistant", content: "Sunny." } } });
  expect(without!.prompt.tokenIds).toBeUndefined();
});

// ---- property: arbitrary GenAI parts ----------------------------------------------------------

/** Every part the conventions define, well- and ill-formed, and some they do not. */
function part(r: Rng): JsonValue {
  return r.pick<() => JsonValue>([
    () => ({ type: "text", content: r.pick(["hi", "", "Sunny."]) }),
    () => ({ type: "text", content: r.pick<JsonValue>([42, null, ["x"]]) }),
    () => ({ type: "text" }),
    () => ({ type: "reasoning", content: "thinking" }),
    () => ({ type: "tool_call", id: `call_${r.int(3)}`, name: "weather", arguments: r.pick<JsonValue>([{ city: "Rome" }, '{"city":"Oslo"}', null]) }),
    () => ({ type: "tool_call", id: "call_x" }),
    () => ({ type: "tool_call_response", id: `call_${r.int(3)}`, response: r.pick<JsonValue>(["sunny", { sky: "grey" }, ""]) }),
    () => ({ type: "tool_call_response", id: "call_1", result: "rainy" }),
    () => ({ type: "tool_call_response", id: "call_2" }),
    () => ({ type: "blob", modality: "image", mime_type: "image/png", content: "iVBORw0KGgo=" }),
    () => ({ type: "blob", modality: "audio", mime_type: r.pick(["audio/wav", "audio/ogg"]), content: "UklGRg==" }),
    () => ({ type: "blob", modality: "image" }),
    () => ({ type: "uri", modality: r.pick(["image", "video"]), uri: "https://example.com/x" }),
    () => ({ type: "file", modality: "document", file_id: "file-1" }),
    () => ({ type: "server_tool_call", name: "web_search", server_tool_call: { type: "web_search" } }),
    () => ({ type: "compaction", content: "summary" }),
    () => ({ type: r.pick(["custom", "audio_ref"]) }),
    () => r.pick<JsonValue>(["plain", 3, null, []]),
  ])();
}

function messages(r: Rng, roles: readonly string[]): JsonValue[] {
  return Array.from({ length: 1 + r.int(3) }, () => {
    const m: { [key: string]: JsonValue } = { role: r.pick(roles), parts: Array.from({ length: r.int(4) }, () => part(r)) };
    if (r.chance(0.05)) delete m.role;
    if (r.chance(0.3)) m.finish_reason = r.pick(["stop", "tool_call"]);
    return m;
  });
}

function randomCall(seed: number): OtelSpanDef {
  const r = rng(seed);
  const attributes: Record<string, JsonValue> = { "gen_ai.response.id": `resp-${seed}` };
  if (r.chance(0.3)) attributes["gen_ai.system_instructions"] = json(r.chance(0.5) ? [{ type: "text", content: "Be brief." }] : [part(r)]);
  if (r.chance(0.9)) attributes["gen_ai.input.messages"] = json(messages(r, ["system", "user", "assistant", "tool"]));
  if (r.chance(0.9)) attributes["gen_ai.output.messages"] = json(messages(r, ["assistant"]));
  return chatCall(attributes);
}

/** A message a model could have read or written: text, a tool call, media, or a tool's answer. */
function hasSomething(message: { role: string; content?: unknown; tool_calls?: unknown[] }): boolean {
  if (message.role === "tool" || (message.tool_calls?.length ?? 0) > 0) return true;
  const c = message.content;
  return typeof c === "string" ? c.length > 0 : Array.isArray(c) && c.some((p) => typeof p === "object" && p !== null && ((p as { type?: unknown }).type !== "text" || (p as { text?: unknown }).text !== ""));
}

describe("arbitrary GenAI parts", () => {
  const SEEDS = Array.from({ length: 150 }, (_, i) => i + 1);
  const calls = SEEDS.map(randomCall);

  it("never give an empty message without a diagnostic that names the span and the attribute", () => {
    let unreadable = 0;
    for (const [i, call] of calls.entries()) {
      const spans: AdapterSpan[] = [{ ...storedSpan(1, { parent: 2, name: call.name, attributes: call.attributes }) }, storedSpan(2, { name: genAiAgent.name, attributes: genAiAgent.attributes })];
      const reported: AdapterDiagnostics[] = [];
      const records = toChatMessages(spans, { per: "call", onDiagnostics: (d) => reported.push(d) });
      for (const record of records) for (const m of record.messages) expect(hasSomething(m), `seed ${SEEDS[i]}: ${JSON.stringify(m)}`).toBe(true);
      const [attempt] = adaptSpans(spans);
      expect(reported).toEqual([attempt!.diagnostics]);
      for (const found of attempt!.calls) {
        const said = [...attempt!.diagnostics.dropped.filter((d) => d.spanId === found.callId).map((d) => d.detail), ...attempt!.diagnostics.warnings.filter((w) => w.includes(found.callId))];
        for (const problem of found.messageProblems) {
          expect(problem, `seed ${SEEDS[i]}`).toMatch(/^gen_ai\.(input|output)\.messages|^gen_ai\.system_instructions/);
          expect(said.some((s) => s.includes(problem)), `seed ${SEEDS[i]}: ${problem} not reported in ${JSON.stringify(said)}`).toBe(true);
        }
        if (found.exclusion === "unreadable_message") unreadable++;
        // What reaches a transition is never an empty message.
        if (found.selected && found.messageProblems.length === 0) for (const m of [...(found.promptMessages ?? []), ...found.choices.flatMap((c) => c.message ?? [])]) expect(hasSomething(m), `seed ${SEEDS[i]}`).toBe(true);
      }
    }
    // The generator reaches both sides of the property.
    expect(unreadable).toBeGreaterThan(20);
    expect(unreadable).toBeLessThan(calls.length);
  });

  it("become the same transitions and diagnostics over OTLP as mirrored in process", async () => {
    const inProcess = await mirrored(calls.map((call) => ({ call })));
    const overOtlp: AdapterSpan[] = [...calls.map((call, i) => storedSpan(i + 1, { parent: 1000, name: call.name, attributes: call.attributes })), storedSpan(1000, { name: genAiAgent.name, attributes: genAiAgent.attributes })];
    const [a] = adaptSpans(inProcess);
    const [b] = adaptSpans(overOtlp);
    // Every call was mirrored: found, or dropped for want of a response.
    expect(a!.calls.length + a!.diagnostics.dropped.filter((d) => d.reason === "no_response").length).toBe(calls.length);
    // In process, spans are ordered by their clock times; compare call by call, by response id.
    const seedOf = (responseId: string | undefined) => Number(responseId?.slice("resp-".length));
    const byResponse = (attempt: typeof a) =>
      attempt!.calls.map((c) => ({ responseId: c.responseId, selected: c.selected, exclusion: c.exclusion, problems: c.messageProblems, prompt: c.promptMessages, choices: c.choices })).sort((x, y) => seedOf(x.responseId) - seedOf(y.responseId));
    expect(byResponse(b)).toEqual(byResponse(a));
    const details = (attempt: typeof a) => attempt!.diagnostics.dropped.map((d) => `${d.reason}: ${d.detail}`).sort();
    expect(details(b)).toEqual(details(a));
  });
});
