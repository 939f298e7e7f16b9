/**
 * Runner and runner-process options are zod schemas: every bad value is a ValidationError that
 * names its field, unknown keys are refused, and defaults come from the schema.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { Runner, Tracer, agent } from "tracetrain";
import { MemoryStore } from "tracetrain/store";
import { runWorker } from "../../src/runner/index.js";
import { namesOnly, rejectedWith, validationError } from "../support/validation.js";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const stores: MemoryStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
});
function newStore(): MemoryStore {
  const store = new MemoryStore();
  stores.push(store);
  return store;
}
const scorer = agent(async () => 1, { name: "scorer" });

describe("Runner options", () => {
  const hostile: Array<[field: string, value: unknown]> = [
    ["store", {}],
    ["store", "memory"],
    ["agent", async () => 1],
    ["tracer", { capture: () => {} }],
    ["concurrency", -1],
    ["concurrency", 0],
    ["concurrency", 2.5],
    ["concurrency", 1001],
    ["workerId", "has spaces"],
    ["workerId", ""],
    ["heartbeatIntervalMs", 0],
    ["heartbeatIntervalMs", 2 ** 31],
    ["pollWaitMs", Number.NaN],
    ["pollWaitMs", 600_001],
    ["hooks", "onRolloutEnd"],
    ["logger", console.log],
    ["logger", { warn() {}, error() {} }],
    ["llmKey", "sk-secret"],
  ];
  it.each(hostile)("rejects a bad %s (%s) with a ValidationError naming it", (field, value) => {
    const error = validationError(() => new Runner({ store: newStore(), agent: scorer, logger: quiet, [field]: value } as never));
    expect(namesOnly(error, field), JSON.stringify(error.issues)).toBe(true);
    expect(error.message).toMatch(new RegExp(`^invalid runner options: ${field}: `));
  });

  it("rejects an unknown key, a misspelt hook and a hook that is not a function", () => {
    const unknown = validationError(() => new Runner({ store: newStore(), agent: scorer, concurency: 4 } as never));
    expect(unknown.message).toMatch(/concurency/);
    const misspelt = validationError(() => new Runner({ store: newStore(), agent: scorer, hooks: { onRolloutEnded: () => {} } } as never));
    expect(misspelt.issues).toEqual([{ path: "hooks.onRolloutEnded", message: "unknown hook; expected onRolloutStart, onTraceEnd, onRolloutEnd" }]);
    const notAFunction = validationError(() => new Runner({ store: newStore(), agent: scorer, hooks: { onRolloutEnd: 1 } } as never));
    expect(notAFunction.issues.map((i) => i.path)).toEqual(["hooks.onRolloutEnd"]);
  });

  it("rejects a missing store or agent, and no options at all", () => {
    expect(validationError(() => new Runner({ agent: scorer } as never)).issues.map((i) => i.path)).toEqual(["store"]);
    expect(validationError(() => new Runner({ store: newStore() } as never)).issues.map((i) => i.path)).toEqual(["agent"]);
    expect(validationError(() => new Runner(undefined as never)).message).toMatch(/^invalid runner options/);
  });

  it("keeps hooks that live on a class's prototype, and calls them", async () => {
    class Counter {
      ended = 0;
      onRolloutEnd(): void {
        this.ended++;
      }
    }
    const hooks = new Counter();
    const store = newStore();
    const runner = new Runner({ store, agent: scorer, hooks, logger: quiet, tracer: new Tracer({ logger: quiet }) });
    await runner.step(1);
    expect(hooks.ended).toBe(1);
  });

  it("fills the documented defaults", () => {
    const runner = new Runner({ store: newStore(), agent: scorer });
    expect(runner.workerId).toMatch(/^runner-.+-\d+-[a-z0-9]+$/);
  });
});

describe("agent options", () => {
  const hostile: Array<[field: string, value: unknown]> = [
    ["name", ""],
    ["name", 7],
    ["resources", "system"],
    ["resources", ["has space"]],
    ["module", ""],
    ["module", 42],
  ];
  it.each(hostile)("rejects a bad %s (%j) with a ValidationError naming it", (field, value) => {
    const error = validationError(() => agent(async () => 1, { [field]: value } as never));
    expect(namesOnly(error, field), JSON.stringify(error.issues)).toBe(true);
    expect(error.message).toMatch(/^invalid agent options: /);
  });

  it("rejects an unknown key, and keeps what it is given", () => {
    expect(() => agent(async () => 1, { nme: "x" } as never)).toThrow(/Unrecognized key: "nme"/);
    const named = agent(async () => 1, { name: "writer", resources: ["system"], module: new URL("file:///agents/writer.js") });
    expect([named.name, named.requiredResources, named.module]).toEqual(["writer", ["system"], "file:///agents/writer.js"]);
    expect(agent(async function solver() {}).name).toBe("solver");
  });
});

describe("runner process options (runWorker, tracetrain runner)", () => {
  const base = { storeUrl: "http://127.0.0.1:9", agentModule: "./agent.ts", logger: quiet };
  const hostile: Array<[field: string, value: unknown]> = [
    ["storeUrl", "ftp://example.com"],
    ["storeUrl", "not a url"],
    ["agentModule", ""],
    ["agentName", ""],
    ["token", ""],
    ["concurrency", 0],
    ["heartbeatIntervalMs", -5],
    ["graceMs", -1],
    ["workerId", "a/b"],
    ["onReady", "yes"],
  ];
  it.each(hostile)("rejects a bad %s (%s) before importing the agent", async (field, value) => {
    const error = await rejectedWith(runWorker({ ...base, [field]: value } as never));
    expect(namesOnly(error, field), JSON.stringify(error.issues)).toBe(true);
    expect(error.message).toMatch(/^invalid worker options: /);
  });

  it("rejects an unknown key", async () => {
    const error = await rejectedWith(runWorker({ ...base, agent: "./agent.ts" } as never));
    expect(error.message).toMatch(/agent/);
  });

  it("a worker process started without its environment fails with a ValidationError naming the variable", async () => {
    const entry = fileURLToPath(new URL("../../src/runner/worker-main.ts", import.meta.url));
    const { TRACETRAIN_STORE_URL: _url, TRACETRAIN_AGENT_MODULE: _module, ...env } = process.env;
    const failed = await promisify(execFile)(process.execPath, ["--import", "tsx", entry], { env }).then(
      () => undefined,
      (error: { code?: number; stderr?: string }) => error,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toMatch(/ValidationError: invalid worker environment: TRACETRAIN_STORE_URL: required/);
  });

  it("a worker process given a bad number in its environment names the option", async () => {
    const entry = fileURLToPath(new URL("../../src/runner/worker-main.ts", import.meta.url));
    const env = { ...process.env, TRACETRAIN_STORE_URL: "http://127.0.0.1:9", TRACETRAIN_AGENT_MODULE: "./nowhere.ts", TRACETRAIN_CONCURRENCY: "many" };
    const failed = await promisify(execFile)(process.execPath, ["--import", "tsx", entry], { env }).then(
      () => undefined,
      (error: { code?: number; stderr?: string }) => error,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toMatch(/invalid worker options: concurrency: /);
  });
});
