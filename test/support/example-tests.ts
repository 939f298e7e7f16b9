/**
 * An example's own node:test files, run from the repository root as its `npm test` runs them in
 * its folder (here `tracetrain` resolves to src/ through the root tsconfig's paths).
 */
import { execFile } from "node:child_process";
import { readdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { expect } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));

export async function expectExampleTestsToPass(name: string): Promise<void> {
  const tests = (await readdir(`${root}/examples/${name}/test`)).filter((f) => f.endsWith(".test.ts")).map((f) => `examples/${name}/test/${f}`);
  expect(tests.length).toBeGreaterThan(0);
  const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", "--test", ...tests], { cwd: root, timeout: 180_000 });
  expect(stdout).toMatch(/^# fail 0$/m);
  expect(stdout).toMatch(/^# pass [1-9]\d*$/m);
}
