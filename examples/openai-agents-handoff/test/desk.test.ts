/**
 * The real Agents SDK desk, traced by tracetrain, against the simulated models: who the triage
 * hands each request to (read from the handoff spans), which agent each LLM call is attributed to,
 * and how the billing specialist's instructions change what it does.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createStore, type ResourcesMap, type Store } from "tracetrain";
import { Attr, SpanTypes } from "tracetrain/instrumentations";
import type { MockLlm } from "tracetrain/testing";
import { AGENT_NAMES, type Instructions } from "../desk.js";
import { SEED_INSTRUCTIONS } from "../instructions.js";
import { evaluateDesk } from "../report.js";
import { BILLING_RULES, billingIntent, startSimulatedModels } from "../simulation/index.js";
import { loadTasks, requestText, type Task } from "../tasks.js";

const tasks = await loadTasks();
const byId = (id: string) => tasks.find((t) => t.id === id)!;
const kindOf = (t: Task) => billingIntent(requestText(t)).kind;
// One billing request of each kind, the misrouted ones (T06 mentions an app crash, T32 the billing
// page, T43 a charge) and a request for each other specialist.
const SAMPLE = ["T01", "T06", "T07", "T10", "T13", "T16", "T32", "T37", "T43", "T25"].map(byId);

describe("the desk on the simulated models", () => {
  let mock: MockLlm;
  let store: Store;
  const resources = (instructions: Instructions): ResourcesMap => ({
    ...Object.fromEntries(AGENT_NAMES.map((name) => [name, { kind: "prompt_template", template: instructions[name] }])),
    main: { kind: "llm", baseUrl: mock.baseUrl, model: "desk-model" },
  });
  before(async () => {
    mock = await startSimulatedModels({ seed: 0, noise: 0 });
    store = createStore("memory");
  });
  after(async () => {
    await store.close();
    await mock.close();
  });

  it("hands each request to a specialist by its words, and records the handoff in the trace", async () => {
    const results = await evaluateDesk(store, resources(SEED_INSTRUCTIONS), SAMPLE);
    const handed = Object.fromEntries(results.map((r) => [r.task.id, r.handedTo]));
    assert.deepEqual(handed, { T01: "billing", T06: "technical", T07: "billing", T10: "billing", T13: "billing", T16: "billing", T32: "billing", T37: "returns", T43: "billing", T25: "technical" });
    // Misrouted requests fail whatever the specialist does.
    for (const id of ["T06", "T32", "T43"]) assert.equal(results.find((r) => r.task.id === id)!.reward, 0, id);

    const duplicate = results.find((r) => r.task.id === "T07")!;
    const spans = (await store.querySpans({ rolloutId: duplicate.rolloutId, attemptId: "latest" })).items;
    const handoff = spans.find((s) => s.attributes[Attr.spanType] === SpanTypes.handoff)!;
    assert.equal(handoff.attributes[Attr.handoffFrom], "triage");
    const calls = spans.filter((s) => s.attributes[Attr.spanType] === SpanTypes.llm).sort((a, b) => a.startTime - b.startTime);
    // The triage's call, then the billing specialist's: lookup, refund, reply.
    assert.deepEqual(calls.map((s) => s.attributes[Attr.agentName]), ["triage", "billing", "billing", "billing"]);
    const tools = spans.filter((s) => s.attributes[Attr.spanType] === SpanTypes.tool).map((s) => s.attributes[Attr.toolName]);
    assert.deepEqual(tools, ["list_invoices", "issue_refund"]);
  });

  it("with the seed instructions, billing gets only the plain refunds right; with every rule stated, all it is handed", async () => {
    // A plain refund, a duplicate charge, an annual plan cancelled, an old invoice, one already refunded.
    const billingSample = ["T01", "T07", "T10", "T13", "T16"].map(byId);
    assert.deepEqual(billingSample.map(kindOf), ["refund_invoice", "duplicate", "cancel_annual", "refund_invoice", "refund_invoice"]);
    const seed = await evaluateDesk(store, resources(SEED_INSTRUCTIONS), billingSample);
    assert.deepEqual(seed.map((r) => r.reward), [1, 0, 0, 0, 0]);
    const taught = { ...SEED_INSTRUCTIONS, billing: [SEED_INSTRUCTIONS.billing, ...BILLING_RULES.map((r) => r.sentence)].join("\n") };
    const all = await evaluateDesk(store, resources(taught), billingSample);
    assert.deepEqual(all.map((r) => r.reward), billingSample.map(() => 1));
  });
});
