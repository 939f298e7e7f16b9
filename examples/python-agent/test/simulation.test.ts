/** The simulated models: the router follows only the rules its prompt states; the optimizer reads them off the recorded runs. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { optimizerModel, route, RULES, rulesStated } from "../simulation.js";
import { loadTickets } from "../tickets.js";

const tickets = await loadTickets();
const SEED = "You route customer-support tickets to a queue: security, billing, shipping, bugs or general. Reply with the queue's name only.";
const right = (system: string) => tickets.filter((t) => route(t.ticket, rulesStated(system)) === t.expected).length;

describe("the router model", () => {
  it("routes every ticket right with every rule stated, and only the general ones with none", () => {
    assert.equal(tickets.length, 36);
    assert.equal(rulesStated(SEED).length, 0);
    assert.equal(right(SEED), tickets.filter((t) => t.expected === "general").length);
    assert.equal(right([SEED, ...RULES.map((r) => r.sentence)].join("\n")), 36);
  });

  it("needs every rule, and the security rule first", () => {
    for (const rule of RULES) assert.ok(right([SEED, ...RULES.filter((r) => r !== rule).map((r) => r.sentence)].join("\n")) < 36, rule.queue);
    const mixed = tickets.find((t) => t.expected === "security" && /charg/i.test(t.ticket))!;
    assert.equal(route(mixed.ticket, RULES.filter((r) => r.queue !== "security")), "billing");
    assert.equal(route(mixed.ticket, RULES), "security");
  });
});

describe("the optimizer model", () => {
  const model = optimizerModel();
  const ask = async (prompt: string, seed = 0) => {
    const reply = await model({ path: "/v1/chat/completions", body: { seed, messages: [] }, index: 0, lastUserText: prompt });
    const text = "text" in reply ? reply.text : undefined;
    assert.ok(typeof text === "string", `expected a text reply, got ${JSON.stringify(reply)}`);
    return text;
  };
  const critiqueOf = (runs: string) => `Current template:\n"""\n${SEED}\n"""\n\nRuns:\n${runs}\n\nTARGET: <name>`;
  const run = (n: number, ticket: string, answer: string, expected: string) =>
    `### Run ${n}: reward 0\nFeedback: expected ${expected}, the agent answered ${answer}\nTask: {}\nConversation:\n[system] ${SEED}\n[user] ${ticket}\n[assistant] Queue: ${answer}`;

  it("states the rule a failed run shows, read from the recorded conversation", async () => {
    const critique = await ask(critiqueOf([run(1, "My parcel never came.", "general", "shipping"), run(2, "The courier lost it.", "general", "shipping"), run(3, "The app crashes.", "general", "bugs")].join("\n\n")));
    assert.match(critique, /^- 2 failed run\(s\) needed a rule the template never states: Tickets about a delivery/m);
    assert.match(critique, /^- 1 failed run\(s\) .*go to bugs\.$/m);
    assert.match(critique, /TARGET: system$/);
  });

  it("finds nothing to state when no conversation was recorded", async () => {
    const bare = "### Run 1: reward 0\nFeedback: expected shipping, the agent answered general\nTask: {}\nConversation: (no LLM call was recorded)";
    assert.equal(await ask(critiqueOf(bare)), "- The failed runs are not explained by a missing rule.\nTARGET: system");
  });

  it("edits by appending the rules the critique states, and only those", async () => {
    const shipping = RULES.find((r) => r.queue === "shipping")!.sentence;
    const edited = await ask(`Template:\n"""\n${SEED}\n"""\n\nCritique:\n- ${shipping}\n\nReturn it between <template> and </template>.`);
    assert.equal(/<template>\s*([\s\S]*?)\s*<\/template>/.exec(edited)?.[1], `${SEED}\n${shipping}`);
  });
});
