/**
 * The refund-desk example: a two-component task (a policy prompt and a tool description whose
 * rules interact) with a simulated agent model and a simulated reflection model that may propose
 * only what the runs it reads show. The scores go through the real agent (openai SDK, tool calls)
 * over the mock LLM; the reflection prompts are tracetrain's own (GEPA's and APO's), filled with
 * runs rendered by the same code the optimizers use.
 */
import { describe, expect, it } from "vitest";
import { expectExampleTestsToPass, runExample } from "../support/example-tests.js";
import { APO, GEPA, type Rollout } from "tracetrain";
import { PromptTemplate, RolloutSchema } from "../../src/types/index.js";
import { renderRuns, type RunRecord } from "../../src/algorithms/experiments.js";
import { DEFAULT_REFLECTION_PROMPT, reflectionPrompt } from "../../src/algorithms/gepa/reflection.js";
import { DEFAULT_PROMPTS } from "../../src/algorithms/apo/prompts.js";
import { SEED_PROMPTS } from "../../examples/refund-desk/agent.js";
import { ALL_TASKS, answerOf, type Category, type Decision, feedbackFor, lookupOrder, type RefundTask, SPLITS } from "../../examples/refund-desk/orders.js";
import { refundOptimizerModel, RULES, type RuleId } from "../../examples/refund-desk/simulation/index.js";
import { refundRewards, runRefundAlgorithm, scoreRefundPrompts } from "../support/refund-rig.js";

const ALL_RULES = RULES.map((r) => r.id);
const SYSTEM_RULES = RULES.filter((r) => r.component === "system").map((r) => r.id);
const TOOL_RULES = RULES.filter((r) => r.component === "tool").map((r) => r.id);

/** The seed prompts with the sentences of `rules` appended to the component that states each. */
function promptsStating(rules: readonly RuleId[]) {
  const add = (name: "system" | "lookup_tool", kind: "system" | "tool") =>
    [SEED_PROMPTS[name].template, ...RULES.filter((r) => r.component === kind && rules.includes(r.id)).map((r) => r.sentence)].join("\n");
  return {
    system: { kind: "prompt_template", template: add("system", "system") },
    lookup_tool: { kind: "prompt_template", template: add("lookup_tool", "tool") },
    request: SEED_PROMPTS.request,
  };
}

const byCategory = (category: Category) => ALL_TASKS.filter((t) => t.category === category);

