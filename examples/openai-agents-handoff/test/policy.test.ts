/** The task set against the policy the simulated specialists follow, and what each instruction states. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SEED_INSTRUCTIONS } from "../instructions.js";
import {
  BILLING_RULES,
  billingIntent,
  billingRulesStated,
  decideBilling,
  decideReturn,
  decideTechnical,
  evidencedBillingRules,
  returnsRulesStated,
  technicalRulesStated,
} from "../simulation/index.js";
import { loadTasks, requestText, splitTasks, type Task } from "../tasks.js";

const tasks = await loadTasks();
const ALL_BILLING = new Set(BILLING_RULES.map((r) => r.id));
const billingTasks = tasks.filter((t) => t.expected.agent === "billing");
const literal = (t: Task) => decideBilling(billingIntent(requestText(t)), t.records.invoices ?? [], new Set());

describe("the task set", () => {
  it("expects of every request what the full policy does with its records", () => {
    assert.equal(tasks.length, 48);
    for (const task of tasks) {
      const { records } = task;
      const action =
        task.expected.agent === "billing"
          ? decideBilling(billingIntent(requestText(task)), records.invoices ?? [], ALL_BILLING)
          : task.expected.agent === "technical"
            ? decideTechnical(records.diagnosis!, technicalRulesStated(SEED_INSTRUCTIONS.technical))
            : decideReturn(records.orders![0]!, returnsRulesStated(SEED_INSTRUCTIONS.returns));
      assert.equal(action, task.expected.action, task.id);
    }
  });

  it("needs every billing rule somewhere, and a literal specialist gets only the plain refunds right", () => {
    for (const rule of ALL_BILLING) {
      assert.ok(billingTasks.some((t) => evidencedBillingRules(requestText(t), t.records.invoices ?? [], t.expected.action, new Set()).includes(rule)), rule);
    }
    const right = billingTasks.filter((t) => literal(t) === t.expected.action);
    assert.equal(right.length, 6);
    for (const t of right) assert.equal(billingIntent(requestText(t)).kind, "refund_invoice");
  });

  it("splits into thirds with the same mix of specialists, the billing kinds spread over all three", () => {
    const { train, val, test } = splitTasks(tasks);
    for (const split of [train, val, test]) {
      assert.equal(split.length, 16);
      assert.deepEqual(["billing", "technical", "returns"].map((a) => split.filter((t) => t.expected.agent === a).length), [8, 4, 4]);
      assert.equal(split.filter((t) => t.expected.agent === "billing" && literal(t) === t.expected.action).length, 2);
    }
  });
});

describe("the instructions", () => {
  it("the billing seed states no billing rule; each rule's sentence states exactly that rule", () => {
    assert.deepEqual([...billingRulesStated(SEED_INSTRUCTIONS.billing)], []);
    for (const rule of BILLING_RULES) assert.deepEqual([...billingRulesStated(rule.sentence)], [rule.id]);
  });

  it("the fixed specialists' instructions state their whole policy", () => {
    assert.deepEqual([...technicalRulesStated(SEED_INSTRUCTIONS.technical)].sort(), ["locked", "outage", "update"]);
    assert.deepEqual([...returnsRulesStated(SEED_INSTRUCTIONS.returns)].sort(), ["software", "window"]);
  });
});

describe("evidence for a billing rule", () => {
  const find = (kind: string) => billingTasks.find((t) => billingIntent(requestText(t)).kind === kind && t.expected.action !== literal(t))!;

  it("is the rule that, added alone, turns the failed action into the expected one", () => {
    const duplicate = find("duplicate");
    assert.deepEqual(evidencedBillingRules(requestText(duplicate), duplicate.records.invoices!, duplicate.expected.action, new Set()), ["duplicate"]);
    const annual = find("cancel_annual");
    assert.deepEqual(evidencedBillingRules(requestText(annual), annual.records.invoices!, annual.expected.action, new Set()), ["prorate"]);
  });

  it("is none when the known rules already give the expected action, or when no single rule would", () => {
    const duplicate = find("duplicate");
    assert.deepEqual(evidencedBillingRules(requestText(duplicate), duplicate.records.invoices!, duplicate.expected.action, new Set(["duplicate"])), []);
    assert.deepEqual(evidencedBillingRules(requestText(duplicate), duplicate.records.invoices!, "refund INV-0000 1.00", new Set()), []);
  });
});
