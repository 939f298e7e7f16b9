import { existsSync } from "node:fs";
import { CallbackManager } from "@langchain/core/callbacks/manager";
import { Document } from "@langchain/core/documents";
import { BaseChatModel } from "@langchain/core/language_models/chat_models";
import { type BaseMessage, HumanMessage, SystemMessage } from "@langchain/core/messages";
import { BaseRetriever } from "@langchain/core/retrievers";
import { RunnableLambda } from "@langchain/core/runnables";
import { tool } from "@langchain/core/tools";
import { END, MessagesAnnotation, START, StateGraph } from "@langchain/langgraph";
import { ChatOpenAI, OpenAI } from "@langchain/openai";
import { createAgent } from "langchain";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { Attr, SpanTypes } from "tracetrain/instrumentations";
import { Tracer, withAgent } from "tracetrain";
import type { Instrumentation } from "tracetrain/instrumentations";
import type { SpanInput, TraceOutcome } from "tracetrain";
import type { SpanSink } from "tracetrain/otel";
import { LANGCHAIN_HANDLER_NAME, createLangChainInstrumentation } from "../../src/tracer/instrumentations/langchain.js";
import { type MockLlm, replySequence, startMockLlm, tokenize } from "tracetrain/testing";

class NullSink implements SpanSink {
  async addSpans(): Promise<void> {}
}

const quietLogger = { debug() {}, info() {}, warn: vi.fn(), error: vi.fn() };
const attr = (span: SpanInput, key: string) => span.attributes?.[key];
const ofType = (spans: SpanInput[], type: string) => spans.filter((s) => attr(s, Attr.spanType) === type).sort((a, b) => a.startTime - b.startTime);
const named = (spans: SpanInput[], name: string) => spans.filter((s) => s.name === name);
const only = (spans: SpanInput[], name: string): SpanInput => {
  const found = named(spans, name);
  expect(found, `exactly one span named ${name}`).toHaveLength(1);
  return found[0]!;
};
const rootOf = (spans: SpanInput[]) => only(spans, "tracetrain.rollout");

const originals = {
  configureSync: CallbackManager._configureSync,
  configure: CallbackManager.configure,
  generateUncached: BaseChatModel.prototype._generateUncached,
};

let mock: MockLlm;
let tracer: Tracer;
const instrumentation = createLangChainInstrumentation();

const chatModel = (fields: Record<string, unknown> = {}) =>
  new ChatOpenAI({ model: "mock-model", apiKey: "test", configuration: { baseURL: mock.baseUrl }, maxRetries: 0, temperature: 0, ...fields });

let rollouts = 0;
const capture = async <T>(fn: () => T | Promise<T>): Promise<TraceOutcome<T>> => {
  const outcome = await tracer.capture({ rolloutId: `ro-${++rollouts}`, attemptId: "at-1" }, fn);
  // Every run here is one of the patched copy: the unpatched-copy check must stay quiet.
  expect(outcome.report.captureIssues).toEqual([]);
  return outcome;
};

const add = tool(async ({ a, b }: { a: number; b: number }) => String(a + b), {
  name: "add",
  description: "Adds two numbers.",
  schema: z.object({ a: z.number(), b: z.number() }),
});

beforeAll(async () => {
  mock = await startMockLlm();
  tracer = new Tracer({ sink: new NullSink(), logger: quietLogger, flushIntervalMs: 1 });
  expect(await instrumentation.install()).toEqual({ installed: true });
});

afterAll(async () => {
  instrumentation.uninstall();
  await mock.close();
});

