/** The task set checks itself: every expected total follows from the policy and the rates; the reward reads replies as a person would. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { addAmounts, exchangeRate, type ExpenseTask, loadTasks, policyFor, reimbursable, reimbursableTotal, reportText, score } from "../expenses.js";

describe("data/tasks.jsonl", () => {
  it("has 36 reports whose expected totals are what the policy and today's rates make them", async () => {
    const tasks = await loadTasks();
    assert.equal(tasks.length, 36);
    assert.equal(new Set(tasks.map((t) => t.id)).size, 36, "ids are unique");
    for (const task of tasks) assert.equal(task.expected_usd, reimbursableTotal(task.receipts), task.id);
  });

  it("needs every part of the policy: conversions, caps, exclusions and long reports all occur in each third", async () => {
    const tasks = await loadTasks();
    for (const k of [0, 1, 2]) {
      const third = tasks.filter((_, i) => i % 3 === k);
      assert.ok(third.some((t) => t.receipts.some((r) => r.currency === "EUR" || r.currency === "GBP")), `split ${k}: a remembered currency`);
      assert.ok(third.some((t) => t.receipts.some((r) => r.category === "alcohol")), `split ${k}: an exclusion`);
      assert.ok(third.some((t) => t.receipts.some((r) => r.category !== "alcohol" && reimbursable(r) < r.amount * rate(r.currency) - 0.005)), `split ${k}: a cap`);
      assert.ok(third.some((t) => t.receipts.length >= 4), `split ${k}: a long report`);
    }
  });
});

describe("the tools", () => {
  it("answer rates, policies and sums, and name what they know when asked about something else", () => {
    assert.deepEqual(exchangeRate("EUR"), { currency: "EUR", usd_per_unit: 1.0843 });
    assert.deepEqual(exchangeRate("XYZ"), { error: "unknown currency 'XYZ'; known: USD, EUR, GBP, JPY, CHF, CAD" });
    assert.deepEqual(policyFor("hotel"), { category: "hotel", reimbursed: "up to 180.00 USD per receipt", cap_usd: 180 });
    assert.deepEqual(policyFor("alcohol"), { category: "alcohol", reimbursed: "not reimbursable" });
    assert.match(JSON.stringify(policyFor("spa")), /unknown category 'spa'/);
    assert.deepEqual(addAmounts([0.1, 0.2, 180]), { total: 180.3 });
  });
});

describe("score", () => {
  const task: ExpenseTask = { id: "t", trip: "Berlin", receipts: [{ category: "hotel", amount: 250, currency: "EUR" }], expected_usd: 1234.5 };

  it("takes the reply's last number, thousands separators and all, to the cent", () => {
    assert.equal(score("hotel: 271.08 USD, capped. Total reimbursed: 1,234.50 USD", task).value, 1);
    assert.equal(score("Total: 1234.5", task).value, 1);
    assert.deepEqual(score("Total reimbursed: 1,234.51 USD", task), { value: 0, feedback: "the total is 1234.51 USD; expected 1234.50 USD" });
    assert.deepEqual(score("I cannot tell.", task), { value: 0, feedback: "the reply names no amount; expected 1234.50 USD" });
  });

  it("is asked about the report as the employee wrote it", () => {
    assert.equal(reportText(task), "Trip: Berlin\nReceipts:\n- hotel: 250.00 EUR\nHow much of this is reimbursed, in USD?");
  });
});

function rate(currency: string): number {
  const answer = exchangeRate(currency);
  assert.ok("usd_per_unit" in answer);
  return answer.usd_per_unit;
}
