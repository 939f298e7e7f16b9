/** The task set and its grader. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { grade, loadTasks, splitTasks, type SupportTask } from "../tasks.js";

describe("the task set", () => {
  it("loads 36 questions with unique ids, split into thirds that each hold every kind", async () => {
    const tasks = await loadTasks();
    assert.equal(tasks.length, 36);
    assert.equal(new Set(tasks.map((t) => t.id)).size, 36);
    const { train, val, test } = splitTasks(tasks);
    for (const split of [train, val, test]) {
      assert.equal(split.length, 12);
      const kinds = split.map((t) => t.id.split("-")[0]).sort();
      assert.deepEqual([...new Set(kinds)], ["carry", "price", "stock", "warranty"]);
    }
  });
});

describe("grade", () => {
  const outOfStock: SupportTask = { id: "stock-x", question: "Is the Summit 55L backpack in stock?", expect: [["out of stock", "not in stock"], ["Summit 40L backpack"]] };
  const inStock: SupportTask = { id: "stock-y", question: "Is the Beacon headlamp in stock?", expect: [["in stock"]], reject: ["out of stock", "not in stock"] };

  it("needs one phrase of every group, in any case", () => {
    assert.deepEqual(grade("Sorry, it is OUT OF STOCK. The Summit 40L backpack is a good alternative.", outOfStock), { score: 1, feedback: "" });
  });

  it("says which fact is missing", () => {
    const { score, feedback } = grade("Sorry, the Summit 55L backpack is out of stock right now.", outOfStock);
    assert.equal(score, 0);
    assert.equal(feedback, 'the answer should say "Summit 40L backpack"');
  });

  it("fails an answer that says a rejected phrase, even beside an expected one", () => {
    const { score, feedback } = grade("It is not in stock.", inStock);
    assert.equal(score, 0);
    assert.equal(feedback, 'the answer must not say "not in stock"');
  });
});
