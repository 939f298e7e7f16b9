/**
 * `tracetrain init`: for every framework, the project it writes typechecks (against tracetrain's
 * src/, under the repository's strict settings) and `main.ts` runs as a user's `npm start` runs it,
 * printing its before/after table; and the command refuses what it should. The projects are written
 * inside the repository (test/.tmp), so their frameworks resolve from its node_modules, and tsx
 * takes a tsconfig that maps `tracetrain` to src/ (TSX_TSCONFIG_PATH), so no build is needed; the
 * built command's `init` is checked in test/packaging.
 */
import type { ChildProcess } from "node:child_process";
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { SqliteStore } from "tracetrain/store";
import type { MockLlm } from "tracetrain/testing";
import { FRAMEWORK_NAMES } from "../../src/cli/init/index.js";
import { startTracetrain } from "../support/processes.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const base = join(root, "test", ".tmp", `init-${process.pid}`);
const checkConfig = join(base, "tsconfig.check.json");
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

/** `tracetrain ARGS` from source: its exit code and everything it printed. */
async function tracetrain(args: string[]): Promise<{ code: number | null; text: string }> {
  const run = startTracetrain(args, {}, children);
  return { code: await run.exited, text: run.out.text };
}

/** `node --import tsx main.ts ARGS` in a project, as `npm start` runs it. */
function start(dir: string, args: string[] = [], env: Record<string, string | undefined> = {}) {
  return promisify(execFile)(process.execPath, ["--import", "tsx", "main.ts", ...args], {
    cwd: dir,
    env: { ...process.env, OPENAI_BASE_URL: undefined, OPENAI_API_KEY: undefined, OPENAI_MODEL: undefined, ...env, TSX_TSCONFIG_PATH: checkConfig, CI: "1" } as NodeJS.ProcessEnv,
    timeout: 240_000,
  });
}

const FILES = [".gitignore", "README.md", "agent.ts", "main.ts", "mock-model.ts", "package.json", "tasks.jsonl", "tickets.ts", "tsconfig.json"];

beforeAll(async () => {
  mkdirSync(base, { recursive: true });
  // The repository's settings (stricter than the project's own) and its paths from `tracetrain` to src/.
  // (The repository's excludes test/.tmp, where the projects are.)
  writeFileSync(checkConfig, JSON.stringify({ extends: "../../../tsconfig.json", include: ["*/*.ts"], exclude: [] }));
  const runs = await Promise.all(FRAMEWORK_NAMES.map((framework) => tracetrain(["init", join(base, framework), "--framework", framework])));
  for (const [i, run] of runs.entries()) expect(run, FRAMEWORK_NAMES[i]).toMatchObject({ code: 0 });
}, 240_000);

/**
 * What APO reads is the traces: every rollout of the run holds its one LLM call (once, whatever
 * layers saw it), with the system prompt the agent sent — captured with nothing in agent.ts but
 * the framework's own code.
 */
async function expectOneRecordedCallPerRollout(db: string, framework: string): Promise<void> {
  const store = new SqliteStore(db);
  try {
    const rollouts = (await store.queryRollouts({ limit: 1000 })).items;
    expect(rollouts.length, framework).toBeGreaterThan(40);
    for (const rollout of rollouts) {
      const spans = (await store.querySpans({ rolloutId: rollout.rolloutId, attemptId: "latest" })).items;
      const calls = spans.filter((span) => span.attributes["tracetrain.span.type"] === "llm");
      expect(calls, `${framework}: ${rollout.rolloutId}`).toHaveLength(1);
      expect(JSON.stringify(calls[0]!.attributes["gen_ai.input.messages"]), framework).toContain("You route customer support tickets");
    }
    if (framework === "openai-agents") expect((await store.querySpans({ rolloutId: rollouts[0]!.rolloutId, attemptId: "latest", name: "invoke_agent router" })).items).toHaveLength(1);
  } finally {
    await store.close();
  }
}

