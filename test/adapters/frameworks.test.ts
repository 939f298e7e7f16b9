/**
 * Adapters on span sets recorded by the real tracer: the real openai SDK, LangChain / LangGraph
 * and the OpenAI Agents SDK, run by a Runner into a store, against the deterministic LLM server.
 * Transitions are asserted exactly, against what the agent actually sent and received.
 */
import { HumanMessage, SystemMessage, type BaseMessage } from "@langchain/core/messages";
import { tool } from "@langchain/core/tools";
import { Annotation, END, START, StateGraph } from "@langchain/langgraph";
import { ChatOpenAI } from "@langchain/openai";
import { Agent, run, setDefaultOpenAIClient, tool as agentTool } from "@openai/agents";
import OpenAI from "openai";
import type { ChatCompletion, ChatCompletionMessageParam } from "openai/resources/chat/completions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { Attr, SpanTypes } from "tracetrain/instrumentations";
import { type Span, TraceAdapter, emitReward, withReward } from "tracetrain";
import { TransitionSchema } from "tracetrain/schemas";
import { adaptSpans, contextFromRollout, perCallCredit, toChatMessages, toMergedSamples, toTransitions } from "tracetrain/adapters";
import { replySequence, tokenize } from "tracetrain/testing";
import { type Harness, startHarness } from "./harness.js";

/** vLLM's extensions of a chat completion. */
type VllmCompletion = ChatCompletion & { prompt_token_ids: number[]; choices: Array<ChatCompletion.Choice & { token_ids: number[] }> };
type VllmParams = { return_token_ids?: boolean };

const llmSpans = (spans: Span[]) => spans.filter((s) => s.attributes[Attr.spanType] === SpanTypes.llm).sort((a, b) => a.sequence - b.sequence);
/** The mock's chat template, for expected prompt token ids. */
const chatml = (turns: Array<[role: string, text: string]>) => tokenize(turns.map(([role, text]) => `<|im_start|>${role}\n${text}<|im_end|>\n`).join("") + "<|im_start|>assistant\n");

let h: Harness;
let client: OpenAI;

beforeAll(async () => {
  h = await startHarness();
  client = new OpenAI({ baseURL: h.mock.baseUrl, apiKey: "test", maxRetries: 0 });
  setDefaultOpenAIClient(client);
});

afterAll(async () => {
  await h.close();
});

const addTool = {
  type: "function" as const,
  function: { name: "add", description: "Adds two numbers.", parameters: { type: "object", properties: { a: { type: "number" }, b: { type: "number" } }, required: ["a", "b"] } },
};