describe("refund-desk tasks", () => {
  it("are a fixed 30/60/60 split in which every kind of request shows up", () => {
    expect([SPLITS.train.length, SPLITS.val.length, SPLITS.test.length]).toEqual([30, 60, 60]);
    expect(new Set(ALL_TASKS.map((t) => t.id)).size).toBe(150);
    for (const split of ["train", "val", "test"] as const) {
      const kinds = new Set(ALL_TASKS.filter((t) => t.split === split).map((t) => t.category));
      expect(kinds.size, split).toBe(6);
      expect(ALL_TASKS.filter((t) => t.split === split && t.task_input.order_id.startsWith("#")).length, split).toBeGreaterThan(5);
    }
  });

  it("tell what went wrong in the feedback, in task terms", () => {
    const finalSale = byCategory("final_sale")[0]!;
    const item = (lookupOrder({ order_id: finalSale.task_input.order_id.replace("#", "") }) as { item: string }).item;
    expect(feedbackFor(finalSale, "refund", [{ arguments: { order_id: "x" }, result: { error: "order not found: x" } }])).toBe(
      `expected credit: item '${item}' was final sale, which gets store credit; the agent refunded; the lookup of 'x' failed (order not found: x) although the order exists`,
    );
    const late = byCategory("late")[0]!;
    const id = late.task_input.order_id.replace("#", "");
    expect(feedbackFor(late, "deny", [{ arguments: { order_id: id }, result: lookupOrder({ order_id: id }) }])).toMatch(/^correct: deny, as it was delivered \d+ days ago \(over 30\) .*; the agent did not ask for the customer's order history$/);
    expect(feedbackFor(byCategory("unknown_order")[0]!, undefined, [])).toMatch(/^expected escalate: order A\d+ does not exist.*; the agent gave no decision; the agent never looked the order up$/);
    expect(answerOf("I would deny it, not refund")).toBe("deny");
  });
});

describe("refund-desk simulated agent", () => {
  it("scores low with the seed prompts and 1.0 with every rule stated", async () => {
    expect(await scoreRefundPrompts(SEED_PROMPTS, SPLITS.val)).toBeCloseTo(20 / 60, 10);
    expect(await scoreRefundPrompts(promptsStating(ALL_RULES), ALL_TASKS)).toBe(1);
  }, 60_000);

  it("reaches only part of the gain with one component evolved", async () => {
    const systemOnly = await scoreRefundPrompts(promptsStating(SYSTEM_RULES), SPLITS.val);
    const toolOnly = await scoreRefundPrompts(promptsStating(TOOL_RULES), SPLITS.val);
    expect(systemOnly).toBeCloseTo(0.5, 10);
    expect(toolOnly).toBeCloseTo(0.5, 10);
  }, 60_000);

  it("gains nothing from the loyalty exception without the history, nor from the history without the exception", async () => {
    // Task by task, not only on average: a gain on some tasks may not hide behind a loss on others.
    const without = async (...drop: RuleId[]) => [...(await refundRewards(promptsStating(ALL_RULES.filter((r) => !drop.includes(r))), SPLITS.val)).values()];
    const [neither, loyalOnly, historyOnly, both] = await Promise.all([without("loyal", "history"), without("history"), without("loyal"), without()]);
    expect(loyalOnly).toEqual(neither);
    expect(historyOnly).toEqual(neither);
    expect(both.every((r) => r === 1)).toBe(true);
    expect(neither.filter((r) => r === 0).length).toBe(SPLITS.val.length / 6);
  }, 60_000);

  it("answers wrongly at about the noise rate, the same way every time", async () => {
    const optimal = promptsStating(ALL_RULES);
    const first = await scoreRefundPrompts(optimal, ALL_TASKS, { noise: 0.2 });
    expect(1 - first).toBeGreaterThan(0.12);
    expect(1 - first).toBeLessThan(0.28);
    expect(await scoreRefundPrompts(optimal, ALL_TASKS, { noise: 0.2 })).toBe(first);
  }, 60_000);

  it("ignores both texts when blind", async () => {
    expect(await scoreRefundPrompts(promptsStating(ALL_RULES), SPLITS.val, { blind: true })).toBe(await scoreRefundPrompts(SEED_PROMPTS, SPLITS.val));
  }, 60_000);
});

/** A run as tracetrain renders it for an optimizer: the task, the conversation with one lookup, the reward. */
function run(task: RefundTask, lookup: Record<string, unknown>, answer: Decision, index: number, input: unknown = task, system: string = SEED_PROMPTS.system.template, feedback?: string): RunRecord {
  const result = lookupOrder(lookup);
  const rollout: Rollout = RolloutSchema.parse({
    rolloutId: `ro-${index}`,
    input,
    mode: "train",
    resourcesId: null,
    status: "succeeded",
    config: {},
    metadata: {},
    createdAt: 0,
    endedAt: 1,
    finalReward: answer === task.expected ? 1 : 0,
    attempts: [{ rolloutId: `ro-${index}`, attemptId: `at-${index}`, sequence: 1, workerId: null, status: "succeeded", startedAt: 0, endedAt: 1, lastHeartbeatAt: 1, error: null, finalReward: answer === task.expected ? 1 : 0, spanCount: 3 }],
  });
  const conversation = [
    { role: "system", content: system },
    { role: "user", content: new PromptTemplate(SEED_PROMPTS.request.template).format({ ...task.task_input }) },
    { role: "assistant", content: "", tool_calls: [{ id: "call_1", type: "function", function: { name: "lookup_order", arguments: JSON.stringify(lookup) } }] },
    { role: "tool", tool_call_id: "call_1", content: JSON.stringify(result) },
    { role: "assistant", content: answer },
  ];
  const reward = answer === task.expected ? 1 : 0;
  return {
    rollout,
    conversation,
    tools: [{ type: "function", function: { name: "lookup_order", description: SEED_PROMPTS.lookup_tool.template, parameters: { type: "object" } } }],
    feedback: feedback === undefined ? [] : [{ spanId: `sp-${index}`, name: undefined, value: reward, final: true, feedback, agentName: "refund-desk" }],
    agents: ["refund-desk"],
    calls: { total: 2, kept: 2 },
  };
}

const idOf = (task: RefundTask) => task.task_input.order_id.replace("#", "");
/** Tasks typed without '#', so that a lookup as typed finds them. */
const plainTyped = (category: Category) => byCategory(category).filter((t) => !t.task_input.order_id.startsWith("#"));

const model = refundOptimizerModel();

async function reflectOn(component: "system" | "lookup_tool", runs: ReturnType<typeof run>[], seed = 0): Promise<string> {
  const prompt = reflectionPrompt({ instruction: DEFAULT_REFLECTION_PROMPT, component, parent: { kind: "prompt_template", template: SEED_PROMPTS[component].template, engine: "mustache" }, runs: renderRuns(runs), score: 0 });
  const reply = await model({ path: "/v1/chat/completions", body: { seed, messages: [{ role: "user", content: prompt }] }, index: 0, lastUserText: prompt });
  if (!("text" in reply) || typeof reply.text !== "string") throw new Error(`expected a text reply, got ${JSON.stringify(reply)}`);
  return reply.text;
}

const sentence = (id: RuleId) => RULES.find((r) => r.id === id)!.sentence;
const statedRules = (text: string) => ALL_RULES.filter((id) => text.includes(sentence(id)));

describe("refund-desk simulated reflection model", () => {
  const late = plainTyped("late")[0]!;
  const loyal = plainTyped("late_loyal")[0]!;
  const finalSale = byCategory("final_sale").find((t) => t.task_input.order_id.startsWith("#"))!;

  it("states the late-order rule in the system prompt when a run shows a late order that should have been denied", async () => {
    const runs = [run(late, { order_id: idOf(late) }, "refund", 1)];
    expect(statedRules(await reflectOn("system", runs))).toEqual(["late"]);
    // Nothing the tool description could say fixes it: a generic sentence, no rule.
    expect(statedRules(await reflectOn("lookup_tool", runs))).toEqual([]);
  });

  it("asks for the history in the tool description only when a late refund fails without it, and states the exception only once the history is visible", async () => {
    const blindRun = [run(loyal, { order_id: idOf(loyal) }, "deny", 1)];
    expect(statedRules(await reflectOn("lookup_tool", blindRun))).toEqual(["history"]);
    expect(statedRules(await reflectOn("system", blindRun))).toEqual([]);
    const withHistory = [run(loyal, { order_id: idOf(loyal), include_history: true }, "deny", 1)];
    expect(statedRules(await reflectOn("system", withHistory))).toEqual(["loyal"]);
    expect(statedRules(await reflectOn("lookup_tool", withHistory))).toEqual([]);
  });

  it("proposes stripping the '#' from a lookup that failed for an existing order, and escalating only for orders that do not exist", async () => {
    const hashRun = [run(finalSale, { order_id: finalSale.task_input.order_id }, "deny", 1)];
    expect(statedRules(await reflectOn("lookup_tool", hashRun))).toEqual(["strip_hash"]);
    expect(statedRules(await reflectOn("system", hashRun))).toEqual([]);
    const unknown = byCategory("unknown_order")[0]!;
    expect(statedRules(await reflectOn("system", [run(unknown, { order_id: idOf(unknown) }, "deny", 1)]))).toEqual(["not_found"]);
  });

  it("proposes nothing when every run succeeded, and never a rule of the other component", async () => {
    const good = [run(late, { order_id: idOf(late) }, "deny", 1), run(loyal, { order_id: idOf(loyal) }, "refund", 2)];
    for (const component of ["system", "lookup_tool"] as const) {
      const text = await reflectOn(component, good);
      expect(statedRules(text)).toEqual([]);
      expect(text).toContain(SEED_PROMPTS[component].template);
    }
    const mixed = [run(finalSale, { order_id: finalSale.task_input.order_id }, "deny", 1), run(late, { order_id: idOf(late) }, "refund", 2), run(loyal, { order_id: idOf(loyal) }, "deny", 3)];
    for (let seed = 0; seed < 6; seed++) {
      expect(statedRules(await reflectOn("system", mixed, seed)).every((id) => SYSTEM_RULES.includes(id))).toBe(true);
      expect(statedRules(await reflectOn("lookup_tool", mixed, seed)).every((id) => TOOL_RULES.includes(id))).toBe(true);
    }
  });

  it("varies which of the fixes it states with the request's seed", async () => {
    const damaged = byCategory("damaged").filter((t) => !t.task_input.order_id.startsWith("#"));
    const runs = [run(late, { order_id: idOf(late) }, "refund", 1), run(finalSale, { order_id: idOf(finalSale) }, "refund", 2), run(damaged[1]!, { order_id: idOf(damaged[1]!) }, "credit", 3)];
    const proposals = new Set<string>();
    for (let seed = 0; seed < 3; seed++) proposals.add(statedRules(await reflectOn("system", runs, seed)).join(","));
    expect(proposals.size).toBe(3);
  });

  it("reads the expected answer from the evaluator's feedback when the task does not hold it", async () => {
    const { expected: _hidden, ...withoutExpected } = late;
    const text = renderRuns([run(late, { order_id: idOf(late) }, "refund", 1, withoutExpected)]);
    const withFeedback = renderRuns([run(late, { order_id: idOf(late) }, "refund", 1, withoutExpected, SEED_PROMPTS.system.template, feedbackFor(late, "refund", []))]);
    expect(withFeedback).toContain("Feedback: expected deny: ");
    const reflectOnText = async (runs: string) => {
      const prompt = reflectionPrompt({ instruction: DEFAULT_REFLECTION_PROMPT, component: "system", parent: { kind: "prompt_template", template: SEED_PROMPTS.system.template, engine: "mustache" }, runs, score: 0 });
      const reply = await model({ path: "/v1/chat/completions", body: { seed: 0, messages: [] }, index: 0, lastUserText: prompt });
      return "text" in reply ? String(reply.text) : "";
    };
    expect(statedRules(await reflectOnText(text))).toEqual([]);
    expect(statedRules(await reflectOnText(withFeedback))).toEqual(["late"]);
  });

  it("answers APO's critique by blaming the component the evidence points to, and its edit adds only that component's rules", async () => {
    const runs = renderRuns([run(loyal, { order_id: idOf(loyal) }, "deny", 1)]);
    const critiquePrompt = new PromptTemplate(DEFAULT_PROMPTS.critique[0]!).format({ target: "system", template: SEED_PROMPTS.system.template, targets: "system, lookup_tool, request", experiments: runs, score: "0.000" });
    const critique = await model({ path: "/v1/chat/completions", body: { seed: 1, messages: [] }, index: 0, lastUserText: critiquePrompt });
    const critiqueText = "text" in critique ? String(critique.text) : "";
    expect(critiqueText).toContain(sentence("history"));
    expect(critiqueText).toMatch(/TARGET: lookup_tool$/);
    const edit = (target: "system" | "lookup_tool") =>
      new PromptTemplate(DEFAULT_PROMPTS.edit[0]!).format({ target, template: SEED_PROMPTS[target].template, critique: critiqueText, placeholders: "(none)", engine: "mustache" });
    const onTool = await model({ path: "/v1/chat/completions", body: { seed: 1, messages: [] }, index: 0, lastUserText: edit("lookup_tool") });
    expect(statedRules("text" in onTool ? String(onTool.text) : "")).toEqual(["history"]);
    const onSystem = await model({ path: "/v1/chat/completions", body: { seed: 1, messages: [] }, index: 0, lastUserText: edit("system") });
    expect(statedRules("text" in onSystem ? String(onSystem.text) : "")).toEqual([]);
  });

  it("does not propose again, in APO's critique of the tool description, a rule the system prompt the runs show already states", async () => {
    const critiqueOf = async (system: string) => {
      const runs = renderRuns([run(late, { order_id: idOf(late) }, "refund", 1, late, system)]);
      const prompt = new PromptTemplate(DEFAULT_PROMPTS.critique[0]!).format({ target: "lookup_tool", template: SEED_PROMPTS.lookup_tool.template, targets: "system, lookup_tool", experiments: runs, score: "0.000" });
      const reply = await model({ path: "/v1/chat/completions", body: { seed: 0, messages: [] }, index: 0, lastUserText: prompt });
      return "text" in reply ? String(reply.text) : "";
    };
    expect(await critiqueOf(SEED_PROMPTS.system.template)).toMatch(new RegExp(`${sentence("late").replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\nTARGET: system$`));
    // The same failure (a noisy answer) under a system prompt that states the rule: nothing to add.
    expect(await critiqueOf(`${SEED_PROMPTS.system.template}\n${sentence("late")}`)).toBe("- The failed runs are not explained by a missing rule.\nTARGET: lookup_tool");
  });
});

describe("GEPA on the refund desk", () => {
  it("evolves both components from what the runs show, and the gain holds on held-out tasks", async () => {
    const { result, optimizerPrompts, store } = await runRefundAlgorithm((client) => new GEPA({ client, model: "mock-optimizer", components: ["system", "lookup_tool"], maxRollouts: 300, seed: 0 }));
    expect(result.best.paretoScore).toBeGreaterThan(result.seed.paretoScore);
    expect(result.verdict).toBe("improved");
    expect(optimizerPrompts.length).toBeGreaterThan(0);
    // Each component gained rules, each in the component that can state it.
    const best = result.best.resources as Record<string, { template: string }>;
    const systemRules = statedRules(best.system!.template);
    const toolRules = statedRules(best.lookup_tool!.template);
    expect(systemRules.length).toBeGreaterThan(0);
    expect(toolRules.length).toBeGreaterThan(0);
    expect(systemRules.every((id) => SYSTEM_RULES.includes(id))).toBe(true);
    expect(toolRules.every((id) => TOOL_RULES.includes(id))).toBe(true);
    // With a noise-free agent, the gate lets through only children that state a rule their parent did not.
    const rulesOf = async (resourcesId: string) => {
      const resources = (await store.getResources(resourcesId)).resources as Record<string, { template?: string }>;
      return statedRules(`${resources.system?.template}\n${resources.lookup_tool?.template}`).length;
    };
    for (const entry of result.pool.filter((p) => p.parents.length > 0)) {
      const parent = result.pool.find((p) => p.candidateId === entry.parents[0])!;
      expect(await rulesOf(entry.resourcesId), entry.candidateId).toBeGreaterThan(await rulesOf(parent.resourcesId));
    }
  }, 120_000);

  it("finds nothing to keep when the agent ignores its prompts", async () => {
    const { result } = await runRefundAlgorithm((client) => new GEPA({ client, model: "mock-optimizer", components: ["system", "lookup_tool"], maxRollouts: 200, seed: 0 }), { blind: true });
    expect(result.proposals.some((p) => p.status === "rejected-by-gate")).toBe(true);
    expect(result.proposals.filter((p) => p.status === "accepted")).toEqual([]);
    expect(result.best.candidateId).toBe("seed");
    // The requirement: a prompt-blind agent gives "no significant improvement", and the seed is what is published.
    expect(result.verdict).toBe("no significant improvement");
    expect(result.published?.candidate).toBe("seed");
  }, 120_000);
});

describe("APO on the refund desk", () => {
  it("evolves both the system prompt and the tool description, blaming each where the runs point", async () => {
    const { result } = await runRefundAlgorithm((client) => new APO({ client, model: "mock-optimizer", targets: ["system", "lookup_tool"], rounds: 3, seed: 1 }));
    expect(result.verdict).toBe("improved");
    const best = result.best.resources as Record<string, { template: string }>;
    expect(statedRules(best.system!.template).length).toBeGreaterThan(0);
    expect(statedRules(best.lookup_tool!.template).length).toBeGreaterThan(0);
  }, 120_000);
});

describe("examples/refund-desk/main.ts", () => {
  const example = (args: string[], env?: Record<string, string | undefined>) => runExample("refund-desk", args, env);

  it("runs GEPA on the simulated models and prints what it found", async () => {
    // The defaults, as `npm start` runs them; the figures are those the example's README quotes.
    const { stdout, stderr } = await example([]);
    expect(stderr).toContain("using the simulated refund-desk models");
    expect(stdout).toMatch(/^ +Pareto \(22 val tasks\) +held out \(60 test tasks, 95% CI\)$/m);
    expect(stdout).toMatch(/^seed +0\.273 +0\.333 ± 0\.120$/m);
    expect(stdout).toMatch(/^best \(c12\) +0\.773 +0\.733 ± 0\.113$/m);
    expect(stdout).toMatch(/^verdict: improved$/m);
    expect(stdout).toMatch(/^components evolved: system, lookup_tool$/m);
    expect(stdout).toMatch(/^stopped: completed: made all 20 proposals \(maxProposals\)$/m);
    expect(stdout).toContain("rollouts: 264; reflection: 21889 tokens; cost $0.0000");
    expect(stdout).toContain("best lookup_order description:");
  }, 180_000);

  it("stops at the rollout budget it is given", async () => {
    const { stdout } = await example(["--max-rollouts", "220", "--runners", "4"]);
    expect(stdout).toMatch(/^seed +0\.\d{3} +0\.333 ± 0\.120$/m);
    expect(stdout).toMatch(/^stopped: maxRollouts: /m);
  }, 180_000);

  it("explains a bad flag", async () => {
    await expect(example(["--noise", "2"])).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining("--noise expects a number from 0 up to (not including) 1, got '2'") });
  }, 180_000);

  it("passes its own tests (node:test), run as the example's `npm test` runs them", () => expectExampleTestsToPass("refund-desk"), 180_000);
});
