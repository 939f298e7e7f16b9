/**
 * examples/langchain-agent, run as a user runs it (`tsx main.ts`) in a child process against the
 * simulated models: the unchanged createAgent agent is evaluated with its calls shown, then the
 * tunable one is optimized with APO, and the before/after table is printed.
 */
import { describe, expect, it } from "vitest";
import { startMockLlm } from "tracetrain/testing";
import { simulatedModels } from "../../examples/langchain-agent/mock-model.js";
import { expectExampleTestsToPass, runExample } from "../support/example-tests.js";

describe("examples/langchain-agent/main.ts", () => {
  const example = (args: string[], env?: Record<string, string | undefined>) => runExample("langchain-agent", args, env);

  it("evaluates the unchanged agent with its calls, then APO improves the tunable one on held-out questions", async () => {
    const { stdout, stderr } = await example([]);
    expect(stderr).toContain("using the simulated models");
    // Part 1: every rollout's captured LLM and tool calls; the unchanged agent never opens a record.
    expect(stdout).toContain("Part 1 — the agent unchanged, 12 test questions");
    expect(stdout).toMatch(/^ {2}price-TN-2 +reward 0 {2}LLM calls 2 {2}tools search_catalog$/m);
    expect(stdout).toMatch(/^ {2}carry-BP-55 +reward 1 {2}LLM calls 2 {2}tools search_catalog$/m);
    expect(stdout.match(/LLM calls 2 {2}tools search_catalog$/gm)).toHaveLength(12);
    // The same seed gives the same figures, whatever order the runners' requests arrive in.
    expect(stdout).toMatch(/^unchanged agent \(its own prompt\) +0\.250$/m);
    expect(stdout).toMatch(/^seed prompt via ctx\.prompt\(\) +0\.250 ± 0\.287$/m);
    expect(stdout).toMatch(/^APO best prompt \(r3\.0\) +0\.917 ± 0\.183$/m);
    expect(stdout).toMatch(/^gain \(paired\) +\+0\.667 ± 0\.313$/m);
    expect(stdout).toContain("verdict: improved: r3.0 beats the seed");
    expect(stdout).toContain("  When a product is on sale, quote its sale price, not the list price.");
  }, 300_000);

  it("passes its own tests (node:test), run as the example's `npm test` runs them", async () => {
    await expectExampleTestsToPass("langchain-agent");
  }, 300_000);

  it("calls the endpoint OPENAI_BASE_URL names, with its model and key, instead of starting its own", async () => {
    const endpoint = await startMockLlm({ responder: simulatedModels({ seed: 0 }) });
    try {
      const { stdout, stderr } = await example(["--rounds", "1"], { OPENAI_BASE_URL: endpoint.baseUrl, OPENAI_API_KEY: "sk-test", OPENAI_MODEL: "remote-model", OPTIMIZER_MODEL: "remote-optimizer" });
      expect(stderr).not.toContain("using the simulated models");
      const chats = endpoint.requests.filter((r) => r.path === "/v1/chat/completions");
      const models = new Set(chats.map((r) => (r.body as { model?: unknown }).model));
      expect(models).toEqual(new Set(["remote-model", "remote-optimizer"]));
      expect(chats.every((r) => r.headers.authorization === "Bearer sk-test")).toBe(true);
      expect(stdout).toMatch(/^unchanged agent \(its own prompt\) +0\.250$/m);
    } finally {
      await endpoint.close();
    }
  }, 240_000);

  it("explains a bad flag or endpoint", async () => {
    await expect(example(["--rounds", "0"])).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining("--rounds expects a whole number ≥ 1, got '0'") });
    await expect(example(["--beam", "two"])).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining("--beam expects a whole number ≥ 1, got 'two'") });
    await expect(example([], { OPENAI_BASE_URL: "api.example.com/v1" })).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining("OPENAI_BASE_URL expects an http(s) URL such as https://api.openai.com/v1, got 'api.example.com/v1'") });
  }, 240_000);
});
