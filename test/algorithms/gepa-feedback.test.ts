/**
 * What an optimizer reads about runs of a two-agent system, traced for real (openai SDK against the
 * mock LLM over HTTP, the tracer, a MemoryStore): the evaluator's feedback, the tools each run
 * offered, which agents used which component, and reflective datasets limited to selected agents.
 */
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Rollout, TraceAdapter, Tracer, emitReward, withAgent, withReward } from "tracetrain";
import { MemoryStore } from "tracetrain/store";
import { type MockLlm, type Responder, startMockLlm } from "tracetrain/testing";
import { describeRuns, readRun, renderRuns } from "../../src/algorithms/experiments.js";
import { selectComponents } from "../../src/algorithms/gepa/components.js";
import { componentUse, reflectiveDataset, usedComponents } from "../../src/algorithms/gepa/reflective-dataset.js";
import type { PromptTemplateResource } from "../../src/types/index.js";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const template = (text: string): PromptTemplateResource => ({ kind: "prompt_template", template: text, engine: "fstring" });

const PLANNER = "You are the planner. Break the goal into numbered steps.";
const EXECUTOR = "You are the executor. Carry out the plan you are given.";
const LOOKUP = "Looks up a fact in the team wiki by its exact page title.";
const TOOL = { type: "function" as const, function: { name: "lookup", description: LOOKUP, parameters: { type: "object", properties: { title: { type: "string" } }, required: ["title"] } } };

const components: Array<[string, PromptTemplateResource]> = [
  ["planner_system", template(PLANNER)],
  ["executor_system", template(EXECUTOR)],
  ["lookup_description", template(LOOKUP)],
  ["unused", template("A prompt no agent of this system reads.")],
];

/** The planner answers with a plan; the executor looks a page up, then answers. */
const responder: Responder = ({ body }) => {
  const messages = body.messages as Array<{ role: string; content?: unknown }>;
  if (String(messages[0]?.content).startsWith("You are the planner")) return { text: "1. Look up the policy. 2. Answer." };
  return messages.at(-1)?.role === "tool" ? { text: "Done: the policy allows it." } : { toolCalls: [{ name: "lookup", arguments: { title: "Travel policy" } }] };
};

let llm: MockLlm;
let store: MemoryStore;
let tracer: Tracer;
const runs: Rollout[] = [];

/** One traced rollout of the two agents, scored by a judge that explains its score. */
async function runSystem(goal: string, score: number): Promise<Rollout> {
  const client = new OpenAI({ baseURL: llm.baseUrl, apiKey: "test", maxRetries: 0 });
  const { rollout, attempt } = await store.startRollout({ input: { goal } });
  await tracer.trace({ rolloutId: rollout.rolloutId, attemptId: attempt.attemptId }, async () => {
    const plan = await withAgent("planner", async () => {
      const completion = await client.chat.completions.create({ model: "m", messages: [{ role: "system", content: PLANNER }, { role: "user", content: goal }] });
      // An intermediate reward judged under the planner: it concerns the planner's calls only.
      emitReward(0.5, { final: false, feedback: "The plan has no step that checks the budget." });
      return completion.choices[0]!.message.content ?? "";
    });
    await withAgent("executor", async () => {
      const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: "system", content: EXECUTOR }, { role: "user", content: plan }];
      for (let turn = 0; turn < 3; turn++) {
        const message = (await client.chat.completions.create({ model: "m", messages, tools: [TOOL] })).choices[0]!.message;
        messages.push(message);
        if (!message.tool_calls?.length) break;
        for (const call of message.tool_calls) messages.push({ role: "tool", tool_call_id: call.id, content: "Travel needs a manager's approval." });
      }
    });
    await withReward(async () => ({ value: score, feedback: `The executor looked up the wrong page\nfor "${goal}".` }));
  });
  await store.completeAttempt(rollout.rolloutId, attempt.attemptId, { status: "succeeded", finalReward: score });
  return store.getRollout(rollout.rolloutId);
}

beforeAll(async () => {
  llm = await startMockLlm({ responder });
  store = new MemoryStore({ watchdogIntervalMs: false });
  tracer = new Tracer({ sink: store, logger: quiet });
  await tracer.instrument({ openai: true, fetch: false, langchain: false, agents: false });
  runs.push(await runSystem("Book a trip to Oslo", 0), await runSystem("Book a trip to Rome", 1));
});

afterAll(async () => {
  tracer.uninstrument();
  await store.close();
  await llm.close();
});

