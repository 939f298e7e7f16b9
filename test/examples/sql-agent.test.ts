/**
 * examples/sql-agent, run as a user runs it (`tsx main.ts`, `tsx eval.ts`) in child processes
 * against the simulated models: GEPA optimizes the writer's prompt only and the table shows the
 * gain on the held-out questions; the evaluation set reports execution accuracy and the checker's
 * self-check agreement.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMockLlm } from "tracetrain/testing";
import { SEED_PROMPTS } from "../../examples/sql-agent/prompts.js";
import { sqlModels } from "../../examples/sql-agent/simulation/models.js";
import { OFFLINE, expectExampleTestsToPass, runExample } from "../support/example-tests.js";

describe("examples/sql-agent", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "sql-agent-"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));
  const run = (script: string, args: string[], env = OFFLINE) => runExample("sql-agent", args, env, script);

  it("main.ts: GEPA on the writer only, and the before/after table on the held-out test questions", async () => {
    const out = join(dir, "prompts.json");
    const { stdout, stderr } = await run("main.ts", ["--out", out]);
    expect(stderr).toContain("using the simulated SQL models");
    expect(stderr).toContain("not evolved: checker (used only by agent checker, not selected); rewriter");
    expect(stdout).toMatch(/^10 held-out test questions +execution accuracy +self-check agreement$/m);
    // The same seed gives the same figures, whatever order the runners' requests arrive in.
    expect(stdout).toMatch(/^before \(seed prompts\) +0\.500 +0\.700$/m);
    expect(stdout).toMatch(/^after \(writer optimized\) +0\.900 +0\.900$/m);
    expect(stdout).toContain("checker prompt: unchanged\nrewriter prompt: unchanged\nwriter prompt: optimized");
    expect(stdout).toMatch(/Final check: improved: c\d+ beats the seed by \+0\.400/);
    const prompts = JSON.parse(await readFile(out, "utf8")) as Record<string, string>;
    expect(prompts.checker).toBe(SEED_PROMPTS.checker);
    expect(prompts.rewriter).toBe(SEED_PROMPTS.rewriter);
    expect(prompts.writer!.startsWith(SEED_PROMPTS.writer)).toBe(true);
    expect(prompts.writer).toContain("COUNT(DISTINCT column)");

    // npm run eval with the prompts main.ts wrote: the whole set, with the self-check report.
    const optimized = await run("eval.ts", ["--prompts", out]);
    expect(optimized.stdout).toMatch(/^execution accuracy +0\.900 +\(27\/30 final queries return the gold result set\)$/m);
    expect(optimized.stdout).toMatch(/^self-check agreement 0\.867 /m);
  }, 400_000);

  it("main.ts --algorithm rl: the reference policy trained through the gateway on the writer's calls only", async () => {
    const { stdout, stderr } = await run("main.ts", ["--algorithm", "rl", "--steps", "6"]);
    expect(stdout).toMatch(/^before \(initial policy\) +\d\.\d{3} +\d\.\d{3}$/m);
    expect(stdout).toMatch(/^after \(writer's policy RL\) +\d\.\d{3} +\d\.\d{3}$/m);
    expect(stdout).toContain("checker prompt: unchanged\nrewriter prompt: unchanged");
    // The policy's samples sample at temperature 1 in arrival order: the figures vary, the run must train.
    const version = Number(/policy version (\d+)/.exec(stdout)?.[1]);
    expect(version).toBeGreaterThan(0);
    expect(stderr).toMatch(/step 6\/6 · train reward/);
    expect(stderr).not.toMatch(/failed \(agent_error\)/);
  }, 400_000);

  it("eval.ts (npm run eval): execution accuracy, self-check agreement, the confusion and a row per question", async () => {
    const { stdout } = await run("eval.ts", ["--verbose"]);
    expect(stdout).toContain("30 questions (all), 1 rewrite(s) at most, seed prompts");
    expect(stdout).toMatch(/^execution accuracy +0\.367 +\(11\/30 final queries return the gold result set\)$/m);
    expect(stdout).toMatch(/^self-check agreement 0\.600 /m);
    expect(stdout).toMatch(/^checker: correct +10 +11$/m);
    expect(stdout).toMatch(/^checker: wrong +1 +8$/m);
    const rows = stdout.split("\n").filter((l) => /^q\d\d /.test(l));
    expect(rows).toHaveLength(30);
    expect(rows.filter((r) => /^q\d\d +correct /.test(r))).toHaveLength(11);
    // --verbose: the verifier's words under each question.
    expect(stdout).toMatch(/^ {6}(correct|expected .*|the query failed: .*); the checker said (correct|wrong)$/m);
  }, 400_000);

  it("passes its own tests (node:test), run as the example's `npm test` runs them", async () => {
    await expectExampleTestsToPass("sql-agent");
  }, 300_000);

  it("calls the endpoint OPENAI_BASE_URL names instead of starting its own models", async () => {
    const endpoint = await startMockLlm({ responder: sqlModels(0) });
    try {
      const { stdout, stderr } = await run("eval.ts", ["--split", "test"], { ...OFFLINE, OPENAI_BASE_URL: endpoint.baseUrl, OPENAI_API_KEY: "sk-test", OPENAI_MODEL: "remote-model" });
      expect(stderr).not.toContain("using the simulated SQL models");
      const chats = endpoint.requests.filter((r) => r.path === "/v1/chat/completions");
      expect(chats.length).toBeGreaterThanOrEqual(20); // a writer and a checker call per question, and rewrites
      expect(chats.every((r) => (r.body as { model?: unknown }).model === "remote-model" && r.headers.authorization === "Bearer sk-test")).toBe(true);
      expect(stdout).toMatch(/^execution accuracy +0\.500 /m);
    } finally {
      await endpoint.close();
    }
  }, 400_000);

  it("explains a bad flag with exit code 2", async () => {
    await expect(run("main.ts", ["--algorithm", "ppo"])).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining("--algorithm expects gepa, apo or rl, got 'ppo'") });
    await expect(run("eval.ts", ["--split", "dev"])).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining("--split expects all, train, val or test, got 'dev'") });
    await expect(run("eval.ts", ["--prompts", join(dir, "missing.json")])).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining("--prompts expects a readable JSON file") });
  }, 400_000);
});