describe("LangChain instrumentation", () => {
  it("records a tool-calling agent loop: LLM calls with their messages, the tool call, under the chain", async () => {
    mock.script(replySequence([{ toolCalls: [{ name: "add", arguments: { a: 2, b: 3 }, id: "call_add_1" }] }, { text: "The sum is 5." }]));
    const model = chatModel().bindTools([add]);
    const loop = RunnableLambda.from(async (question: string) => {
      const messages: BaseMessage[] = [new SystemMessage("You are a calculator."), new HumanMessage(question)];
      for (;;) {
        const reply = await model.invoke(messages);
        messages.push(reply);
        if (!reply.tool_calls?.length) return reply.text;
        for (const call of reply.tool_calls) messages.push(await add.invoke(call));
      }
    }).withConfig({ runName: "calculator_loop" });

    const outcome = await capture(() => loop.invoke("What is 2 + 3?"));
    expect(outcome.ok && outcome.value).toBe("The sum is 5.");
    const { spans } = outcome;
    const root = rootOf(spans);
    const chain = only(spans, "calculator_loop");
    expect(chain.parentId).toBe(root.spanId);
    expect(attr(chain, Attr.spanType)).toBe(SpanTypes.chain);
    expect(attr(chain, Attr.layer)).toBe("langchain");
    expect(attr(chain, Attr.frameworkRunId)).toMatch(/^[0-9a-f-]{36}$/);

    const [first, second] = ofType(spans, SpanTypes.llm);
    expect(ofType(spans, SpanTypes.llm)).toHaveLength(2);
    for (const llm of [first!, second!]) {
      expect(llm.name).toBe("chat mock-model");
      expect(llm.parentId).toBe(chain.spanId);
      expect(attr(llm, Attr.layer)).toBe("langchain");
      expect(attr(llm, Attr.requestModel)).toBe("mock-model");
      expect(attr(llm, Attr.providerName)).toBe("openai");
      expect(attr(llm, Attr.requestTemperature)).toBe(0);
      expect(attr(llm, Attr.toolDefinitions)).toEqual([
        {
          type: "function",
          function: expect.objectContaining({ name: "add", description: "Adds two numbers.", parameters: expect.objectContaining({ required: ["a", "b"] }) }),
        },
      ]);
      expect(llm.status).toEqual({ code: "ok" });
    }
    const system = { role: "system", content: "You are a calculator." };
    const user = { role: "user", content: "What is 2 + 3?" };
    const assistantCall = { role: "assistant", content: "", tool_calls: [{ id: "call_add_1", type: "function", function: { name: "add", arguments: '{"a":2,"b":3}' } }] };
    expect(attr(first!, Attr.inputMessages)).toEqual([system, user]);
    expect(attr(first!, Attr.outputMessages)).toEqual([{ ...assistantCall, finish_reason: "tool_calls" }]);
    expect(attr(first!, Attr.responseFinishReasons)).toEqual(["tool_calls"]);
    // The second call carries the tool's result, tied to the call by its id.
    expect(attr(second!, Attr.inputMessages)).toEqual([system, user, assistantCall, { role: "tool", content: "5", name: "add", tool_call_id: "call_add_1" }]);
    expect(attr(second!, Attr.outputMessages)).toEqual([{ role: "assistant", content: "The sum is 5.", finish_reason: "stop" }]);
    expect(attr(second!, Attr.usageOutputTokens)).toBe(tokenize("The sum is 5.").length);
    expect(attr(second!, Attr.usageInputTokens)).toBeGreaterThan(attr(first!, Attr.usageInputTokens) as number);
    expect(attr(second!, Attr.responseId)).toMatch(/^chatcmpl-\d+$/);
    expect(attr(second!, Attr.responseModel)).toBe("mock-model");

    const toolSpan = only(spans, "execute_tool add");
    expect(toolSpan.parentId).toBe(chain.spanId);
    expect(attr(toolSpan, Attr.spanType)).toBe(SpanTypes.tool);
    expect(attr(toolSpan, Attr.toolName)).toBe("add");
    expect(attr(toolSpan, Attr.toolCallId)).toBe("call_add_1");
    expect(attr(toolSpan, Attr.toolCallArguments)).toBe('{"a":2,"b":3}');
    expect(attr(toolSpan, Attr.toolCallResult)).toBe("5");
    expect(toolSpan.startTime).toBeGreaterThanOrEqual(first!.endTime);
    expect(toolSpan.endTime).toBeLessThanOrEqual(second!.startTime);
    expect(outcome.report).toMatchObject({ llmCalls: 2, layers: { langchain: { spans: 4, llmCalls: 2 } }, incompleteSpans: 0 });
  });

  it("records createAgent as one named agent whose model and tool steps carry its name", async () => {
    mock.script(replySequence([{ toolCalls: [{ name: "add", arguments: { a: 20, b: 22 }, id: "call_7" }] }, { text: "42" }]));
    const agent = createAgent({ model: chatModel(), tools: [add], systemPrompt: "You add.", name: "calculator" });
    const sentBefore = mock.requests.length;
    const outcome = await capture(() => agent.invoke({ messages: [{ role: "user", content: "20 + 22?" }] }));
    expect(outcome.ok).toBe(true);
    const { spans } = outcome;
    const agentSpan = only(spans, "invoke_agent calculator");
    expect(agentSpan.parentId).toBe(rootOf(spans).spanId);
    expect(attr(agentSpan, Attr.spanType)).toBe(SpanTypes.agent);
    expect(attr(agentSpan, Attr.genAiAgentName)).toBe("calculator");
    // The graph's internal nodes are steps of the agent, not agents of their own.
    expect(ofType(spans, SpanTypes.agent)).toHaveLength(1);
    const steps = named(spans, "model_request");
    expect(steps).toHaveLength(2);
    const toolsStep = only(spans, "tools");
    for (const step of [...steps, toolsStep]) {
      expect(step.parentId).toBe(agentSpan.spanId);
      expect(attr(step, Attr.spanType)).toBe(SpanTypes.chain);
    }
    const llms = ofType(spans, SpanTypes.llm);
    expect(llms.map((s) => s.parentId)).toEqual(steps.map((s) => s.spanId));
    expect(llms.map((s) => attr(s, Attr.agentName))).toEqual(["calculator", "calculator"]);
    expect(attr(llms[1]!, Attr.inputMessages)).toEqual([
      { role: "system", content: [{ type: "text", text: "You add." }] },
      { role: "user", content: "20 + 22?" },
      { role: "assistant", content: "", name: "calculator", tool_calls: [{ id: "call_7", type: "function", function: { name: "add", arguments: '{"a":20,"b":22}' } }] },
      { role: "tool", content: "42", name: "add", tool_call_id: "call_7" },
    ]);
    // The converted messages are exactly what ChatOpenAI put on the wire.
    const sent = mock.requests.slice(sentBefore).map((r) => (r.body as { messages: unknown }).messages);
    expect(llms.map((s) => attr(s, Attr.inputMessages))).toEqual(sent);
    const toolSpan = only(spans, "execute_tool add");
    expect(toolSpan.parentId).toBe(toolsStep.spanId);
    expect(attr(toolSpan, Attr.agentName)).toBe("calculator");
    expect(attr(toolSpan, Attr.toolCallResult)).toBe("42");
    expect(named(spans, "__start__")).toHaveLength(0);
  });

  it("makes each LangGraph node an agent named after the node", async () => {
    mock.script(replySequence([{ text: "Facts: the sky is blue." }, { text: "A poem about a blue sky." }]));
    const model = chatModel();
    const graph = new StateGraph(MessagesAnnotation)
      .addNode("researcher", async (state) => ({ messages: [await model.invoke([new SystemMessage("You research."), ...state.messages])] }))
      .addNode("writer", async (state) => ({ messages: [await model.invoke([new SystemMessage("You write."), ...state.messages])] }))
      .addEdge(START, "researcher")
      .addEdge("researcher", "writer")
      .addEdge("writer", END)
      .compile();
    const outcome = await capture(() => graph.invoke({ messages: [new HumanMessage("Write about the sky.")] }));
    expect(outcome.ok).toBe(true);
    const { spans } = outcome;
    const graphSpan = only(spans, "LangGraph");
    expect(graphSpan.parentId).toBe(rootOf(spans).spanId);
    expect(attr(graphSpan, Attr.spanType)).toBe(SpanTypes.chain);
    expect(attr(graphSpan, Attr.agentName)).toBeUndefined();
    const researcher = only(spans, "invoke_agent researcher");
    const writer = only(spans, "invoke_agent writer");
    for (const [node, name] of [
      [researcher, "researcher"],
      [writer, "writer"],
    ] as const) {
      expect(node.parentId).toBe(graphSpan.spanId);
      expect(attr(node, Attr.spanType)).toBe(SpanTypes.agent);
      expect(attr(node, Attr.agentName)).toBe(name);
      expect(attr(node, Attr.genAiAgentName)).toBe(name);
    }
    const [researchCall, writeCall] = ofType(spans, SpanTypes.llm);
    expect(researchCall!.parentId).toBe(researcher.spanId);
    expect(writeCall!.parentId).toBe(writer.spanId);
    expect(attr(researchCall!, Attr.agentName)).toBe("researcher");
    expect(attr(writeCall!, Attr.agentName)).toBe("writer");
    expect(attr(researchCall!, Attr.inputMessages)).toEqual([
      { role: "system", content: "You research." },
      { role: "user", content: "Write about the sky." },
    ]);
    expect(attr(writeCall!, Attr.inputMessages)).toEqual([
      { role: "system", content: "You write." },
      { role: "user", content: "Write about the sky." },
      { role: "assistant", content: "Facts: the sky is blue." },
    ]);
    expect(attr(writeCall!, Attr.outputMessages)).toEqual([{ role: "assistant", content: "A poem about a blue sky.", finish_reason: "stop" }]);
    // LangGraph's plumbing (`__start__`, channel writes) leaves no spans.
    expect(spans).toHaveLength(6);
  });

  it("lets the user's own withAgent inside a node name the agent of the calls it wraps", async () => {
    mock.script(replySequence([{ text: "draft" }, { text: "critique" }]));
    const model = chatModel();
    const graph = new StateGraph(MessagesAnnotation)
      .addNode("researcher", async (state) => {
        const draft = await model.invoke(state.messages);
        const critique = await withAgent("critic", () => model.invoke([...state.messages, draft, new HumanMessage("Critique it.")]));
        return { messages: [draft, critique] };
      })
      .addEdge(START, "researcher")
      .addEdge("researcher", END)
      .compile();
    const outcome = await capture(() => graph.invoke({ messages: [new HumanMessage("Research.")] }));
    expect(outcome.ok).toBe(true);
    const { spans } = outcome;
    const researcher = only(spans, "invoke_agent researcher");
    const critic = only(spans, "invoke_agent critic");
    expect(critic.parentId).toBe(researcher.spanId);
    expect(attr(critic, Attr.layer)).toBe("emitter");
    const [draftCall, critiqueCall] = ofType(spans, SpanTypes.llm);
    expect(draftCall!.parentId).toBe(researcher.spanId);
    expect(attr(draftCall!, Attr.agentName)).toBe("researcher");
    expect(critiqueCall!.parentId).toBe(critic.spanId);
    expect(attr(critiqueCall!, Attr.agentName)).toBe("critic");
  });

  it("records a text-completion model's run with its prompt and completion", async () => {
    mock.script(replySequence([{ text: "Once upon a time." }]));
    const llm = new OpenAI({ model: "mock-model", apiKey: "test", configuration: { baseURL: mock.baseUrl }, maxRetries: 0, maxTokens: 16 });
    const outcome = await capture(() => llm.invoke("Tell a story."));
    expect(outcome.ok && outcome.value).toBe("Once upon a time.");
    const span = only(outcome.spans, "text_completion mock-model");
    expect(attr(span, Attr.spanType)).toBe(SpanTypes.llm);
    expect(attr(span, Attr.operationName)).toBe("text_completion");
    expect(attr(span, Attr.requestMaxTokens)).toBe(16);
    expect(attr(span, Attr.inputMessages)).toEqual([{ role: "user", content: "Tell a story." }]);
    expect(attr(span, Attr.outputMessages)).toEqual([{ role: "assistant", content: "Once upon a time.", finish_reason: "stop" }]);
    expect(attr(span, Attr.usageOutputTokens)).toBe(tokenize("Once upon a time.").length);
  });

  it("records retriever runs with their query and documents", async () => {
    class FixedRetriever extends BaseRetriever {
      override lc_namespace = ["tracetrain", "test"];
      override async _getRelevantDocuments(query: string): Promise<Document[]> {
        return [new Document({ pageContent: `About ${query}`, metadata: { source: "kb/1" }, id: "doc-1" })];
      }
    }
    const outcome = await capture(() => new FixedRetriever().invoke("tides"));
    const span = only(outcome.spans, "FixedRetriever");
    expect(attr(span, Attr.spanType)).toBe(SpanTypes.retriever);
    expect(span.parentId).toBe(rootOf(outcome.spans).spanId);
    expect(attr(span, Attr.retrievalQuery)).toBe("tides");
    expect(attr(span, Attr.retrievalDocuments)).toEqual([{ pageContent: "About tides", metadata: { source: "kb/1" }, id: "doc-1" }]);
  });

  it("records a throwing tool on its span; the caller gets the very same error", async () => {
    const boom = new RangeError("division by zero");
    const divide = tool(
      async (): Promise<string> => {
        throw boom;
      },
      { name: "divide", description: "Divides.", schema: z.object({ a: z.number(), b: z.number() }) },
    );
    const outcome = await capture(() => divide.invoke({ id: "call_div", name: "divide", args: { a: 1, b: 0 }, type: "tool_call" }));
    expect(outcome.ok).toBe(false);
    expect(!outcome.ok && outcome.error).toBe(boom);
    const span = only(outcome.spans, "execute_tool divide");
    expect(span.status).toEqual({ code: "error", message: "division by zero" });
    expect(span.events?.[0]).toMatchObject({ name: "exception", attributes: { "exception.type": "RangeError", "exception.message": "division by zero" } });
    expect(attr(span, Attr.errorType)).toBe("RangeError");
    expect(attr(span, Attr.toolCallId)).toBe("call_div");
    expect(attr(span, Attr.toolCallArguments)).toBe('{"a":1,"b":0}');
  });

  it("records a tool error inside createAgent, and the model is shown that error", async () => {
    mock.script(replySequence([{ toolCalls: [{ name: "divide", arguments: { a: 1, b: 0 }, id: "call_div" }] }, { text: "Cannot divide by zero." }]));
    const divide = tool(
      async ({ b }: { a: number; b: number }): Promise<string> => {
        if (b === 0) throw new Error("division by zero");
        return "ok";
      },
      { name: "divide", description: "Divides.", schema: z.object({ a: z.number(), b: z.number() }) },
    );
    const agent = createAgent({ model: chatModel(), tools: [divide], name: "divider" });
    const outcome = await capture(() => agent.invoke({ messages: [{ role: "user", content: "1 / 0?" }] }));
    expect(outcome.ok).toBe(true);
    const span = only(outcome.spans, "execute_tool divide");
    expect(span.status).toEqual({ code: "error", message: "division by zero" });
    const [, second] = ofType(outcome.spans, SpanTypes.llm);
    const seen = (attr(second!, Attr.inputMessages) as Array<Record<string, unknown>>).at(-1);
    expect(seen).toEqual({ role: "tool", content: "Error: division by zero\n Please fix your mistakes.", name: "divide", tool_call_id: "call_div" });
    expect(attr(agentOf(outcome.spans, span), Attr.genAiAgentName)).toBe("divider");
  });

  it("records a failed model call on its span and on every run it fails", async () => {
    mock.script(() => ({ error: { status: 400, message: "context too long" } }));
    const model = chatModel();
    const graph = new StateGraph(MessagesAnnotation)
      .addNode("researcher", async (state) => ({ messages: [await model.invoke(state.messages)] }))
      .addEdge(START, "researcher")
      .addEdge("researcher", END)
      .compile();
    const outcome = await capture(() => graph.invoke({ messages: [new HumanMessage("Too much.")] }));
    expect(outcome.ok).toBe(false);
    const thrown = !outcome.ok ? outcome.error : undefined;
    expect(thrown).toBeInstanceOf(Error);
    const [call] = ofType(outcome.spans, SpanTypes.llm);
    expect(call!.status).toMatchObject({ code: "error" });
    expect(call!.status?.message).toContain("context too long");
    expect(attr(call!, Attr.errorType)).toBe("400");
    expect(attr(call!, Attr.inputMessages)).toEqual([{ role: "user", content: "Too much." }]);
    // The node and the graph fail with the same error the caller got.
    for (const name of ["invoke_agent researcher", "LangGraph"]) {
      const span = only(outcome.spans, name);
      expect(span.status).toEqual({ code: "error", message: (thrown as Error).message });
    }
  });

  it("keeps 50 concurrent rollouts, each running a graph, apart", async () => {
    mock.script(async ({ lastUserText, index }) => {
      await new Promise((resolve) => setTimeout(resolve, (index * 7) % 5));
      return { text: `answer to ${lastUserText}` };
    });
    const model = chatModel();
    const graph = new StateGraph(MessagesAnnotation)
      .addNode("solver", async (state) => ({ messages: [await model.invoke(state.messages)] }))
      .addNode("checker", async (state) => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        return { messages: [await model.invoke([...state.messages, new HumanMessage("Check it.")])] };
      })
      .addEdge(START, "solver")
      .addEdge("solver", "checker")
      .addEdge("checker", END)
      .compile();
    const outcomes = await Promise.all(
      Array.from({ length: 50 }, (_, i) => tracer.capture({ rolloutId: `conc-${i}`, attemptId: "at-1" }, () => graph.invoke({ messages: [new HumanMessage(`task ${i}`)] }))),
    );
    const traceIds = new Set<string>();
    outcomes.forEach((outcome, i) => {
      expect(outcome.ok).toBe(true);
      const { spans } = outcome;
      expect(spans).toHaveLength(6);
      const ids = new Set(spans.map((s) => s.spanId));
      for (const span of spans) {
        expect(span.rolloutId).toBe(`conc-${i}`);
        if (span.parentId) expect(ids.has(span.parentId), `${span.name} has its parent in its own rollout`).toBe(true);
      }
      traceIds.add(spans[0]!.traceId);
      const graphSpan = only(spans, "LangGraph");
      const solver = only(spans, "invoke_agent solver");
      const checker = only(spans, "invoke_agent checker");
      expect([solver.parentId, checker.parentId]).toEqual([graphSpan.spanId, graphSpan.spanId]);
      const [solve, check] = ofType(spans, SpanTypes.llm);
      expect(solve!.parentId).toBe(solver.spanId);
      expect(check!.parentId).toBe(checker.spanId);
      expect(attr(solve!, Attr.inputMessages)).toEqual([{ role: "user", content: `task ${i}` }]);
      expect(attr(solve!, Attr.outputMessages)).toEqual([{ role: "assistant", content: `answer to task ${i}`, finish_reason: "stop" }]);
      expect(attr(check!, Attr.inputMessages)).toEqual([
        { role: "user", content: `task ${i}` },
        { role: "assistant", content: `answer to task ${i}` },
        { role: "user", content: "Check it." },
      ]);
      expect([attr(solve!, Attr.agentName), attr(check!, Attr.agentName)]).toEqual(["solver", "checker"]);
    });
    expect(traceIds.size).toBe(50);
  });

  it("adds no handler and records nothing outside a trace; inside one the handler is added once", async () => {
    // Outside a trace LangChain behaves exactly as without us: no handlers, no manager.
    expect(CallbackManager._configureSync(undefined, undefined)).toBeUndefined();
    const plain = CallbackManager.configure([], undefined, ["t"]);
    expect(plain?.handlers.map((h) => h.name)).toEqual([]);
    mock.script(replySequence([{ text: "untraced" }]));
    expect((await chatModel().invoke("hello")).text).toBe("untraced");

    const outcome = await capture(async () => {
      const manager = CallbackManager.configure(undefined, undefined, ["tag"], undefined, { langgraph_node: "n" });
      const run = await manager?.handleChainStart({ lc: 1, type: "not_implemented", id: ["test", "Outer"] }, {});
      // A nested run's manager inherits our handler from its parent and must not get a second one.
      const child = CallbackManager.configure(run?.getChild(), undefined);
      await run?.handleChainEnd({});
      return { manager, child };
    });
    expect(outcome.ok).toBe(true);
    if (!outcome.ok) return;
    const { manager, child } = outcome.value;
    expect(manager?.handlers.map((h) => h.name)).toEqual([LANGCHAIN_HANDLER_NAME]);
    // Tags and metadata survive: we asked LangChain for a manager it would otherwise not have built.
    expect(manager?.metadata).toEqual({ langgraph_node: "n" });
    expect(manager?.tags).toEqual(["tag"]);
    expect(child?.handlers.map((h) => h.name)).toEqual([LANGCHAIN_HANDLER_NAME]);
    expect(child?.inheritableHandlers.map((h) => h.name)).toEqual([LANGCHAIN_HANDLER_NAME]);
    expect(outcome.spans.map((s) => s.name).sort()).toEqual(["Outer", "tracetrain.rollout"]);
  });

  it("puts every hook back on uninstall", async () => {
    instrumentation.uninstall();
    try {
      expect(CallbackManager._configureSync).toBe(originals.configureSync);
      expect(CallbackManager.configure).toBe(originals.configure);
      expect(BaseChatModel.prototype._generateUncached).toBe(originals.generateUncached);
      mock.script(replySequence([{ text: "after uninstall" }]));
      const outcome = await capture(() => chatModel().invoke("hi"));
      expect(outcome.ok && outcome.value.text).toBe("after uninstall");
      expect(outcome.spans.map((s) => s.name)).toEqual(["tracetrain.rollout"]);
    } finally {
      expect(await instrumentation.install()).toEqual({ installed: true });
    }
  });
});

