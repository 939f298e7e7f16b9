// LangChain's createAgent (langchain 1.x) and a LangGraph graph, unchanged: no callbacks passed.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Annotation, END, START, StateGraph } from "@langchain/langgraph";
import { ChatOpenAI } from "@langchain/openai";
import { createAgent, tool } from "langchain";
import { z } from "zod";
import { agent } from "tracetrain";
import { replySequence } from "tracetrain/testing";
import { runAndCount, useMockAndTrainer } from "../support/helpers.mjs";

const setup = useMockAndTrainer();
const chatModel = () => new ChatOpenAI({ model: "mock-model", apiKey: "test", configuration: { baseURL: setup.mock.baseUrl }, maxRetries: 0 });

test("createAgent with a tool", async () => {
  setup.mock.script(replySequence([{ toolCalls: [{ name: "add", arguments: { a: 20, b: 22 } }] }, { text: "42" }]));
  const add = tool(async ({ a, b }) => String(a + b), { name: "add", description: "Adds two numbers.", schema: z.object({ a: z.number(), b: z.number() }) });
  const calculator = createAgent({ model: chatModel(), tools: [add], systemPrompt: "You add.", name: "calculator" });
  const adder = agent(async () => {
    const result = await calculator.invoke({ messages: [{ role: "user", content: "20 + 22?" }] });
    return String(result.messages.at(-1)?.content) === "42" ? 1 : 0;
  }, { name: "langchain-adder" });
  try {
    const run = await runAndCount(setup.trainer, setup.mock, adder, {}, 2);
    assert.equal(run.rollout.finalReward, 1);
    assert.ok(run.spans.some((s) => s.name === "invoke_agent calculator"), `an agent span for createAgent (spans: ${run.spans.map((s) => s.name).join(", ")})`);
  } finally {
    setup.mock.script(undefined);
  }
});

test("a LangGraph graph of two nodes", async () => {
  const llm = chatModel();
  const State = Annotation.Root({ topic: Annotation(), notes: Annotation(), draft: Annotation() });
  const graph = new StateGraph(State)
    .addNode("researcher", async (s) => ({ notes: String((await llm.invoke(`Facts about ${s.topic}`)).content) }))
    .addNode("writer", async (s) => ({ draft: String((await llm.invoke(`Write about ${s.topic} using: ${s.notes}`)).content) }))
    .addEdge(START, "researcher")
    .addEdge("researcher", "writer")
    .addEdge("writer", END)
    .compile();
  const writer = agent(async (task) => ((await graph.invoke(task)).draft.startsWith("echo: Write about") ? 1 : 0), { name: "writer-graph" });
  const run = await runAndCount(setup.trainer, setup.mock, writer, { topic: "tide pools" }, 2);
  assert.equal(run.rollout.finalReward, 1);
  const agents = run.spans.filter((s) => s.attributes?.["tracetrain.span.type"] === "llm").map((s) => s.attributes?.["tracetrain.agent.name"]);
  assert.deepEqual(agents, ["researcher", "writer"]);
});
