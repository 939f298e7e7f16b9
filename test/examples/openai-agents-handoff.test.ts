/**
 * examples/openai-agents-handoff, run as a user runs it (`tsx main.ts`) in a child process against
 * the simulated models: GEPA improves the billing specialist's instructions of an OpenAI Agents SDK
 * desk, the triage and the other specialists keep theirs, and the before/after table says so.
 */
import { describe, expect, it } from "vitest";
import { startSimulatedModels } from "../../examples/openai-agents-handoff/simulation/index.js";
import { expectExampleTestsToPass, runExample } from "../support/example-tests.js";

describe("examples/openai-agents-handoff/main.ts", () => {
  const example = (args: string[], env?: Record<string, string | undefined>) => runExample("openai-agents-handoff", args, env);

  it("optimizes the billing specialist only and prints the held-out table", async () => {
    const { stdout, stderr } = await example([]);
    expect(stderr).toContain("using the simulated models");
    expect(stdout).toMatch(/^held out: 16 test tasks +before +after$/m);
    // The same seed gives the same figures, whatever order the runners' requests arrive in.
    expect(stdout).toMatch(/^overall success +0\.563 +0\.875$/m);
    expect(stdout).toMatch(/^handoff accuracy +0\.938 +0\.938$/m);
    expect(stdout).toMatch(/^billing \(optimized\), 7 handed +0\.143 +0\.857$/m);
    expect(stdout).toMatch(/^technical, 4 handed +1\.000 +1\.000$/m);
    expect(stdout).toMatch(/^returns, 4 handed +1\.000 +1\.000$/m);
    expect(stdout).toContain("instructions changed: billing; unchanged: triage, technical, returns");
    expect(stdout).toContain("GEPA evolved: billing; kept fixed: triage, technical, returns");
    expect(stdout).toMatch(/^verdict: improved \(\+0\.\d{3} ± 0\.\d{3}, paired over 16 held-out tasks\)$/m);
    expect(stdout).toContain("refund only the later duplicate invoice");
  }, 300_000);

  it("passes its own tests (node:test), run as the example's `npm test` runs them", async () => {
    await expectExampleTestsToPass("openai-agents-handoff");
  }, 300_000);

  it("calls the endpoint OPENAI_BASE_URL names, for the agents and the reflection, instead of starting its own models", async () => {
    const endpoint = await startSimulatedModels({ seed: 0, noise: 0 });
    try {
      const { stdout, stderr } = await example(["--proposals", "1"], { OPENAI_BASE_URL: endpoint.baseUrl, OPENAI_API_KEY: "sk-test", OPENAI_MODEL: "remote-model", OPTIMIZER_MODEL: "remote-optimizer" });
      expect(stderr).not.toContain("using the simulated models");
      const chats = endpoint.requests.filter((r) => r.path === "/v1/chat/completions");
      const models = new Set(chats.map((r) => (r.body as { model?: unknown }).model));
      expect(models).toEqual(new Set(["remote-model", "remote-optimizer"]));
      expect(chats.every((r) => r.headers.authorization === "Bearer sk-test")).toBe(true);
      expect(stdout).toMatch(/^handoff accuracy +0\.938 +0\.938$/m);
    } finally {
      await endpoint.close();
    }
  }, 300_000);

  it("explains a bad flag, an unknown flag, a bad store URL and a bad OPENAI_BASE_URL", async () => {
    await expect(example(["--noise", "2"])).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining("--noise expects a number from 0 to 1, got '2'") });
    await expect(example(["--proposals", "zero"])).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining("--proposals expects a whole number ≥ 1, got 'zero'") });
    await expect(example(["--rounds", "2"])).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining("error: Unknown option '--rounds'") });
    await expect(example(["--store", "mysql://db"])).rejects.toMatchObject({ code: 2, stderr: expect.stringMatching(/error: --store: .*expected "memory"/) });
    await expect(example([], { OPENAI_BASE_URL: "localhost:8000" })).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining("OPENAI_BASE_URL expects an http(s) URL") });
  }, 300_000);
});
