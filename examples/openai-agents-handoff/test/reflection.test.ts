/**
 * The simulated reflection model: it proposes a billing rule only when a failed run it reads shows
 * the rule would have fixed it, and rewrites nothing but the component it is asked about.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SEED_INSTRUCTIONS } from "../instructions.js";
import { BILLING_RULES, billingIntent, isReflection, rankedFixes, reflectionResponder } from "../simulation/index.js";
import { loadTasks, requestText, type Task } from "../tasks.js";

const tasks = await loadTasks();
const byId = (id: string) => tasks.find((t) => t.id === id)!;

/** A reflection prompt shaped as GEPA writes it: the component, its template in quotes, the runs, the answer tags. */
function prompt(component: string, template: string, runs: Array<{ task: Task; reward: number }>): string {
  const blocks = runs.map(({ task, reward }, i) => `### Run ${i + 1}: reward ${reward}\nTask: ${JSON.stringify(task)}\nConversation:\n[user] ${requestText(task)}`);
  return `You are improving one component, "${component}", of an AI agent.\n\nCurrent template:\n"""\n${template}\n"""\n\n${blocks.join("\n\n")}\n\nReturn the complete new template between <template> and </template>.`;
}

const reply = (text: string, seed = 0) => {
  const answer = reflectionResponder({ path: "/v1/chat/completions", body: { seed }, index: 0, lastUserText: text });
  assert.ok("text" in answer && typeof answer.text === "string");
  return /<template>\n([\s\S]*)\n<\/template>/.exec(answer.text)![1]!;
};

describe("the simulated reflection model", () => {
  it("ranks the rules by how many failed runs each would have fixed", () => {
    // T07, T08, T09: duplicate charges; T10: an annual plan; T01 succeeded and shows nothing.
    const runs = [byId("T07"), byId("T08"), byId("T09"), byId("T10")].map((task) => ({ task, reward: 0 }));
    assert.deepEqual(rankedFixes(prompt("billing", SEED_INSTRUCTIONS.billing, [...runs, { task: byId("T01"), reward: 1 }]), SEED_INSTRUCTIONS.billing), ["duplicate", "prorate"]);
    assert.equal(billingIntent(requestText(byId("T07"))).kind, "duplicate");
  });

  it("appends the evidenced rules to the template, and none the template already states", () => {
    const text = prompt("billing", SEED_INSTRUCTIONS.billing, [{ task: byId("T07"), reward: 0 }, { task: byId("T10"), reward: 0 }]);
    assert.ok(isReflection({ lastUserText: text }));
    const rewritten = reply(text);
    assert.ok(rewritten.startsWith(SEED_INSTRUCTIONS.billing));
    assert.ok(rewritten.includes(BILLING_RULES.find((r) => r.id === "duplicate")!.sentence));
    const knowing = `${SEED_INSTRUCTIONS.billing}\n${BILLING_RULES.find((r) => r.id === "duplicate")!.sentence}`;
    assert.deepEqual(rankedFixes(prompt("billing", knowing, [{ task: byId("T07"), reward: 0 }]), knowing), []);
  });

  it("adds only a sentence that changes nothing when the runs show no missing rule, or the component is another agent's", () => {
    const succeeded = reply(prompt("billing", SEED_INSTRUCTIONS.billing, [{ task: byId("T07"), reward: 1 }]));
    assert.equal(BILLING_RULES.filter((r) => succeeded.includes(r.sentence)).length, 0);
    const other = reply(prompt("technical", SEED_INSTRUCTIONS.technical, [{ task: byId("T07"), reward: 0 }]));
    assert.ok(other.startsWith(SEED_INSTRUCTIONS.technical));
    assert.equal(BILLING_RULES.filter((r) => other.includes(r.sentence)).length, 0);
  });
});
