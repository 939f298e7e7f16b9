/**
 * The simulated support model, driven through the real createAgent agent: it follows the rules
 * its system prompt states and only those, so the bare prompt fails the questions that need a rule
 * and a prompt stating them all answers everything.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ChatOpenAI } from "@langchain/openai";
import { createAgent } from "langchain";
import type { MockLlm } from "tracetrain/testing";
import { TOOLS } from "../catalog.js";
import { RULES, startSimulatedModels } from "../mock-model.js";
import { ask, SYSTEM_PROMPT } from "../support-agent.js";
import { grade, loadTasks, type SupportTask } from "../tasks.js";

const ALL_RULES = [SYSTEM_PROMPT, ...RULES.map((r) => r.sentence)].join("\n");

describe("the simulated support model", () => {
  let mock: MockLlm;
  let tasks: SupportTask[];
  before(async () => {
    mock = await startSimulatedModels({ seed: 0, slip: 0 });
    tasks = await loadTasks();
  });
  after(() => mock.close());

  const agentWith = (systemPrompt: string) =>
    createAgent({ model: new ChatOpenAI({ model: "sim", apiKey: "none", configuration: { baseURL: mock.baseUrl } }), tools: TOOLS, systemPrompt, name: "support" });
  const answer = (systemPrompt: string, id: string) => ask(agentWith(systemPrompt), tasks.find((t) => t.id === id)!.question);
  const accuracy = async (systemPrompt: string) => {
    const agent = agentWith(systemPrompt);
    const scores = await Promise.all(tasks.map(async (task) => grade(await ask(agent, task.question), task).score));
    return scores.reduce<number>((a, b) => a + b, 0);
  };

  it("answers from the search results alone unless told to open the record", async () => {
    assert.equal(await answer(SYSTEM_PROMPT, "price-TR-100"), "The Trail Runner shoes costs $120.00.");
    assert.equal(await answer(`${SYSTEM_PROMPT}\n${RULES[0]!.sentence}`, "price-TR-100"), "The Trail Runner shoes costs $120.00.");
    assert.equal(await answer(ALL_RULES, "price-TR-100"), "The Trail Runner shoes is on sale for $96.00.");
  });

  it("says what the shop does not carry only when the prompt says to", async () => {
    assert.match(await answer(SYSTEM_PROMPT, "carry-kayaks"), /^Yes, we have kayaks/);
    assert.equal(await answer(ALL_RULES, "carry-kayaks"), "Sorry, we do not carry kayaks.");
  });

  it("scores 11 of 36 with the bare prompt and 36 of 36 with every rule stated", async () => {
    assert.equal(await accuracy(SYSTEM_PROMPT), 11);
    assert.equal(await accuracy(ALL_RULES), 36);
  });

  it("fumbles some questions with a slip rate, the same ones for the same seed", async () => {
    const fumbled = async (seed: number) => {
      const sim = await startSimulatedModels({ seed, slip: 0.3 });
      try {
        const agent = createAgent({ model: new ChatOpenAI({ model: "sim", apiKey: "none", configuration: { baseURL: sim.baseUrl } }), tools: TOOLS, systemPrompt: ALL_RULES });
        const wrong = await Promise.all(tasks.slice(0, 18).map(async (task) => (grade(await ask(agent, task.question), task).score === 0 ? task.id : "")));
        return wrong.filter((id) => id !== "");
      } finally {
        await sim.close();
      }
    };
    const first = await fumbled(1);
    assert.ok(first.length > 0 && first.length < 18, `some wrong, not all: ${first.length}`);
    assert.deepEqual(await fumbled(1), first);
  });
});
