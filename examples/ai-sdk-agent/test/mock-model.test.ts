/**
 * The simulated models behave by general rules: the agent model uses the tools its system prompt
 * tells it to (and those it must), the optimizer model proposes what failed runs skipped.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Reply, Responder } from "tracetrain/testing";
import { SEED_PROMPT } from "../agent.js";
import { addAmounts, type ExpenseTask, exchangeRate, policyFor, reportText, score } from "../expenses.js";
import { agentModel, optimizerModel, parseReceipts, RULES, rulesStated } from "../mock-model.js";

const ALL_RULES = [SEED_PROMPT, ...RULES.map((r) => r.sentence)].join("\n");
const TOOLS = ["get_exchange_rate", "lookup_policy", "add_amounts"].map((name) => ({ type: "function", function: { name, parameters: {} } }));

const berlin: ExpenseTask = {
  id: "b",
  trip: "Berlin",
  receipts: [
    { category: "hotel", amount: 250, currency: "EUR" },
    { category: "alcohol", amount: 20, currency: "EUR" },
    { category: "flight", amount: 400, currency: "USD" },
  ],
  expected_usd: 580,
};

type Message = Record<string, unknown>;

async function ask(model: Responder, system: string, task: ExpenseTask, rest: Message[] = [], tools: unknown[] = TOOLS): Promise<Reply> {
  const body = { model: "m", messages: [{ role: "system", content: system }, { role: "user", content: reportText(task) }, ...rest], tools };
  return model({ path: "/v1/chat/completions", body, index: 0, lastUserText: reportText(task) });
}

/** Runs the tool loop as the AI SDK does: tool calls answered by the real tools, until the model answers in text. */
async function converse(model: Responder, system: string, task: ExpenseTask): Promise<{ text: string; calls: string[] }> {
  const rest: Message[] = [];
  const calls: string[] = [];
  for (let step = 0; step < 6; step++) {
    const reply = await ask(model, system, task, rest);
    if ("text" in reply && !("toolCalls" in reply)) return { text: reply.text, calls };
    assert.ok("toolCalls" in reply, "a reply is text or tool calls");
    rest.push({ role: "assistant", content: null, tool_calls: reply.toolCalls.map((c, i) => ({ id: `c${step}_${i}`, type: "function", function: { name: c.name, arguments: JSON.stringify(c.arguments) } })) });
    reply.toolCalls.forEach((c, i) => {
      calls.push(`${c.name}(${JSON.stringify(c.arguments)})`);
      rest.push({ role: "tool", tool_call_id: `c${step}_${i}`, content: JSON.stringify(runTool(c.name, c.arguments)) });
    });
  }
  throw new Error("the model never answered");
}

function textOf(reply: Reply): string {
  assert.ok("text" in reply && reply.text !== undefined, "a text reply");
  return reply.text;
}

function runTool(name: string, args: unknown): unknown {
  const a = args as { currency?: string; category?: string; amounts?: number[] };
  if (name === "get_exchange_rate") return exchangeRate(a.currency!);
  if (name === "lookup_policy") return policyFor(a.category!);
  return addAmounts(a.amounts!);
}