describe("a ReAct agent with two tool calls (openai SDK, vLLM token ids and logprobs)", () => {
  let spans: Span[];
  let rolloutId: string;
  let attemptId: string;
  const raws: VllmCompletion[] = [];
  const sent: ChatCompletionMessageParam[][] = [];

  beforeAll(async () => {
    h.mock.script(
      replySequence([
        { toolCalls: [{ name: "add", arguments: { a: 1, b: 2 }, id: "call_1" }] },
        { toolCalls: [{ name: "add", arguments: { a: 3, b: 4 }, id: "call_2" }] },
        { text: "The sum is 10" },
      ]),
    );
    const result = await h.run("react", async () => {
      const messages: ChatCompletionMessageParam[] = [
        { role: "system", content: "Use the add tool." },
        { role: "user", content: "What is 1 + 2 + 3 + 4?" },
      ];
      for (;;) {
        sent.push(structuredClone(messages));
        const params = { model: "mock-model", messages, tools: [addTool], return_token_ids: true, logprobs: true };
        const raw = (await client.chat.completions.create(params as OpenAI.ChatCompletionCreateParamsNonStreaming & VllmParams)) as VllmCompletion;
        raws.push(raw);
        const message = raw.choices[0]!.message;
        messages.push(message);
        if (!message.tool_calls?.length) return message.content === "The sum is 10" ? 1 : 0;
        for (const call of message.tool_calls) {
          if (call.type !== "function") continue;
          const { a, b } = JSON.parse(call.function.arguments) as { a: number; b: number };
          messages.push({ role: "tool", tool_call_id: call.id, content: String(a + b) });
        }
      }
    });
    h.mock.script(undefined);
    spans = result.spans;
    rolloutId = result.rollout.rolloutId;
    attemptId = result.rollout.attempts[0]!.attemptId;
    expect(result.rollout.finalReward).toBe(1);
  });

  it("gives one exact transition per call: messages, token ids, logprobs, finish reason, reward, agent", () => {
    const calls = llmSpans(spans);
    const toolCall = (id: string, a: number, b: number) => ({ id, type: "function", function: { name: "add", arguments: JSON.stringify({ a, b }) } });
    const responses = [
      { role: "assistant", content: null, tool_calls: [toolCall("call_1", 1, 2)] },
      { role: "assistant", content: null, tool_calls: [toolCall("call_2", 3, 4)] },
      { role: "assistant", content: "The sum is 10" },
    ];
    const transitions = toTransitions(spans);
    expect(transitions).toEqual(
      raws.map((raw, i) => ({
        rolloutId,
        attemptId,
        callId: calls[i]!.spanId,
        agentName: "react",
        prompt: { messages: sent[i], tokenIds: raw.prompt_token_ids },
        response: {
          message: responses[i],
          tokenIds: raw.choices[0]!.token_ids,
          logprobs: raw.choices[0]!.logprobs!.content!.map((e) => e.logprob),
          finishReason: raw.choices[0]!.finish_reason,
        },
        reward: 1,
        textOnly: false,
        creditPolicy: "final",
        position: i,
        tools: [addTool],
      })),
    );
    for (const t of transitions) expect(TransitionSchema.safeParse(t).success).toBe(true);
  });

  it("lists the tool calls each response asked for", () => {
    const [attempt] = adaptSpans(spans);
    expect(attempt!.calls.map((c) => c.toolUses)).toEqual([
      [{ id: "call_1", name: "add", arguments: '{"a":1,"b":2}' }],
      [{ id: "call_2", name: "add", arguments: '{"a":3,"b":4}' }],
      [],
    ]);
  });

  it("gives one SFT record for the whole conversation, tool calls and tool results included", () => {
    const call = (id: string, a: number, b: number) => ({ role: "assistant", tool_calls: [{ id, type: "function", function: { name: "add", arguments: JSON.stringify({ a, b }) } }] });
    expect(toChatMessages(spans)).toEqual([
      {
        messages: [
          { role: "system", content: "Use the add tool." },
          { role: "user", content: "What is 1 + 2 + 3 + 4?" },
          call("call_1", 1, 2),
          { role: "tool", content: "3", tool_call_id: "call_1" },
          call("call_2", 3, 4),
          { role: "tool", content: "7", tool_call_id: "call_2" },
          { role: "assistant", content: "The sum is 10" },
        ],
        tools: [addTool],
      },
    ]);
    // Per call, earlier outputs in a prompt are not trained on again.
    const perCall = toChatMessages(spans, { per: "call" });
    expect(perCall).toHaveLength(3);
    expect(perCall[2]!.messages.map((m) => m.weight)).toEqual([undefined, undefined, 0, undefined, 0, undefined, undefined]);
  });

  it("does not merge across the mock's chat template: its '</tool_call><|im_end|>' retokenizes the last response token", () => {
    const result = new TraceAdapter().adapt(spans);
    expect(result.samples).toHaveLength(3);
    const merge = result.diagnostics[0]!.merge!;
    expect(merge).toMatchObject({ samples: 3, candidates: 2, merges: 0, mismatches: 2, mergeRatio: 0 });
    const firstSequence = raws[0]!.prompt_token_ids.length + raws[0]!.choices[0]!.token_ids.length;
    expect(merge.notes[0]!.detail).toContain(`first difference at token ${firstSequence - 1}`);
    expect(result.samples.map((s) => s.responseMask.every((m) => m === 1))).toEqual([true, true, true]);
  });
});

