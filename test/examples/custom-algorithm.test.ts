/**
 * examples/custom-algorithm, run as a user runs it (`tsx main.ts`) in a child process against the
 * simulated model: best-of-N rejection sampling prints its before/after table and writes its SFT set.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMockLlm } from "tracetrain/testing";
import { sumResponder } from "../../examples/custom-algorithm/mock-model.js";
import { expectExampleTestsToPass, runExample } from "../support/example-tests.js";

describe("examples/custom-algorithm/main.ts", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "custom-algorithm-"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));
  const example = (args: string[], env?: Record<string, string | undefined>) => runExample("custom-algorithm", args, env);

  it("samples 4 answers per task, keeps the best that scored and prints the table", async () => {
    const out = join(dir, "sft.jsonl");
    const { stdout, stderr } = await example(["--out", out]);
    expect(stderr).toContain("using the simulated model");
    expect(stdout).toMatch(/^ +records +mean reward$/m);
    // The same seed gives the same figures, whatever order the runners' requests arrive in.
    expect(stdout).toMatch(/^all rollouts +48 +0\.438$/m);
    expect(stdout).toMatch(/^kept \(best of 4\) +10 +1\.000$/m);
    expect(stdout).toContain("12 tasks, 48 rollouts, 10 kept (reward ≥ 1)");
    expect(stdout).toContain(`SFT dataset: ${out}`);
    const lines = (await readFile(out, "utf8")).trim().split("\n");
    expect(lines).toHaveLength(10);
    expect(JSON.parse(lines[0]!)).toEqual({
      messages: [
        { role: "system", content: "Add the two numbers. Reply with the sum." },
        { role: "user", content: expect.stringMatching(/^What is \d+ \+ \d+\?$/) },
        { role: "assistant", content: expect.stringMatching(/^\d+ \+ \d+ = \d+$/) },
      ],
    });
  }, 180_000);

  it("passes its own tests (node:test), run as the example's `npm test` runs them", async () => {
    await expectExampleTestsToPass("custom-algorithm");
  }, 300_000);

  it("calls the endpoint OPENAI_BASE_URL names instead of starting its own model", async () => {
    const endpoint = await startMockLlm({ responder: sumResponder(0) });
    try {
      const { stdout, stderr } = await example(["--out", join(dir, "endpoint.jsonl")], { OPENAI_BASE_URL: endpoint.baseUrl, OPENAI_API_KEY: "sk-test", OPENAI_MODEL: "remote-model" });
      expect(stderr).not.toContain("using the simulated model");
      const chats = endpoint.requests.filter((r) => r.path === "/v1/chat/completions");
      expect(chats).toHaveLength(48);
      expect(chats.every((r) => (r.body as { model?: unknown }).model === "remote-model" && r.headers.authorization === "Bearer sk-test")).toBe(true);
      expect(stdout).toMatch(/^kept \(best of 4\) +10 +1\.000$/m);
    } finally {
      await endpoint.close();
    }
  }, 180_000);

  it("explains a bad or unknown flag in one line, exit code 2", async () => {
    await expect(example(["--n", "0"])).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining("--n expects a whole number ≥ 1, got '0'") });
    const unknown = await example(["--samples", "4"]).then(() => undefined, (error: { code: number; stderr: string }) => error);
    expect(unknown).toMatchObject({ code: 2, stderr: expect.stringMatching(/^error: Unknown option '--samples'/) });
    expect(unknown?.stderr).not.toContain("    at ");
  }, 180_000);
});
