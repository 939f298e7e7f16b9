import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { MemoryStore, SqliteStore } from "tracetrain/store";
import { Trainer, type EvaluationResult } from "tracetrain";
import { gated, noModule, sleeper } from "./fixtures/worker-agent.js";

const quiet = { debug() {}, info() {}, warn: vi.fn(), error: vi.fn() };
const dir = mkdtempSync(join(tmpdir(), "tracetrain-processes-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("Trainer with worker processes", () => {
  it("runs every rollout once across 2 worker processes", async () => {
    const store = new MemoryStore();
    const trainer = new Trainer({ store, runners: { processes: 2, concurrency: 8 }, progress: false, logger: quiet, handleSignals: false });
    const fit = await trainer.fit(sleeper, { train: Array.from({ length: 120 }, (_, i) => i) });
    const result = fit.result as EvaluationResult;
    expect(result.succeeded).toBe(120);
    expect(result.tasks.map((t) => t.reward)).toEqual(Array.from({ length: 120 }, (_, i) => i % 2));
    const rollouts = await store.queryRollouts({ limit: 1000 });
    expect(rollouts.items.every((r) => r.attempts.length === 1)).toBe(true);
    const workers = new Set(rollouts.items.map((r) => r.attempts[0]!.workerId));
    expect(workers.size).toBe(2); // both processes did work
    const spans = await store.querySpans({ rolloutId: rollouts.items[0]!.rolloutId });
    expect(spans.items.find((s) => s.name === "tracetrain.message")!.attributes["tracetrain.message.body"]).toMatch(/^task \d+ on pid \d+$/);
    await store.close();
  }, 180_000);

  it("retries the rollouts of a worker killed with SIGKILL on the other one, and finishes", async () => {
    const store = new SqliteStore(join(dir, "killed.db"));
    const trainer = new Trainer({
      store,
      runners: { processes: 2, concurrency: 4 },
      heartbeatIntervalMs: 100,
      rolloutConfig: { heartbeatTimeoutMs: 800, maxAttempts: 3, retryOn: ["infra_error", "unresponsive"] },
      progress: false,
      logger: quiet,
      handleSignals: false,
    });
    // Tasks from 20 on wait for the gate: the worker killed below certainly holds attempts then,
    // however fast or slow this machine ran the first 20.
    const gate = join(dir, "gate");
    process.env.TRACETRAIN_TEST_GATE = gate;
    const fitting = trainer.fit(gated, { train: Array.from({ length: 160 }, (_, i) => i) });
    let victim = 0;
    await vi.waitFor(
      async () => {
        const workers = await store.workers();
        const busy = workers.filter((w) => w.activeAttempts === 4 && typeof w.stats?.pid === "number");
        expect(busy.length).toBe(2);
        expect((await store.stats()).rollouts.succeeded).toBe(20);
        victim = busy[0]!.stats!.pid as number;
      },
      { timeout: 60_000, interval: 50 },
    );
    process.kill(victim, "SIGKILL");
    writeFileSync(gate, "open");
    const fit = await fitting;
    const result = fit.result as EvaluationResult;
    expect(result.succeeded).toBe(160);
    expect(result.tasks.map((t) => t.reward)).toEqual(Array.from({ length: 160 }, (_, i) => i % 2));
    const all = await store.queryRollouts({ limit: 1000 });
    const retried = all.items.filter((r) => r.attempts.length > 1);
    expect(retried.length).toBeGreaterThan(0);
    for (const rollout of retried) {
      expect(rollout.attempts[0]!.status).toBe("unresponsive");
      expect(rollout.attempts.at(-1)!.status).toBe("succeeded");
    }
    const stats = await store.stats();
    expect(stats.rollouts).toMatchObject({ total: 160, succeeded: 160 });
    expect(stats.attempts.active).toBe(0);
    expect(quiet.warn.mock.calls.map((c) => String(c[0])).join("\n")).toMatch(/exited \(SIGKILL\)/);
    delete process.env.TRACETRAIN_TEST_GATE;
    await store.close();
  }, 90_000);

  it("explains that worker processes need the agent's module", async () => {
    const trainer = new Trainer({ store: new MemoryStore(), runners: { processes: 1 }, progress: false, logger: quiet, handleSignals: false });
    await expect(trainer.fit(noModule, { train: [1] })).rejects.toThrow(/declare its module — agent\(fn, \{ name: "no-module", module: import\.meta\.url \}\)/);
    expect(() => new Trainer({ runners: { processes: 0 } })).toThrow(/runners\.processes/);
  });
});
