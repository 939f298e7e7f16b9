/**
 * agent.py run as main.ts runs it, once per rollout, against a real store server and the simulated
 * router: what it sends (a GenAI span over OTLP, its reward over REST) and what tracetrain makes of it.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { createStore, Trainer } from "tracetrain";
import { toChatMessages, toTransitions } from "tracetrain/adapters";
import { startStoreServer, type StoreServer } from "tracetrain/server";
import { checkPython, pythonRouter } from "../python.js";
import { startSimulatedModels } from "../simulation.js";
import { pythonSpansSummary } from "../summary.js";
import type { Ticket } from "../tickets.js";

const python = checkPython("python3");
const SYSTEM = "Route the ticket. Tickets about a charge, a payment, an invoice or a refund go to billing.";
const TICKETS: Ticket[] = [
  { id: "a", ticket: "I was charged twice.", expected: "billing" },
  { id: "b", ticket: "My parcel is late.", expected: "shipping" },
];

describe("agent.py under tracetrain", () => {
  const store = createStore("memory");
  let server: StoreServer;
  let models: Awaited<ReturnType<typeof startSimulatedModels>>;
  before(async () => {
    server = await startStoreServer({ store, port: 0, token: "test-token" });
    models = await startSimulatedModels();
  });
  after(async () => {
    await server.close();
    await models.close();
    await store.close();
  });

  const run = async (returnTokenIds: boolean) => {
    const trainer = new Trainer({
      store,
      runners: 2,
      initialResources: { system: { kind: "prompt_template", template: SYSTEM }, main: { kind: "llm", baseUrl: models.baseUrl, model: "ticket-router" } },
    });
    try {
      return await trainer.evaluate(pythonRouter({ python: python.executable, storeUrl: server.url, token: "test-token", returnTokenIds }), TICKETS);
    } finally {
      await trainer.close();
    }
  };
  const trajectoryOf = async (rolloutId: string) => (await store.querySpans({ rolloutId, attemptId: "latest" })).items;

  it("posts its reward, which becomes the attempt's outcome, and its LLM call as a GenAI span", async () => {
    const result = await run(true);
    assert.deepEqual(result.tasks.map((t) => t.reward), [1, 0]);
    const spans = await trajectoryOf(result.tasks[0]!.rolloutId);
    const call = spans.find((s) => s.attributes["gen_ai.operation.name"] === "chat")!;
    assert.equal(call.name, "chat ticket-router");
    assert.equal(call.attributes["service.name"], "ticket-router");
    const reward = spans.find((s) => s.name === "tracetrain.reward")!;
    assert.equal(reward.attributes["tracetrain.layer"], "external");
    assert.equal(reward.attributes["tracetrain.reward.feedback"], "correct");
    const failed = await trajectoryOf(result.tasks[1]!.rolloutId);
    assert.equal(failed.find((s) => s.name === "tracetrain.reward")!.attributes["tracetrain.reward.feedback"], "expected shipping, the agent answered general");
  });

  it("is training data: chat records with the agent's messages, and vLLM's token ids when asked for", async () => {
    const withIds = await run(true);
    const spans = await trajectoryOf(withIds.tasks[0]!.rolloutId);
    assert.deepEqual(toChatMessages(spans), [
      { messages: [{ role: "system", content: SYSTEM }, { role: "user", content: "I was charged twice." }, { role: "assistant", content: "Queue: billing" }] },
    ]);
    const [transition] = toTransitions(spans, { agents: ["ticket-router"] });
    assert.equal(transition!.textOnly, false);
    assert.ok(transition!.prompt.tokenIds!.length > 5);
    assert.ok(transition!.response.tokenIds!.length > 0);
    assert.equal(transition!.reward, 1);
    const textOnly = await run(false);
    const [plain] = toTransitions(await trajectoryOf(textOnly.tasks[0]!.rolloutId));
    assert.equal(plain!.textOnly, true);
    const summary = await pythonSpansSummary(store);
    assert.deepEqual(summary, { attempts: 6, llmCalls: 6, rewards: 6, transitions: 6, withTokenIds: 4, chatRecords: 6 });
  });
});

describe("agent.py on its own", () => {
  const agentPy = fileURLToPath(new URL("../agent.py", import.meta.url));
  it("names a missing variable and exits 2", () => {
    const run = spawnSync(python.executable, [agentPy], { env: { PATH: process.env.PATH ?? "" }, encoding: "utf8" });
    assert.equal(run.status, 2);
    assert.match(run.stderr, /^agent\.py: TRACETRAIN_STORE_URL is not set/);
  });

  it("says which URL it could not reach", () => {
    const env = { TRACETRAIN_STORE_URL: "http://127.0.0.1:9", TRACETRAIN_ROLLOUT_ID: "ro-1", TRACETRAIN_ATTEMPT_ID: "at-1", OPENAI_BASE_URL: "http://127.0.0.1:9/v1", OPENAI_MODEL: "m", AGENT_SYSTEM_PROMPT: "x", AGENT_TASK: '{"ticket":"t","expected":"general"}' };
    const run = spawnSync(python.executable, [agentPy], { env, encoding: "utf8" });
    assert.equal(run.status, 1);
    assert.match(run.stderr, /^agent\.py: cannot reach http:\/\/127\.0\.0\.1:9\/v1\/chat\/completions: /);
  });
});

describe("checkPython", () => {
  it("says an interpreter that is not there was not found", () => {
    assert.throws(() => checkPython("/no/such/python3"), { message: "/no/such/python3 not found: no such command (install Python 3, or name the interpreter with --python PATH)" });
  });

  it("refuses a program that is not Python 3", () => {
    assert.throws(() => checkPython("node"), /^Error: node is not a Python 3 interpreter: it answered /);
  });
});
