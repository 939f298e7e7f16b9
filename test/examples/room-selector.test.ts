/**
 * The room-selector example as a user runs it: main.ts (`npm start` in its folder, `npm run
 * example:rooms` here) on the simulated models, the same script against an OpenAI-compatible endpoint
 * given by OPENAI_BASE_URL — here the mock LLM serving the same simulated models, standing in for a
 * real server — and the example's own node:test tests.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { expectExampleTestsToPass } from "../support/example-tests.js";
import { startSimulatedRoomModels } from "../support/room-apo.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const run = promisify(execFile);
const script = "examples/room-selector/main.ts";

function example(args: string[], env: Record<string, string | undefined>) {
  const clean = { ...process.env, OPENAI_BASE_URL: undefined, OPENAI_API_KEY: undefined, CI: "1", ...env };
  return run(process.execPath, ["--import", "tsx", script, ...args], { cwd: root, env: clean as NodeJS.ProcessEnv, timeout: 60_000 });
}

describe("examples/room-selector", () => {
  it("optimizes the prompts with the simulated models and prints the before/after table", async () => {
    // The defaults, as `npm start` runs them; the figures are those the example's README quotes.
    const { stdout, stderr } = await example([], {});
    expect(stderr).toContain("using the simulated room-selection models");
    expect(stdout).toMatch(/^\s+accuracy on 13 held-out validation tasks \(95% CI\)$/m);
    expect(stdout).toMatch(/^seed prompts\s+0\.154 ± 0\.227$/m);
    expect(stdout).toMatch(/^best prompts \(r2\.8\)\s+0\.538 ± 0\.314$/m);
    expect(stdout).toMatch(/^gain \(paired\)\s+\+0\.385 ± 0\.306$/m);
    expect(stdout).toMatch(/^verdict: improved: r2\.8 beats the seed by \+0\.385 ± 0\.306/m);
    expect(stdout).toContain("rollouts: 161 (evaluation 115; evaluating every candidate on every task would have taken 267)");
    expect(stdout).toContain("The room's capacity must be at least the number of attendees.");
    expect(stdout).toMatch(/cost \$0\.0000$/m);
  }, 180_000);

  it("runs against the endpoint in OPENAI_BASE_URL with the models it is told", async () => {
    const server = await startSimulatedRoomModels({ optimizer: { mode: "useless" } });
    try {
      const { stdout, stderr } = await example(["--rounds", "1", "--model", "room-agent", "--optimizer-model", "mock-optimizer", "--beam", "2", "--branch", "2"], {
        OPENAI_BASE_URL: server.baseUrl,
        OPENAI_API_KEY: "test-key",
      });
      expect(stderr).not.toContain("simulated");
      expect(stdout).toMatch(/^verdict: no significant improvement/m);
      expect(stdout).toMatch(/published: apo-[0-9a-f]+\.best \(seed\)/);
      // Unknown models are priced at $0 and said to be.
      expect(stdout).toContain("no price for room-agent, mock-optimizer");
    } finally {
      await server.close();
    }
  }, 180_000);

  it("explains a bad flag", async () => {
    await expect(example(["--rounds", "two"], {})).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining("--rounds expects a whole number, got 'two'") });
  }, 180_000);

  it("passes its own tests (node:test), run as the example's `npm test` runs them", () => expectExampleTestsToPass("room-selector"), 180_000);
});