function agentOf(spans: SpanInput[], span: SpanInput): SpanInput {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  for (let current: SpanInput | undefined = span; current; current = current.parentId ? byId.get(current.parentId) : undefined) {
    if (attr(current, Attr.spanType) === SpanTypes.agent) return current;
  }
  throw new Error(`no agent above ${span.name}`);
}

// The openai SDK layer is written alongside this one; these tests run once it exists.
const openaiLayer = new URL("../../src/tracer/instrumentations/openai.ts", import.meta.url);

describe.runIf(existsSync(openaiLayer))("LangChain with the openai SDK layer", () => {
  let openai: Instrumentation;

  beforeAll(async () => {
    const specifier = openaiLayer.href;
    const module = (await import(/* @vite-ignore */ specifier)) as { createOpenAIInstrumentation: () => Instrumentation };
    openai = module.createOpenAIInstrumentation();
    expect(await openai.install()).toEqual({ installed: true });
  });

  afterAll(() => openai.uninstall());

  /** Each exact `llm` span (layer openai) with the `llm_run` span (layer langchain) it sits under. */
  const calls = (spans: SpanInput[]) => {
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    return ofType(spans, SpanTypes.llm).map((llm) => ({ llm, run: byId.get(llm.parentId ?? "") }));
  };

  it("records each ChatOpenAI call once, exactly, under LangChain's model run, in the node's agent", async () => {
    mock.script(replySequence([{ text: "Facts: water is wet." }, { text: "Wet water, a poem." }]));
    const model = chatModel({ modelKwargs: { return_token_ids: true } });
    const graph = new StateGraph(MessagesAnnotation)
      .addNode("researcher", async (state) => ({ messages: [await model.invoke(state.messages)] }))
      .addNode("writer", async (state) => ({ messages: [await model.invoke(state.messages)] }))
      .addEdge(START, "researcher")
      .addEdge("researcher", "writer")
      .addEdge("writer", END)
      .compile();
    const outcome = await capture(() => graph.invoke({ messages: [new HumanMessage("Water?")] }));
    expect(outcome.ok).toBe(true);
    const { spans, report } = outcome;
    const found = calls(spans);
    expect(found).toHaveLength(2);
    const texts = ["Facts: water is wet.", "Wet water, a poem."];
    const nodes = [only(spans, "invoke_agent researcher"), only(spans, "invoke_agent writer")];
    found.forEach(({ llm, run }, i) => {
      expect(attr(llm, Attr.layer)).toBe("openai");
      expect(run).toBeDefined();
      expect(attr(run!, Attr.spanType)).toBe(SpanTypes.llmRun);
      expect(attr(run!, Attr.layer)).toBe("langchain");
      expect(attr(run!, Attr.recordedBy)).toBe("openai");
      expect(run!.parentId).toBe(nodes[i]!.spanId);
      expect(attr(llm, Attr.agentName)).toBe(i === 0 ? "researcher" : "writer");
      expect(attr(llm, Attr.responseTokenIds)).toEqual([tokenize(texts[i]!)]);
      expect((attr(llm, Attr.promptTokenIds) as number[]).length).toBeGreaterThan(0);
      expect(attr(llm, Attr.outputMessages)).toEqual([expect.objectContaining({ role: "assistant", content: texts[i] })]);
      // Both layers saw the same conversation.
      expect(attr(run!, Attr.inputMessages)).toEqual(attr(llm, Attr.inputMessages));
    });
    expect(report.llmCalls).toBe(2);
    expect(report.llmCallsWithTokenIds).toBe(2);
    expect(report.layers.openai).toMatchObject({ llmCalls: 2 });
    expect(report.layers.langchain).toMatchObject({ llmCalls: 0 });
  });

  it("pairs concurrent calls of one node with their own model runs", async () => {
    mock.script(async ({ lastUserText, index }) => {
      await new Promise((resolve) => setTimeout(resolve, (index * 3) % 4));
      return { text: `re: ${lastUserText}` };
    });
    const model = chatModel();
    const graph = new StateGraph(MessagesAnnotation)
      .addNode("fanout", async () => ({ messages: await Promise.all(["a", "b", "c", "d"].map((q) => model.invoke([new HumanMessage(q)]))) }))
      .addEdge(START, "fanout")
      .addEdge("fanout", END)
      .compile();
    const outcome = await capture(() => graph.invoke({ messages: [] }));
    expect(outcome.ok).toBe(true);
    const found = calls(outcome.spans);
    expect(found).toHaveLength(4);
    for (const { llm, run } of found) {
      expect(attr(run!, Attr.spanType)).toBe(SpanTypes.llmRun);
      expect(attr(run!, Attr.inputMessages)).toEqual(attr(llm, Attr.inputMessages));
      expect(attr(run!, Attr.outputMessages)).toEqual([{ role: "assistant", content: `re: ${(attr(llm, Attr.inputMessages) as Array<{ content: string }>)[0]!.content}`, finish_reason: "stop" }]);
    }
    expect(outcome.report.llmCalls).toBe(4);
  });

  it("does the same for a streamed call", async () => {
    mock.script(replySequence([{ text: "streamed words" }]));
    const model = chatModel({ streamUsage: true });
    const outcome = await capture(async () => {
      let text = "";
      for await (const chunk of await model.stream("Stream please")) text += chunk.text;
      return text;
    });
    expect(outcome.ok && outcome.value).toBe("streamed words");
    const [call] = calls(outcome.spans);
    expect(calls(outcome.spans)).toHaveLength(1);
    expect(attr(call!.llm, Attr.layer)).toBe("openai");
    expect(attr(call!.run!, Attr.spanType)).toBe(SpanTypes.llmRun);
    expect(attr(call!.run!, Attr.outputMessages)).toEqual([expect.objectContaining({ role: "assistant", content: "streamed words" })]);
    expect(attr(call!.run!, Attr.timeToFirstChunk)).toBeGreaterThan(0);
    expect(outcome.report.llmCalls).toBe(1);
  });
});
