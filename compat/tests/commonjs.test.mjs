// CommonJS applications: a TypeScript agent that tsx runs as CommonJS, and plain require().
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { startMockLlm } from "tracetrain/testing";
import { llmRequestsSince } from "../support/helpers.mjs";
import { run } from "../support/run.mjs";

const folder = fileURLToPath(new URL("../cjs-agent/", import.meta.url));
let mock;
before(async () => (mock = await startMockLlm()));
after(() => mock.close());

test("a CommonJS TypeScript agent run with tsx loads tracetrain and records its call", async () => {
  const since = mock.requests.length;
  const { stdout } = await run("npx", ["--no-install", "tsx", "agent.ts"], { cwd: folder, env: { ...process.env, OPENAI_BASE_URL: mock.baseUrl } });
  const result = JSON.parse(stdout.trim().split("\n").at(-1));
  assert.equal(result.moduleSystem, "commonjs", "tsx ran the agent as CommonJS");
  assert.equal(llmRequestsSince(mock, since), 1);
  assert.deepEqual(result, { moduleSystem: "commonjs", reward: 1, llmCalls: 1 });
});

test("plain require() loads the root and a subpath", async () => {
  const { stdout } = await run(process.execPath, ["plain.cjs"], { cwd: folder });
  assert.deepEqual(JSON.parse(stdout), { Trainer: "function", agent: "function", MemoryStore: "function", error: "NotFoundError" });
});