describe("a LangChain ReAct loop (LangChain over the openai SDK, tool spans)", () => {
  it("counts each call once, and matches tool calls with the tool spans that ran them", async () => {
    const add = tool(async ({ a, b }: { a: number; b: number }) => String(a + b), { name: "add", description: "Adds two numbers.", schema: z.object({ a: z.number(), b: z.number() }) });
    h.mock.script(
      replySequence([
        { toolCalls: [{ name: "add", arguments: { a: 1, b: 2 }, id: "lc_1" }] },
        { toolCalls: [{ name: "add", arguments: { a: 3, b: 4 }, id: "lc_2" }] },
        { text: "The sum is 10" },
      ]),
    );
    const model = new ChatOpenAI({ model: "mock-model", apiKey: "test", configuration: { baseURL: h.mock.baseUrl }, maxRetries: 0, modelKwargs: { return_token_ids: true } }).bindTools([add]);
    const { spans } = await h.run("calculator", async () => {
      const messages: BaseMessage[] = [new SystemMessage("You are a calculator."), new HumanMessage("What is 1 + 2 + 3 + 4?")];
      for (;;) {
        const reply = await model.invoke(messages);
        messages.push(reply);
        if (!reply.tool_calls?.length) return 1;
        for (const call of reply.tool_calls) messages.push(await add.invoke(call));
      }
    });
    h.mock.script(undefined);

    const [attempt] = adaptSpans(spans);
    const openaiCalls = llmSpans(spans);
    expect(spans.filter((s) => s.attributes[Attr.spanType] === SpanTypes.llmRun)).toHaveLength(3);
    expect(attempt!.calls.map((c) => c.callId)).toEqual(openaiCalls.map((s) => s.spanId));
    expect(attempt!.diagnostics.dropped.filter((d) => d.reason === "wrapper_call")).toHaveLength(3);
    const toolSpans = spans.filter((s) => s.attributes[Attr.spanType] === SpanTypes.tool).sort((a, b) => a.sequence - b.sequence);
    expect(attempt!.calls.map((c) => c.toolUses)).toEqual([
      [{ id: "lc_1", name: "add", arguments: '{"a":1,"b":2}', result: "3", spanId: toolSpans[0]!.spanId }],
      [{ id: "lc_2", name: "add", arguments: '{"a":3,"b":4}', result: "7", spanId: toolSpans[1]!.spanId }],
      [],
    ]);
    const transitions = attempt!.trajectory.transitions;
    expect(transitions.map((t) => [t.agentName, t.textOnly, t.reward, t.response.finishReason])).toEqual([
      ["calculator", false, 1, "tool_calls"],
      ["calculator", false, 1, "tool_calls"],
      ["calculator", false, 1, "stop"],
    ]);
    expect(transitions[2]!.prompt.messages!.at(-1)).toEqual({ role: "tool", content: "7", name: "add", tool_call_id: "lc_2" });
    expect(transitions[2]!.response.tokenIds).toEqual(tokenize("The sum is 10"));
  });
});

describe("a three-agent LangGraph (writer, checker, rewriter)", () => {
  let spans: Span[];

  beforeAll(async () => {
    const llm = new ChatOpenAI({ model: "mock-model", apiKey: "test", configuration: { baseURL: h.mock.baseUrl }, maxRetries: 0 });
    const State = Annotation.Root({ question: Annotation<string>(), sql: Annotation<string>(), verdict: Annotation<string>() });
    const graph = new StateGraph(State)
      .addNode("writer", async (s) => ({ sql: String((await llm.invoke(`Write SQL for: ${s.question}`)).content) }))
      .addNode("checker", async (s) => ({ verdict: String((await llm.invoke(`Check: ${s.sql}`)).content) }))
      .addNode("rewriter", async (s) => ({ sql: String((await llm.invoke(`Rewrite: ${s.sql}`)).content) }))
      .addEdge(START, "writer")
      .addEdge("writer", "checker")
      .addEdge("checker", "rewriter")
      .addEdge("rewriter", END)
      .compile();
    ({ spans } = await h.run("sql-agent", async () => ((await graph.invoke({ question: "how many users?" })).sql.length > 0 ? 0.5 : 0)));
  });

  it("selects only writer and rewriter, and says why checker was left out", () => {
    const [writerSpan, checkerSpan, rewriterSpan] = llmSpans(spans);
    const adapter = new TraceAdapter({ agents: ["writer", "rewriter"] });
    const [trajectory] = adapter.toTrajectories(spans);
    expect(trajectory!.finalReward).toBe(0.5);
    expect(trajectory!.transitions).toEqual([
      {
        rolloutId: writerSpan!.rolloutId,
        attemptId: writerSpan!.attemptId,
        callId: writerSpan!.spanId,
        agentName: "writer",
        prompt: { messages: [{ role: "user", content: "Write SQL for: how many users?" }] },
        response: { message: { role: "assistant", content: "echo: Write SQL for: how many users?" }, finishReason: "stop" },
        reward: 0.5,
        textOnly: true,
        creditPolicy: "final",
        position: 0,
      },
      {
        rolloutId: rewriterSpan!.rolloutId,
        attemptId: rewriterSpan!.attemptId,
        callId: rewriterSpan!.spanId,
        agentName: "rewriter",
        prompt: { messages: [{ role: "user", content: "Rewrite: echo: Write SQL for: how many users?" }] },
        response: { message: { role: "assistant", content: "echo: Rewrite: echo: Write SQL for: how many users?" }, finishReason: "stop" },
        reward: 0.5,
        textOnly: true,
        creditPolicy: "final",
        position: 2,
      },
    ]);
    const [diagnostics] = adapter.diagnose(spans);
    expect(diagnostics).toMatchObject({ callsFound: 3, callsSelected: 2, callsWithTokenIds: 0, rewardFound: true, finalRewardSource: "span", ordering: "sequence" });
    expect(diagnostics!.dropped.filter((d) => d.reason !== "wrapper_call")).toEqual([{ spanId: checkerSpan!.spanId, reason: "agent_not_selected", detail: "agent 'checker' is not selected" }]);
    expect(diagnostics!.merge).toMatchObject({ samples: 0, candidates: 0, mergeRatio: null });
    expect(diagnostics!.merge!.notes.map((n) => n.kind)).toEqual(["text_only", "text_only"]);
  });

  it("selects the same calls with a RegExp, and every call without a filter", () => {
    expect(toTransitions(spans, { agents: /writer$/ }).map((t) => t.agentName)).toEqual(["writer", "rewriter"]);
    expect(toTransitions(spans).map((t) => t.agentName)).toEqual(["writer", "checker", "rewriter"]);
    expect(toChatMessages(spans, { agents: ["checker"] })).toEqual([
      { messages: [{ role: "user", content: "Check: echo: Write SQL for: how many users?" }, { role: "assistant", content: "echo: Check: echo: Write SQL for: how many users?" }] },
    ]);
  });

  it("explains an empty trajectory", () => {
    const [diagnostics] = new TraceAdapter({ agents: ["planner"] }).diagnose(spans);
    expect(diagnostics!.callsSelected).toBe(0);
    expect(diagnostics!.warnings).toContain("none of the 3 LLM call(s) was selected (3 agent not selected)");
  });
});

