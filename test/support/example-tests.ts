/**
 * Running an example from the repository root as `npm start` runs it in its folder, and its own
 * node:test files, run from the repository root as its `npm test` runs them in
 * its folder (here `tracetrain` resolves to src/ through the root tsconfig's paths). TAP named
 * explicitly: Node 20 and 24 differ in the default reporter off a terminal.
 */
import { execFile } from "node:child_process";
import { readdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { expect } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));

/** The variables an example reads to choose a real endpoint: unset, it starts its simulated models. */
export const OFFLINE: Record<string, string | undefined> = { OPENAI_BASE_URL: undefined, OPENAI_API_KEY: undefined, OPENAI_MODEL: undefined, OPTIMIZER_MODEL: undefined };

/** Runs examples/<name>/<script> (default main.ts) in a child process, offline unless `env` names an endpoint. */
export function runExample(name: string, args: string[], env: Record<string, string | undefined> = OFFLINE, script = "main.ts") {
  return promisify(execFile)(process.execPath, ["--import", "tsx", `examples/${name}/${script}`, ...args], {
    cwd: root,
    env: { ...process.env, ...env, CI: "1" } as NodeJS.ProcessEnv,
    timeout: 240_000,
  });
}

export async function expectExampleTestsToPass(name: string): Promise<void> {
  const tests = (await readdir(`${root}/examples/${name}/test`)).filter((f) => f.endsWith(".test.ts")).map((f) => `examples/${name}/test/${f}`);
  expect(tests.length).toBeGreaterThan(0);
  const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", "--test", "--test-reporter=tap", ...tests], { cwd: root, timeout: 280_000 });
  expect(stdout).toMatch(/^# fail 0$/m);
  expect(stdout).toMatch(/^# pass [1-9]\d*$/m);
}
