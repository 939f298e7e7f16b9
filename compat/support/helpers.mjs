// What every compat test checks after running an agent: each LLM call the mock LLM answered is
// recorded exactly once — as one LLM span and one call in the rollout's report. The mock's own
// request log is the reference, never the tracer's view of itself.
import assert from "node:assert/strict";
import { after, before } from "node:test";
import { Trainer } from "tracetrain";
import { Attr, SpanTypes } from "tracetrain/instrumentations";
import { startMockLlm } from "tracetrain/testing";

const LLM_PATHS = new Set(["/v1/chat/completions", "/v1/completions", "/v1/responses", "/v1/messages"]);

/** LLM requests the mock has answered since `since` (an index into `mock.requests`). */
export function llmRequestsSince(mock, since) {
  return mock.requests.slice(since).filter((r) => r.method === "POST" && LLM_PATHS.has(r.path)).length;
}

export function llmSpans(spans) {
  return spans.filter((s) => s.attributes?.[Attr.spanType] === SpanTypes.llm);
}

/**
 * Runs `agentToRun` once on `task` through `trainer.dev` and checks that the rollout succeeded and
 * that it made `expectedCalls` LLM calls (by the mock's count), each recorded exactly once.
 * Returns the dev rollout (spans, report) for further checks.
 */
export async function runAndCount(trainer, mock, agentToRun, task, expectedCalls) {
  const since = mock.requests.length;
  const [run] = await trainer.dev(agentToRun, [task]);
  if (run.error !== undefined) throw run.error;
  const answered = llmRequestsSince(mock, since);
  assert.equal(answered, expectedCalls, `the agent should have made ${expectedCalls} LLM call(s); the mock answered ${answered}`);
  const recorded = llmSpans(run.spans).length;
  assert.equal(recorded, answered, `LLM spans recorded: ${recorded}, LLM calls the mock answered: ${answered} (layers: ${JSON.stringify(run.report.layers)})`);
  assert.equal(run.report.llmCalls, answered, `the report counts ${run.report.llmCalls} LLM call(s), the mock answered ${answered}`);
  return run;
}

/** The paths of the mock's LLM requests since `since`, to say which API an agent used. */
export function llmPathsSince(mock, since) {
  return mock.requests.slice(since).filter((r) => r.method === "POST" && LLM_PATHS.has(r.path)).map((r) => r.path);
}

/**
 * A mock LLM and a trainer (memory store, no progress output) for the tests of one file, started
 * before them and closed after; read them from the returned object inside the tests. `ready` runs
 * once both exist (top-level `before` hooks of node:test do not wait for one another).
 */
export function useMockAndTrainer(trainerOptions = {}, ready = () => {}) {
  const setup = {};
  before(async () => {
    setup.mock = await startMockLlm();
    setup.trainer = new Trainer({ store: "memory", progress: false, ...trainerOptions });
    await ready(setup);
  });
  after(async () => {
    await setup.trainer.close();
    await setup.mock.close();
  });
  return setup;
}
