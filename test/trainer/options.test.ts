/**
 * Trainer options are one zod schema: every bad value is a ValidationError naming its field (or
 * a path inside it), unknown keys are refused, and the documented values are accepted.
 */
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { Trainer, Tracer, TraceAdapter, agent, evaluate } from "tracetrain";
import { MemoryStore } from "tracetrain/store";
import { namesOnly, validationError } from "../support/validation.js";

describe("Trainer options", () => {
  const hostile: Array<[field: string, value: unknown]> = [
    ["algorithm", {}],
    ["algorithm", { name: "no-run" }],
    ["store", ""],
    ["store", 42],
    ["store", { enqueue() {} }],
    ["runners", -1],
    ["runners", 2.5],
    ["runners", 1001],
    ["runners", "8"],
    ["runners", { processes: 0 }],
    ["runners", { processes: 2, concurrency: 0 }],
    ["runners", { processes: 2, threads: 4 }],
    ["heartbeatIntervalMs", 0],
    ["initialResources", { system: { kind: "prompt_template" } }],
    ["initialResources", { main: { kind: "llm", baseUrl: "not a url", model: "m" } }],
    ["initialResources", { "bad name": { kind: "json", value: 1 } }],
    ["rolloutConfig", { maxAttempts: 0 }],
    ["rolloutConfig", { timeout: 5 }],
    ["adapter", {}],
    ["hooks", { onStart() {} }],
    ["tracer", {}],
    ["progress", "fancy"],
    ["progress", true],
    ["logger", {}],
    ["graceMs", -1],
    ["handleSignals", "yes"],
    ["instrument", "all"],
    ["instrument", ["openai"]],
  ];
  it.each(hostile)("rejects a bad %s (%j) with a ValidationError naming it", (field, value) => {
    const error = validationError(() => new Trainer({ [field]: value } as never));
    expect(namesOnly(error, field), JSON.stringify(error.issues)).toBe(true);
    expect(error.message).toMatch(new RegExp(`^invalid trainer options: ${field}[.\\[:]`));
  });

  it("rejects an unknown key (a runner option given to the trainer)", () => {
    const error = validationError(() => new Trainer({ concurrency: 4 } as never));
    expect(error.message).toMatch(/Unrecognized key: "concurrency"/);
  });

  it("names the nested field of a bad runners object", () => {
    expect(validationError(() => new Trainer({ runners: { processes: 0 } })).issues.map((i) => i.path)).toEqual(["runners.processes"]);
    expect(validationError(() => new Trainer({ runners: { processes: 2, concurrency: 0 } })).issues.map((i) => i.path)).toEqual(["runners.concurrency"]);
  });

  it("accepts every documented form", async () => {
    const store = new MemoryStore();
    try {
      const quiet = { debug() {}, info() {}, warn() {}, error() {} };
      const accepted = [
        {},
        { runners: 0 },
        { runners: 1000 },
        { runners: { processes: 2 } },
        { runners: { processes: 2, concurrency: 4 } },
        { store: "memory" },
        { store },
        { algorithm: evaluate() },
        { adapter: new TraceAdapter({ agents: ["writer"] }) },
        { tracer: new Tracer({ logger: quiet }), logger: quiet },
        { progress: false as const },
        { progress: "json" as const },
        { instrument: false },
        { instrument: { otel: true } },
        { graceMs: 0, handleSignals: false, heartbeatIntervalMs: 100 },
        { rolloutConfig: { timeoutMs: 1000, maxAttempts: 2 } },
        { initialResources: { system: { kind: "prompt_template" as const, template: "Hi {{name}}" } } },
        { hooks: { onRolloutEnd: () => {} } },
      ];
      for (const options of accepted) expect(() => new Trainer(options), Object.keys(options).join(", ")).not.toThrow();
    } finally {
      await store.close();
    }
  });

  it("uses the given store as it is, and opens a store URL on first use", async () => {
    const store = new MemoryStore();
    try {
      expect(await new Trainer({ store }).store()).toBe(store);
      const trainer = new Trainer({ store: "memory" });
      expect(await trainer.store()).toBeInstanceOf(MemoryStore);
      await trainer.close();
    } finally {
      await store.close();
    }
  });

  it("fails the run on a store that cannot open, and close() then has nothing to close", async () => {
    // A SQLite file under a regular file cannot be created: the error belongs to the call that opens the store.
    const trainer = new Trainer({ store: `sqlite:${fileURLToPath(import.meta.url)}/cannot/open.db` });
    const opened = trainer.evaluate(agent(async () => 1, { name: "one" }), [{}]);
    await expect(opened).rejects.toThrow();
    await expect(trainer.close()).resolves.toBeUndefined();
  });
});

describe("evaluate() options", () => {
  it("accepts a mode and names a bad one, or an unknown option", () => {
    expect(evaluate({ mode: "test" }).name).toBe("evaluate");
    expect(() => evaluate({ mode: "prod" as never })).toThrow(/invalid evaluate options: mode/);
    expect(() => evaluate({ mdoe: "val" } as never)).toThrow(/invalid evaluate options/);
  });
});