describe("the agent model", () => {
  it("told nothing, converts euros at a remembered rate and reimburses everything: wrong", async () => {
    const { text, calls } = await converse(agentModel({ seed: 0, noise: 0 }), SEED_PROMPT, berlin);
    assert.deepEqual(calls, []);
    // 250 € at 1.10 + 20 € at 1.10 + 400 $: no cap, no exclusion, a stale rate.
    assert.match(text, /Total reimbursed: 697\.00 USD$/);
    assert.equal(score(text, berlin).value, 0);
  });

  it("looks up a currency it does not remember even when not told to", async () => {
    const tokyo: ExpenseTask = { id: "t", trip: "Tokyo", receipts: [{ category: "taxi", amount: 5000, currency: "JPY" }, { category: "flight", amount: 300, currency: "USD" }], expected_usd: 333.56 };
    const { text, calls } = await converse(agentModel({ seed: 0, noise: 0 }), SEED_PROMPT, tokyo);
    assert.deepEqual(calls, ['get_exchange_rate({"currency":"JPY"})']);
    assert.equal(score(text, tokyo).value, 1);
  });

  it("told every rule, looks everything up in one step, adds with the tool and gets it right", async () => {
    const { text, calls } = await converse(agentModel({ seed: 0, noise: 0 }), ALL_RULES, berlin);
    assert.deepEqual(calls, [
      'get_exchange_rate({"currency":"EUR"})',
      'lookup_policy({"category":"hotel"})',
      'lookup_policy({"category":"alcohol"})',
      'lookup_policy({"category":"flight"})',
      'add_amounts({"amounts":[180,0,400]})',
    ]);
    assert.equal(score(text, berlin).value, 1);
  });

  it("calls only the tools it is offered", async () => {
    const reply = await ask(agentModel({ seed: 0, noise: 0 }), ALL_RULES, berlin, [], TOOLS.slice(0, 1));
    assert.deepEqual(reply, { toolCalls: [{ name: "get_exchange_rate", arguments: { currency: "EUR" } }] });
  });

  it("slips by the seed and the request alone: the same request gets the same answer, another seed another", async () => {
    const sloppy = (seed: number) => converse(agentModel({ seed, noise: 0.5 }), ALL_RULES, berlin);
    assert.deepEqual(await sloppy(1), await sloppy(1));
    const outcomes = new Set<number>();
    for (let seed = 0; seed < 8; seed++) outcomes.add(score((await sloppy(seed)).text, berlin).value);
    assert.deepEqual([...outcomes].sort(), [0, 1]);
  });

  it("reads receipts only in the report's format", () => {
    assert.deepEqual(parseReceipts("- hotel: 12.50 EUR\n- spa: 3.00 EUR\n- taxi: 4 XYZ"), [{ category: "hotel", amount: 12.5, currency: "EUR" }]);
  });
});

describe("the optimizer model", () => {
  const critiquePrompt = (template: string, runs: string) =>
    `You are improving the prompt template "system".\n\nCurrent template:\n"""\n${template}\n"""\n\nRuns:\n${runs}\n\nEnd with one line "TARGET: <name>".`;
  const failed = `### Run 1: reward 0\nTask: ${JSON.stringify(berlin)}\nConversation:\n[system] x\n[user] y\n[assistant] Total reimbursed: 697.00 USD`;
  const passed = `### Run 2: reward 1\nTask: ${JSON.stringify(berlin)}\nConversation:\n[assistant]  → calls lookup_policy({"category":"hotel"})`;

  it("names two of the tools the failed runs skipped, varying with the sample, and blames the system prompt", async () => {
    const critiques = new Set<string>();
    for (const seed of [0, 1, 2]) {
      const reply = await optimizerModel()({ path: "/v1/chat/completions", body: { seed }, index: 0, lastUserText: critiquePrompt(SEED_PROMPT, `${failed}\n\n${passed}`) });
      const text = textOf(reply);
      assert.match(text, /TARGET: system$/);
      assert.equal(rulesStated(text).size, 2);
      critiques.add(text);
    }
    assert.equal(critiques.size, 3);
  });

  it("proposes nothing the template already states, nor for runs that went well", async () => {
    const reply = await optimizerModel()({ path: "/v1/chat/completions", body: { seed: 0 }, index: 0, lastUserText: critiquePrompt(ALL_RULES, `${failed}\n\n${passed}`) });
    assert.deepEqual(reply, { text: "- The failed runs used every tool they needed; nothing in the template explains them.\nTARGET: system" });
    const none = await optimizerModel()({ path: "/v1/chat/completions", body: { seed: 0 }, index: 0, lastUserText: critiquePrompt(SEED_PROMPT, passed) });
    assert.ok(textOf(none).startsWith("- The failed runs used every tool"));
  });

  it("edits by appending what the critique states, keeping the template", async () => {
    const critique = `- In 1 failed run(s) the agent never checked the expense policy. Add: ${RULES[1]!.sentence}`;
    const prompt = `Revise the template.\n\nTemplate:\n"""\n${SEED_PROMPT}\n"""\n\nCritique:\n${critique}\n\nReturn it between <template> and </template>.`;
    const reply = await optimizerModel()({ path: "/v1/chat/completions", body: { seed: 0 }, index: 0, lastUserText: prompt });
    assert.deepEqual(reply, { text: `<template>\n${SEED_PROMPT}\n${RULES[1]!.sentence}\n</template>` });
  });
});
