/**
 * examples/python-agent, run as a user runs it (main.ts in a child process): APO trains the prompt
 * of an agent written in Python, whose spans arrive over OTLP and whose rewards over REST; then
 * against an endpoint named by OPENAI_BASE_URL; then the example's own node:test tests.
 */
import { execFile, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { expectExampleTestsToPass } from "../support/example-tests.js";
import { startMockLlm } from "../../src/testing/index.js";
import { simulatedResponder } from "../../examples/python-agent/simulation.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const run = promisify(execFile);
// The example needs Python 3; machines without it (some contributors') skip, CI installs it.
const hasPython = spawnSync("python3", ["--version"]).status === 0;

function example(args: string[], env: Record<string, string | undefined> = {}) {
  const clean = { ...process.env, OPENAI_BASE_URL: undefined, OPENAI_API_KEY: undefined, OPENAI_MODEL: undefined, CI: "1", ...env };
  return run(process.execPath, ["--import", "tsx", "examples/python-agent/main.ts", ...args], { cwd: root, env: clean as NodeJS.ProcessEnv, timeout: 240_000 });
}

describe.skipIf(!hasPython)("examples/python-agent", () => {
  it("trains the Python agent's prompt with APO and prints the before/after table", async () => {
    const { stdout, stderr } = await example([]);
    expect(stderr).toContain("using the simulated models");
    expect(stdout).toMatch(/^ +accuracy on 12 held-out test tickets \(95% CI\)$/m);
    expect(stdout).toMatch(/^seed prompt +0\.167 ± 0\.247$/m);
    expect(stdout).toMatch(/^best prompt \(r1\.0\) +0\.833 ± 0\.247$/m);
    expect(stdout).toMatch(/^gain \(paired\) +\+0\.667 ± 0\.313$/m);
    expect(stdout).toMatch(/^verdict: improved: r1\.0 beats the seed/m);
    // Every rollout's LLM call came in over OTLP and its reward over REST, and each is training data with exact tokens.
    expect(stdout).toContain("rollouts: 52, each one run of agent.py");
    expect(stdout).toContain("from Python, in the store: 52 LLM-call spans (OTLP) in 52 attempts, 52 rewards (REST)");
    expect(stdout).toContain("training data from those spans: 52 transitions (52 with exact token ids), 52 chat records");
    expect(stdout).toContain("go to security, whatever else they mention.");
  }, 300_000);

  it("calls the endpoint OPENAI_BASE_URL names, with its model and key, and asks it for no token ids (OpenAI rejects the field)", async () => {
    const endpoint = await startMockLlm({ responder: simulatedResponder() });
    try {
      const env = { OPENAI_BASE_URL: endpoint.baseUrl, OPENAI_API_KEY: "sk-test", OPENAI_MODEL: "remote-model" };
      const { stdout, stderr } = await example(["--beam", "1", "--branch", "1"], env);
      expect(stderr).not.toContain("simulated");
      const chats = endpoint.requests.filter((r) => r.path === "/v1/chat/completions");
      const fromPython = chats.filter((r) => !JSON.stringify(r.body).includes('\\"\\"\\"'));
      // One call of agent.py per rollout, and APO's critiques and edits.
      const rollouts = Number(/^rollouts: (\d+), each one run of agent\.py$/m.exec(stdout)?.[1]);
      expect(rollouts).toBeGreaterThan(20);
      expect(fromPython).toHaveLength(rollouts);
      expect(chats.length).toBeGreaterThan(rollouts);
      expect(chats.every((r) => (r.body as { model?: unknown }).model === "remote-model" && r.headers.authorization === "Bearer sk-test")).toBe(true);
      expect(chats.some((r) => "return_token_ids" in (r.body as object))).toBe(false);
      expect(stdout).toMatch(/^training data from those spans: (\d+) transitions \(0 with exact token ids\), \1 chat records$/m);
    } finally {
      await endpoint.close();
    }
  }, 300_000);

  it("explains a bad flag, and an interpreter that is not there, with exit code 2", async () => {
    await expect(example(["--rounds", "0"])).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining("--rounds expects a whole number ≥ 1, got '0'") });
    await expect(example(["--python", "/no/such/python3"])).rejects.toMatchObject({
      code: 2,
      stderr: "error: /no/such/python3 not found: no such command (install Python 3, or name the interpreter with --python PATH)\n",
    });
  }, 120_000);

  it("passes its own tests (node:test), run as the example's `npm test` runs them", () => expectExampleTestsToPass("python-agent"), 240_000);
});