describe("an OpenAI Agents SDK handoff", () => {
  let spans: Span[];

  beforeAll(async () => {
    const weather = agentTool({ name: "get_weather", description: "Today's weather", parameters: z.object({ city: z.string() }), execute: async ({ city }) => `sunny in ${city}` });
    const specialist = new Agent({ name: "specialist", instructions: "You are the weather specialist.", model: "mock-model", tools: [weather] });
    const triage = new Agent({ name: "triage", instructions: "Route weather questions.", model: "mock-model", handoffs: [specialist] });
    h.mock.script(
      replySequence([
        { toolCalls: [{ name: "transfer_to_specialist", arguments: {} }] },
        { toolCalls: [{ name: "get_weather", arguments: { city: "Oslo" } }] },
        { text: "Sunny in Oslo." },
      ]),
    );
    ({ spans } = await h.run("support", async () => ((await run(triage, "Weather in Oslo?")).finalOutput === "Sunny in Oslo." ? 1 : 0)));
    h.mock.script(undefined);
  });

  it("attributes calls to the agent that made them, before and after the handoff", () => {
    const transitions = toTransitions(spans);
    expect(transitions.map((t) => [t.agentName, t.prompt.messages![0], t.response.finishReason, t.reward])).toEqual([
      ["triage", { role: "system", content: "Route weather questions." }, "tool_calls", 1],
      ["specialist", { role: "system", content: "You are the weather specialist." }, "tool_calls", 1],
      ["specialist", { role: "system", content: "You are the weather specialist." }, "stop", 1],
    ]);
    expect(transitions.map((t) => t.callId)).toEqual(llmSpans(spans).map((s) => s.spanId));
    expect(toTransitions(spans, { agents: ["specialist"] }).map((t) => t.position)).toEqual([1, 2]);
  });

  it("finds the tool span behind the specialist's tool call by name (the SDK records no call id)", () => {
    const [attempt] = adaptSpans(spans);
    const toolSpan = spans.find((s) => s.name === "execute_tool get_weather")!;
    expect(attempt!.calls[1]!.toolUses).toEqual([{ id: expect.any(String), name: "get_weather", arguments: '{"city":"Oslo"}', result: "sunny in Oslo", spanId: toolSpan.spanId }]);
    expect(attempt!.calls[0]!.toolUses).toEqual([{ id: expect.any(String), name: "transfer_to_specialist", arguments: "{}" }]);
  });

  it("gives each agent its own conversation; the triage's turn is not trained on in the specialist's", () => {
    const records = toChatMessages(spans);
    expect(records).toHaveLength(2);
    expect(records[0]!.messages.map((m) => [m.role, m.weight])).toEqual([
      ["system", undefined],
      ["user", undefined],
      ["assistant", undefined],
    ]);
    expect(records[1]!.messages.map((m) => [m.role, m.weight])).toEqual([
      ["system", undefined],
      ["user", undefined],
      ["assistant", 0],
      ["tool", undefined],
      ["assistant", undefined],
      ["tool", undefined],
      ["assistant", undefined],
    ]);
    expect(records[1]!.messages.at(-2)).toMatchObject({ role: "tool", content: "sunny in Oslo" });
    expect(records[1]!.messages.at(-1)).toEqual({ role: "assistant", content: "Sunny in Oslo." });
  });
});

