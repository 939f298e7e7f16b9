/** The reward: the right specialist AND the right tool-backed action, with feedback that says which failed. */
import assert from "node:assert/strict";
import { it } from "node:test";
import { outcomeAction, score } from "../score.js";
import type { Task } from "../tasks.js";

const task: Task = {
  id: "T00",
  customer: "C-100",
  message: "Please refund invoice INV-1.",
  records: { invoices: [{ id: "INV-1", item: "Add-on", amount: 5, days_ago: 3, status: "paid" }] },
  expected: { agent: "billing", action: "refund INV-1 5.00" },
};

it("gives 1 when the expected specialist did exactly the expected action", () => {
  assert.deepEqual(score(task, { handledBy: "billing", actions: ["refund INV-1 5.00"], reply: "Done." }), { reward: 1, feedback: "Correct: refund INV-1 5.00." });
});

it("gives 0 for a misrouted request, whatever was done, and names both specialists", () => {
  const { reward, feedback } = score(task, { handledBy: "returns", actions: ["refund INV-1 5.00"], reply: "" });
  assert.equal(reward, 0);
  assert.equal(feedback, "Routed to returns, but this is a billing request.");
  assert.equal(score(task, { handledBy: undefined, actions: [], reply: "" }).feedback, "Routed to nobody, but this is a billing request.");
});

it("gives 0 for a wrong, missing or extra action, and says what was done and expected", () => {
  for (const actions of [["refund INV-1 2.50"], [], ["refund INV-1 5.00", "refund INV-1 5.00"]]) {
    const { reward, feedback } = score(task, { handledBy: "billing", actions, reply: "" });
    assert.equal(reward, 0);
    assert.equal(feedback, `The billing specialist did: ${outcomeAction({ actions })}. Expected: refund INV-1 5.00.`);
  }
  assert.equal(outcomeAction({ actions: [] }), "none");
});
