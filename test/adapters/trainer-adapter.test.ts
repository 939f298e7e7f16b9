/** The trainer hands its adapter to the algorithm, which reads trajectories through it. */
import OpenAI from "openai";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Algorithm, TraceAdapter, Trainer, agent } from "tracetrain";
import { lastCallCredit } from "tracetrain/adapters";
import { runBatch } from "tracetrain/algorithms";
import { latestSpans, quiet } from "./harness.js";
import { type MockLlm, startMockLlm } from "tracetrain/testing";

let mock: MockLlm;
beforeAll(async () => {
  mock = await startMockLlm();
});
afterAll(async () => {
  await mock.close();
});

it("gives the algorithm the trainer's adapter", async () => {
  const client = new OpenAI({ baseURL: mock.baseUrl, apiKey: "test", maxRetries: 0 });
  const twice = agent(
    async (task: string) => {
      await client.chat.completions.create({ model: "mock-model", messages: [{ role: "user", content: task }] });
      await client.chat.completions.create({ model: "mock-model", messages: [{ role: "user", content: `again: ${task}` }] });
      return 1;
    },
    { name: "twice" },
  );
  const collect: Algorithm<Array<number | undefined>> = {
    name: "collect",
    async run(ctx) {
      const [rollout] = await runBatch(ctx, ctx.train, { mode: "train" });
      const spans = await latestSpans(ctx.store, rollout!.rolloutId);
      return ctx.adapter.toTransitions(spans).map((t) => t.reward);
    },
  };
  const trainer = new Trainer({ store: "memory", algorithm: collect, adapter: new TraceAdapter({ credit: lastCallCredit }), progress: false, logger: quiet, handleSignals: false });
  const { result } = await trainer.fit(twice, { train: ["hello"] });
  expect(result).toEqual([undefined, 1]);
  await trainer.close();
});