describe("runs as the optimizer reads them", () => {
  it("carry the evaluator's feedback, on one bounded line per run", async () => {
    const adapter = new TraceAdapter();
    const record = await readRun(store, adapter, runs[0]!);
    expect(record.feedback.map((f) => [f.value, f.final, f.agentName, f.feedback])).toEqual([
      [0.5, false, "planner", "The plan has no step that checks the budget."],
      [0, true, undefined, 'The executor looked up the wrong page\nfor "Book a trip to Oslo".'],
    ]);
    const text = await describeRuns(store, adapter, runs);
    // Low rewards first; several feedback texts are named by their reward, and line breaks do not break the run's layout.
    expect(text).toContain('### Run 1: reward 0\nFeedback: (reward: 0.5) The plan has no step that checks the budget. | (reward: 0) The executor looked up the wrong page for "Book a trip to Oslo".\nTask: ');
    expect(text).toContain('### Run 2: reward 1\nFeedback: (reward: 0.5) The plan has no step that checks the budget. | (reward: 1) The executor looked up the wrong page for "Book a trip to Rome".');
  });

  it("show the tools a run offered, by name and description, once per distinct set", async () => {
    const text = await describeRuns(store, new TraceAdapter(), runs);
    expect(text).toContain(`Tools offered:\n- lookup: ${LOOKUP}\nConversation:`);
    expect(text).toContain("Tools offered: (the same as in run 1)");
    expect(text.split(LOOKUP)).toHaveLength(2);
  });

  it("bound a judge's long feedback", async () => {
    const record = await readRun(store, new TraceAdapter(), runs[0]!);
    const long = renderRuns([{ ...record, feedback: [{ ...record.feedback[1]!, feedback: "x".repeat(7000) }] }]);
    const line = long.split("\n").find((l) => l.startsWith("Feedback: "))!;
    expect(line.length).toBeLessThan(1600);
    expect(line).toMatch(/… \(5500 more characters\)$/);
  });
});

describe("components per agent", () => {
  it("finds which agents' calls each component shaped, tool descriptions included", async () => {
    const uses = await componentUse(store, new TraceAdapter(), components, runs);
    expect(uses).toEqual([
      { component: "planner_system", agents: ["planner"], unnamedCalls: 0 },
      { component: "executor_system", agents: ["executor"], unnamedCalls: 0 },
      { component: "lookup_description", agents: ["executor"], unnamedCalls: 0 },
      { component: "unused", agents: [], unnamedCalls: 0 },
    ]);
    // Whatever agents the adapter itself selects, every agent's use is found (to report a component as fixed, and why)…
    expect(await componentUse(store, new TraceAdapter({ agents: ["planner"] }), components, runs)).toEqual(uses);
    // …and the components in use are those of the agents it selects.
    expect(await usedComponents(store, new TraceAdapter(), components, runs)).toEqual(["planner_system", "executor_system", "lookup_description"]);
    expect(await usedComponents(store, new TraceAdapter({ agents: ["planner"] }), components, runs)).toEqual(["planner_system"]);
    expect(selectComponents(uses, ["executor"])).toEqual({
      evolved: ["executor_system", "lookup_description"],
      fixed: [
        { name: "planner_system", why: "used only by agent planner, not selected" },
        { name: "unused", why: "never seen in the agent's LLM calls" },
      ],
    });
  });

  it("builds a tool description's reflective dataset from the calls that offered the tool, of the selected agents only", async () => {
    const adapter = new TraceAdapter();
    const dataset = await reflectiveDataset(store, adapter, "lookup_description", components[2]![1], runs, { agents: ["executor"] });
    expect(dataset.records).toHaveLength(2);
    expect(dataset.score).toBe(0.5);
    for (const record of dataset.records) {
      expect(record.agents).toEqual(["executor"]);
      expect(record.conversation[0]).toMatchObject({ role: "system", content: EXECUTOR });
      // The planner's feedback is about the planner's calls: not shown here; the run's own is.
      expect(record.feedback.map((f) => f.final)).toEqual([true]);
    }
    expect(dataset.text).toContain(`- lookup: ${LOOKUP}`);
    expect(dataset.text).toContain("Feedback: The executor looked up the wrong page");
    expect(dataset.text).not.toContain(PLANNER);
    expect(dataset.text).not.toContain("checks the budget");
    // Selected for the planner only, the executor's tool description has no run to learn from.
    expect((await reflectiveDataset(store, adapter, "lookup_description", components[2]![1], runs, { agents: ["planner"] })).records).toEqual([]);
    const planner = await reflectiveDataset(store, adapter, "planner_system", components[0]![1], runs, { agents: /^plan/ });
    expect(planner.records.map((r) => r.feedback.map((f) => f.agentName))).toEqual([
      ["planner", undefined],
      ["planner", undefined],
    ]);
  });
});
