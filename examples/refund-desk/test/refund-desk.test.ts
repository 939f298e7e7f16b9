/**
 * The refund desk's parts, without the optimizer: the shop's policy and how its rules interact,
 * the agent run through tracetrain against the simulated agent model, and main.ts's flag checking.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { Trainer } from "tracetrain";
import { refundDesk, SEED_PROMPTS } from "../agent.js";
import { ALL_TASKS, lookupOrder, type RefundTask, SPLITS } from "../orders.js";
import { startSimulatedRefundModels } from "../simulation/index.js";
import { decideWith, lookupArguments, RULES, type RuleId } from "../simulation/rules.js";

const ALL = RULES.map((r) => r.id);

/** How many tasks an agent that knows exactly `rules` decides as the policy does. */
function rightWith(rules: readonly RuleId[]): number {
  const known = new Set(rules);
  return ALL_TASKS.filter((t) => decideWith(t.task_input, lookupOrder(lookupArguments(t.task_input, known)), known) === t.expected).length;
}

describe("the shop's policy", () => {
  it("is followed on all 150 tasks by an agent that knows every rule", () => {
    assert.deepEqual([SPLITS.train.length, SPLITS.val.length, SPLITS.test.length], [30, 60, 60]);
    assert.equal(rightWith(ALL), 150);
  });

  it("makes the loyalty exception worth nothing without the history, and the other way round", () => {
    const without = (...ids: RuleId[]) => rightWith(ALL.filter((id) => !ids.includes(id)));
    assert.equal(without("loyal"), without("history"));
    assert.equal(without("loyal", "history"), without("loyal"));
    assert.ok(without("loyal") < 150);
  });

  it("finds an order typed with a '#' only once the tool description says to strip it", () => {
    const typedWithHash = ALL_TASKS.find((t) => t.task_input.order_id.startsWith("#") && t.expected !== "escalate")!;
    assert.ok("error" in lookupOrder(lookupArguments(typedWithHash.task_input, new Set())));
    assert.ok(!("error" in lookupOrder(lookupArguments(typedWithHash.task_input, new Set(["strip_hash"])))));
  });
});

describe("the agent under tracetrain, on the simulated agent model", () => {
  let models: { baseUrl: string; close(): Promise<void> };
  before(async () => {
    models = await startSimulatedRefundModels();
  });
  after(() => models.close());

  const score = async (prompts: { system: string; lookup_tool: string }, sample: readonly RefundTask[]) => {
    const trainer = new Trainer({
      store: "memory",
      runners: 8,
      initialResources: {
        ...SEED_PROMPTS,
        system: { kind: "prompt_template", template: prompts.system },
        lookup_tool: { kind: "prompt_template", template: prompts.lookup_tool },
        main: { kind: "llm", baseUrl: models.baseUrl, model: "refund-agent" },
      },
    });
    try {
      return await trainer.evaluate(refundDesk, sample);
    } finally {
      await trainer.close();
    }
  };
  const stating = (component: "system" | "tool") => [component === "system" ? SEED_PROMPTS.system.template : SEED_PROMPTS.lookup_tool.template, ...RULES.filter((r) => r.component === component).map((r) => r.sentence)].join("\n");

  it("decides by the rules its two texts state, through the tool call and the answer", async () => {
    const sample = SPLITS.val.slice(0, 20);
    const seed = await score({ system: SEED_PROMPTS.system.template, lookup_tool: SEED_PROMPTS.lookup_tool.template }, sample);
    const policyOnly = await score({ system: stating("system"), lookup_tool: SEED_PROMPTS.lookup_tool.template }, sample);
    const both = await score({ system: stating("system"), lookup_tool: stating("tool") }, sample);
    assert.equal(both.meanReward, 1);
    assert.ok(seed.meanReward! < policyOnly.meanReward!, `seed ${seed.meanReward}, policy only ${policyOnly.meanReward}`);
    assert.ok(policyOnly.meanReward! < 1);
  });
});

describe("main.ts", () => {
  it("explains a bad flag with exit code 2", async () => {
    const main = fileURLToPath(new URL("../main.ts", import.meta.url));
    // The working directory is the caller's: the example folder under `npm test` (its node_modules), the repository root under its suite.
    await assert.rejects(promisify(execFile)(process.execPath, ["--import", "tsx", main, "--noise", "2"]), (error: { code?: number; stderr?: string }) => {
      assert.equal(error.code, 2);
      assert.match(error.stderr ?? "", /--noise expects a number from 0 up to \(not including\) 1, got '2'/);
      assert.doesNotMatch(error.stderr ?? "", /\n\s+at /);
      return true;
    });
  });
});
