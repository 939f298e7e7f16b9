// Raw fetch against an OpenAI-compatible endpoint, whole and streamed.
import assert from "node:assert/strict";
import { test } from "node:test";
import { agent } from "tracetrain";
import { runAndCount, useMockAndTrainer } from "../support/helpers.mjs";

const setup = useMockAndTrainer();

const post = (body) => fetch(`${setup.mock.baseUrl}/chat/completions`, { method: "POST", headers: { "content-type": "application/json", authorization: "Bearer test" }, body: JSON.stringify(body) });

test("a whole and a streamed chat completion", async () => {
  const raw = agent(async (task) => {
    const whole = await (await post({ model: "mock-model", messages: [{ role: "user", content: task.q }] })).json();
    const streamed = await (await post({ model: "mock-model", messages: [{ role: "user", content: task.q }], stream: true })).text();
    return whole.choices[0].message.content === `echo: ${task.q}` && streamed.includes("[DONE]") ? 1 : 0;
  }, { name: "raw-fetch" });
  const run = await runAndCount(setup.trainer, setup.mock, raw, { q: "plain fetch" }, 2);
  assert.equal(run.rollout.finalReward, 1);
});