describe("tracetrain init", () => {
  it("writes the project and says what to do next", () => {
    const dir = join(base, "openai");
    expect(readdirSync(dir).sort()).toEqual(FILES);
    const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name: string; type: string; scripts: Record<string, string>; dependencies: Record<string, string> };
    const own = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string; peerDependencies: Record<string, string> };
    // Named after its folder, but never after a package it depends on (npm would refuse to install that).
    expect(manifest).toMatchObject({ name: "openai-project", type: "module", scripts: { start: "tsx main.ts" } });
    expect(JSON.parse(readFileSync(join(base, "langchain", "package.json"), "utf8"))).toMatchObject({ name: "langchain" });
    expect(manifest.dependencies).toEqual({ openai: own.peerDependencies.openai, tracetrain: `^${own.version}`, zod: expect.stringMatching(/^\^4\./) });
    expect(readFileSync(join(dir, "tasks.jsonl"), "utf8").trim().split("\n")).toHaveLength(24);
  });

  it("names each framework's packages with tracetrain's peer ranges", () => {
    const own = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { peerDependencies: Record<string, string> };
    const deps = (framework: string) => (JSON.parse(readFileSync(join(base, framework, "package.json"), "utf8")) as { dependencies: Record<string, string> }).dependencies;
    expect(deps("ai-sdk")).toMatchObject({ ai: own.peerDependencies.ai, "@ai-sdk/openai": ">=3.0.0 <5.0.0" });
    expect(deps("langchain")).toMatchObject({ "@langchain/core": own.peerDependencies["@langchain/core"], "@langchain/openai": "^1.0.0" });
    expect(deps("openai-agents")).toMatchObject({ "@openai/agents": own.peerDependencies["@openai/agents"], openai: own.peerDependencies.openai });
    expect(Object.keys(deps("plain")).sort()).toEqual(["openai", "tracetrain", "zod"]);
    // Each package the agent imports is one the project depends on.
    for (const framework of FRAMEWORK_NAMES) {
      const imported = [...readFileSync(join(base, framework, "agent.ts"), "utf8").matchAll(/^import .* from "([^.][^"]*)";$/gm)].map((m) => m[1]!);
      expect(imported.filter((pkg) => !(pkg in deps(framework))), framework).toEqual([]);
    }
  });

  it("writes projects that typecheck, every framework, under the repository's strict settings", async () => {
    const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
    const listed = await promisify(execFile)(process.execPath, [tsc, "--noEmit", "--listFilesOnly", "-p", checkConfig], { cwd: root, maxBuffer: 64 << 20 });
    // The check reads every project's files, not an empty selection.
    for (const framework of FRAMEWORK_NAMES) expect(listed.stdout, framework).toContain(join(base, framework, "agent.ts"));
    await expect(promisify(execFile)(process.execPath, [tsc, "--noEmit", "-p", checkConfig], { cwd: root, timeout: 300_000 })).resolves.toMatchObject({ stdout: "" });
  }, 360_000);

  it.each(FRAMEWORK_NAMES)("%s: npm start evaluates, optimizes and prints the before/after table offline, every call recorded", async (framework) => {
    const db = join(base, `${framework}.db`);
    const { stdout, stderr } = await start(join(base, framework), ["--store", `sqlite:${db}`]);
    expect(stderr).toContain("using the simulated models of mock-model.ts");
    await expectOneRecordedCallPerRollout(db, framework);
    // The same figures for every framework: one simulated model, and an order-independent run.
    expect(stdout).toMatch(/^ +accuracy on 8 held-out tickets$/m);
    expect(stdout).toMatch(/^before: seed prompt +0\.375$/m);
    expect(stdout).toMatch(/^after: APO's best prompt +0\.875 ± 0\.296$/m);
    expect(stdout).toMatch(/^gain \(paired\) +\+0\.500 ± 0\.447$/m);
    expect(stdout).toMatch(/^verdict: improved: /m);
    expect(stdout).toContain("  Anything about money (refunds, charges, payments, invoices) goes to billing");
  }, 300_000);

  it("calls the endpoint OPENAI_BASE_URL names, with its key and models, and starts no model of its own", async () => {
    const dir = join(base, "plain");
    const { startSimulatedModels } = (await import(join(dir, "mock-model.ts"))) as { startSimulatedModels: () => Promise<MockLlm> };
    const endpoint = await startSimulatedModels();
    try {
      const env = { OPENAI_BASE_URL: endpoint.baseUrl, OPENAI_API_KEY: "sk-test", OPENAI_MODEL: "simulated-support-model", OPTIMIZER_MODEL: "simulated-optimizer-model" };
      const { stdout, stderr } = await start(dir, ["--rounds", "1"], env);
      expect(stderr).not.toContain("using the simulated models");
      const chats = endpoint.requests.filter((r) => r.path === "/v1/chat/completions");
      const models = new Set(chats.map((r) => (r.body as { model?: unknown }).model));
      expect(models).toEqual(new Set(["simulated-support-model", "simulated-optimizer-model"]));
      expect(chats.every((r) => r.headers.authorization === "Bearer sk-test")).toBe(true);
      expect(stdout).toMatch(/^before: seed prompt +0\.375$/m);
    } finally {
      await endpoint.close();
    }
  }, 300_000);

  it("main.ts explains a bad flag with exit code 2", async () => {
    await expect(start(join(base, "plain"), ["--rounds", "0"])).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining("--rounds expects a whole number ≥ 1, got '0'") });
  }, 120_000);

  it("refuses an unknown framework, naming the known ones", async () => {
    const run = await tracetrain(["init", join(base, "unknown"), "--framework", "crewai"]);
    expect(run.code).toBe(2);
    expect(run.text).toContain("--framework: expected openai, ai-sdk, langchain, openai-agents or plain, got crewai");
    expect(existsSync(join(base, "unknown"))).toBe(false);
  });

  it("refuses a folder that is not empty, and writes into it with --force, leaving other files alone", async () => {
    const dir = join(base, "busy");
    mkdirSync(dir);
    writeFileSync(join(dir, "notes.txt"), "mine");
    writeFileSync(join(dir, "agent.ts"), "// an older agent");
    const refused = await tracetrain(["init", dir]);
    expect(refused.code).toBe(2);
    expect(refused.text).toContain(`tracetrain: ${dir} is not empty (agent.ts, notes.txt): name a new or empty folder, or add --force`);
    expect(refused.text).not.toMatch(/\n\s+at /); // no stack trace
    expect(readFileSync(join(dir, "agent.ts"), "utf8")).toBe("// an older agent");
    const forced = await tracetrain(["init", dir, "--force", "--framework", "plain"]);
    expect(forced.code).toBe(0);
    expect(readFileSync(join(dir, "notes.txt"), "utf8")).toBe("mine");
    expect(readFileSync(join(dir, "agent.ts"), "utf8")).toContain("fetch(url");
  });

  it("refuses a path that is a file, and a second folder name", async () => {
    const file = join(base, "a-file");
    writeFileSync(file, "x");
    const run = await tracetrain(["init", file]);
    expect(run.code).toBe(2);
    expect(run.text).toContain(`tracetrain: ${file} is a file, not a folder`);
    const under = await tracetrain(["init", join(file, "project")]);
    expect(under.code).toBe(2);
    expect(under.text).toContain(`cannot create the folder ${join(file, "project")}: a part of the path is not a directory`);
    const two = await tracetrain(["init", join(base, "one"), join(base, "two")]);
    expect(two.code).toBe(2);
    expect(two.text).toContain(`${join(base, "two")}: unexpected argument (see tracetrain init --help)`);
  });

  it("has its own --help", async () => {
    const run = await tracetrain(["init", "--help"]);
    expect(run.code).toBe(0);
    expect(run.text).toMatch(/^usage:\n {2}tracetrain init \[DIR\] \[--framework openai\|ai-sdk\|langchain\|openai-agents\|plain\] \[--force\]\n/);
  });
});