describe("a judge LLM inside a reward", () => {
  let spans: Span[];
  let context: ReturnType<typeof contextFromRollout>;

  beforeAll(async () => {
    const result = await h.run("answerer", async () => {
      const answer = await client.chat.completions.create({ model: "mock-model", messages: [{ role: "user", content: "Capital of France?" }] });
      // An intermediate reward for that call, named by the response id the agent has in hand.
      emitReward(0.5, { callId: answer.id, name: "format" });
      return withReward(async () => {
        const verdict = await client.chat.completions.create({ model: "mock-model", messages: [{ role: "user", content: `Grade: ${answer.choices[0]!.message.content}` }] });
        return verdict.choices[0]!.message.content?.startsWith("echo: Grade") ? 0.8 : 0;
      });
    });
    spans = result.spans;
    context = contextFromRollout(result.rollout);
    expect(result.rollout.finalReward).toBe(0.8);
  });

  it("keeps the judge out of the training data, and its verdict as the final reward", () => {
    const [judgeCall] = llmSpans(spans).filter((s) => String(JSON.stringify(s.attributes[Attr.inputMessages])).includes("Grade"));
    const rewardSpan = spans.find((s) => s.attributes[Attr.spanType] === SpanTypes.reward && s.attributes[Attr.rewardFinal] === true)!;
    expect(judgeCall!.parentId).toBe(rewardSpan.spanId);
    const [attempt] = adaptSpans(spans, { context });
    expect(attempt!.trajectory.transitions.map((t) => [t.response.message?.content, t.reward, t.intermediateReward])).toEqual([["echo: Capital of France?", 0.8, 0.5]]);
    expect(attempt!.diagnostics).toMatchObject({ callsFound: 2, callsSelected: 1, finalReward: 0.8, finalRewardSource: "attempt", intermediateRewards: { found: 1, attached: 1 } });
    expect(attempt!.diagnostics.dropped).toEqual([{ spanId: judgeCall!.spanId, reason: "inside_reward", detail: "the call ran inside a reward span (an LLM judge is not the policy)" }]);
    expect(attempt!.diagnostics.warnings).toEqual(["1 intermediate reward(s) were found but the 'final' policy does not use them"]);
  });

  it("includes the judge when asked, and perCall uses only the intermediate reward", () => {
    expect(toTransitions(spans, { excludeCallsInsideRewards: false }).map((t) => t.reward)).toEqual([0.8, 0.8]);
    const [attempt] = adaptSpans(spans, { credit: perCallCredit, context });
    expect(attempt!.trajectory.transitions.map((t) => [t.reward, t.creditPolicy])).toEqual([[0.5, "perCall"]]);
    expect(attempt!.diagnostics.warnings).toEqual(["the final reward (0.8) is not used by the 'perCall' policy"]);
  });
});

describe("withReward", () => {
  it("records no reward when the reward function throws, and the adapter says why", async () => {
    const { spans, rollout } = await h.run("fragile", async () => {
      await client.chat.completions.create({ model: "mock-model", messages: [{ role: "user", content: "hello" }] });
      await withReward(async () => {
        throw new Error("the judge is down");
      }).catch(() => undefined);
    });
    expect(rollout.finalReward).toBeNull();
    const rewardSpan = spans.find((s) => s.attributes[Attr.spanType] === SpanTypes.reward)!;
    expect(rewardSpan.status).toEqual({ code: "error", message: "the judge is down" });
    const [diagnostics] = new TraceAdapter().diagnose(spans);
    expect(diagnostics).toMatchObject({ callsSelected: 1, rewardFound: false, finalRewardSource: "none" });
    expect(diagnostics!.dropped).toEqual([{ spanId: rewardSpan.spanId, reason: "reward_no_value", detail: "the reward span has no numeric value (did the reward function throw?)" }]);
  });

  it("records named values, and an intermediate reward for a call", async () => {
    const { spans, rollout } = await h.run("graded", async () => {
      const answer = await client.chat.completions.create({ model: "mock-model", messages: [{ role: "user", content: "hello" }] });
      await withReward(() => ({ format: 1, length: 0.5 }), { callId: answer.id, primary: "length" });
      return 1;
    });
    expect(rollout.finalReward).toBe(1);
    const rewardSpan = spans.find((s) => s.attributes[Attr.rewardCallId] !== undefined)!;
    expect(rewardSpan.attributes).toMatchObject({ [Attr.rewardValue]: 0.5, [Attr.rewardName]: "length", [Attr.rewardValues]: { format: 1, length: 0.5 }, [Attr.rewardFinal]: false });
    expect(toTransitions(spans, { credit: perCallCredit }).map((t) => t.reward)).toEqual([0.5]);
  });
});

