/**
 * examples/ai-sdk-agent, run as a user runs it (`tsx main.ts`) in a child process against the
 * simulated models: the AI SDK agent is evaluated unchanged, APO optimizes its system prompt, and
 * the before/after table on the held-out reports is printed with the calls captured per rollout.
 */
import { describe, expect, it } from "vitest";
import { startMockLlm } from "tracetrain/testing";
import { agentModel, optimizerModel } from "../../examples/ai-sdk-agent/mock-model.js";
import { expectExampleTestsToPass, runExample } from "../support/example-tests.js";

const TABLE = [
  /^1\. evaluate: the agent unchanged on 12 held-out reports: mean reward 0\.083$/m,
  /^ +captured per rollout: 1\.4 LLM calls \(1–2\), 0\.4 tool calls \(0–1\); recorded by: fetch, otel$/m,
  /^ +mean reward +LLM calls +tool calls$/m,
  /^before: seed prompt +0\.083 +1\.4 +0\.4$/m,
  /^after: APO's best \(r2\.\d+\) +0\.917 +3\.0 +4\.3$/m,
  /^gain \(paired, 95% CI\) +\+0\.833 ± 0\.247$/m,
  /^verdict: improved: r2\.\d+ beats the seed by \+0\.833 ± 0\.247/m,
  /^APO's own check on test: seed 0\.083, best 0\.917;/m,
];

describe("examples/ai-sdk-agent/main.ts", () => {
  const example = (args: string[], env?: Record<string, string | undefined>) => runExample("ai-sdk-agent", args, env);

  it("evaluates the agent unchanged, then APO's prompt beats the seed on the held-out reports", async () => {
    const { stdout, stderr } = await example([]);
    expect(stderr).toContain("using the simulated models");
    for (const line of TABLE) expect(stdout).toMatch(line);
    // The optimized prompt states all three rules the failed runs were missing.
    expect(stdout).toMatch(/^optimized system prompt:\n {2}You are a travel-expense assistant\./m);
    for (const tool of ["get_exchange_rate", "lookup_policy", "add_amounts"]) expect(stdout).toMatch(new RegExp(`^ {2}.*${tool}`, "m"));
  }, 300_000);

  it("calls the endpoint OPENAI_BASE_URL names instead of starting its own models, with the same figures at any concurrency", async () => {
    const agent = agentModel({ seed: 0, noise: 0.1 });
    const optimizer = optimizerModel();
    const endpoint = await startMockLlm({ responder: (r) => (Array.isArray(r.body.tools) ? agent(r) : optimizer(r)) });
    try {
      const { stdout, stderr } = await example(["--runners", "8"], { OPENAI_BASE_URL: endpoint.baseUrl, OPENAI_API_KEY: "sk-test", OPENAI_MODEL: "remote-model", OPTIMIZER_MODEL: "remote-optimizer" });
      expect(stderr).not.toContain("using the simulated models");
      const chats = endpoint.requests.filter((r) => r.path === "/v1/chat/completions");
      const model = (r: (typeof chats)[number]) => (r.body as { model?: unknown }).model;
      expect(chats.every((r) => r.headers.authorization === "Bearer sk-test")).toBe(true);
      expect(new Set(chats.map(model))).toEqual(new Set(["remote-model", "remote-optimizer"]));
      // Eight runners instead of four: the requests interleave differently, the figures do not.
      for (const line of TABLE) expect(stdout).toMatch(line);
    } finally {
      await endpoint.close();
    }
  }, 300_000);

  it("passes its own tests (node:test), run as the example's `npm test` runs them", async () => {
    await expectExampleTestsToPass("ai-sdk-agent");
  }, 300_000);

  it("explains a bad flag or setting in one line, exit code 2", async () => {
    await expect(example(["--noise", "2"])).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining("--noise expects a number from 0 to 1, got '2'") });
    await expect(example(["--rounds", "0"])).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining("--rounds expects a whole number ≥ 1, got '0'") });
    await expect(example(["--bogus"])).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining("Unknown option '--bogus'") });
    await expect(example(["--store", "bogus://x"])).rejects.toMatchObject({ code: 2, stderr: expect.stringMatching(/^error: --store: invalid store URL: .*\(got "bogus:\/\/x"\)\n$/) });
    await expect(example([], { OPENAI_BASE_URL: "localhost:8000" })).rejects.toMatchObject({ code: 2, stderr: "error: OPENAI_BASE_URL expects an http(s) URL such as https://api.openai.com/v1, got 'localhost:8000'\n" });
  }, 300_000);
});