describe("streaming and text-only calls", () => {
  const conversation = async (tokenIds: boolean) =>
    h.run("chatter", async () => {
      const messages: ChatCompletionMessageParam[] = [{ role: "user", content: "hi there" }];
      for (const followUp of ["tell me more", undefined]) {
        const params = { model: "mock-model", messages, stream: true as const, ...(tokenIds ? { return_token_ids: true, logprobs: true } : {}) };
        const stream = await client.chat.completions.create(params as OpenAI.ChatCompletionCreateParamsStreaming);
        let text = "";
        for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
        messages.push({ role: "assistant", content: text });
        if (followUp) messages.push({ role: "user", content: followUp });
      }
      return 1;
    });

  it("takes a stream's token ids and logprobs as recorded, and merges the turns with the user turn masked", async () => {
    const { spans } = await conversation(true);
    const transitions = toTransitions(spans);
    const prompt1 = chatml([["user", "hi there"]]);
    const response1 = tokenize("echo: hi there");
    const prompt2 = chatml([["user", "hi there"], ["assistant", "echo: hi there"], ["user", "tell me more"]]);
    const response2 = tokenize("echo: tell me more");
    expect(transitions.map((t) => [t.prompt.tokenIds, t.response.tokenIds, t.textOnly])).toEqual([
      [prompt1, response1, false],
      [prompt2, response2, false],
    ]);
    expect(transitions.map((t) => t.response.logprobs?.length)).toEqual([response1.length, response2.length]);

    const [sample, ...others] = toMergedSamples(spans);
    expect(others).toEqual([]);
    const inserted = prompt2.slice(prompt1.length + response1.length);
    expect(inserted.length).toBeGreaterThan(0);
    expect(sample).toEqual({
      rolloutId: transitions[0]!.rolloutId,
      attemptId: transitions[0]!.attemptId,
      agentName: "chatter",
      callIds: transitions.map((t) => t.callId),
      promptIds: prompt1,
      responseIds: [...response1, ...inserted, ...response2],
      responseMask: [...response1.map(() => 1), ...inserted.map(() => 0), ...response2.map(() => 1)],
      logprobs: [...transitions[0]!.response.logprobs!, ...inserted.map(() => null), ...transitions[1]!.response.logprobs!],
      reward: 1,
      creditPolicy: "final",
    });
    expect(new TraceAdapter().diagnose(spans)[0]!.merge).toMatchObject({ samples: 1, candidates: 1, merges: 1, mismatches: 0, mergeRatio: 1 });
  });

  it("marks calls without token ids text-only and never invents tokens for them", async () => {
    const { spans } = await conversation(false);
    const transitions = toTransitions(spans);
    expect(transitions.map((t) => [t.textOnly, t.prompt.tokenIds, t.response.tokenIds, t.response.message?.content])).toEqual([
      [true, undefined, undefined, "echo: hi there"],
      [true, undefined, undefined, "echo: tell me more"],
    ]);
    const result = new TraceAdapter().adapt(spans);
    expect(result.samples).toEqual([]);
    expect(result.diagnostics[0]).toMatchObject({ callsFound: 2, callsSelected: 2, callsWithTokenIds: 0, merge: { samples: 0, mergeRatio: null } });
    expect(toChatMessages(spans)).toEqual([
      {
        messages: [
          { role: "user", content: "hi there" },
          { role: "assistant", content: "echo: hi there" },
          { role: "user", content: "tell me more" },
          { role: "assistant", content: "echo: tell me more" },
        ],
      },
    ]);
  });
});
