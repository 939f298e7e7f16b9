import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it, vi } from "vitest";
import { MemoryStore, SqliteStore } from "tracetrain/store";
import { Trainer, ValidationError, agent, emitMessage, evaluate, type Algorithm, type AgentContext } from "tracetrain";

const quiet = { debug() {}, info() {}, warn: vi.fn(), error: vi.fn() };
const dir = mkdtempSync(join(tmpdir(), "tracetrain-trainer-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Task {
  id: number;
  expected: string;
}
const tasks = (n: number): Task[] => Array.from({ length: n }, (_, id) => ({ id, expected: id % 3 === 0 ? "A" : "B" }));
const guesser = agent(
  async (task: Task, ctx: AgentContext) => {
    const guess = ctx.prompt().template.includes("always A") ? "A" : "B";
    emitMessage(`task ${task.id}: ${guess}`);
    await new Promise((r) => setImmediate(r));
    return guess === task.expected ? 1 : 0;
  },
  { name: "guesser", resources: ["system"] },
);

describe("Trainer", () => {
  for (const backend of ["memory", "sqlite"] as const) {
    it(`fit(evaluate) over 500 tasks with 64 runners (${backend}): one succeeded rollout per task, rewards right, nothing left queued`, async () => {
      const store = backend === "memory" ? new MemoryStore() : new SqliteStore(join(dir, `fit-${backend}.db`));
      const trainer = new Trainer({
        store,
        runners: 64,
        progress: false,
        logger: quiet,
        initialResources: { system: { kind: "prompt_template", template: "Guess: always B" } },
      });
      const data = tasks(500);
      const fit = await trainer.fit(guesser, { train: [], val: data });
      expect(fit.algorithm).toBe("evaluate");
      expect(fit.interrupted).toBe(false);
      const result = fit.result as Awaited<ReturnType<ReturnType<typeof evaluate>["run"]>>;
      expect(result.succeeded).toBe(500);
      expect(result.tasks.map((t) => t.reward)).toEqual(data.map((t) => (t.expected === "B" ? 1 : 0)));
      expect(result.meanReward).toBeCloseTo(data.filter((t) => t.expected === "B").length / 500, 10);
      const stats = await store.stats();
      expect(stats.rollouts).toMatchObject({ total: 500, succeeded: 500, queuing: 0, running: 0, requeuing: 0 });
      expect(stats.attempts).toEqual({ total: 500, active: 0 });
      expect(stats.spans).toBe(500 * 3); // message + reward + root per rollout
      await store.close();
    });
  }

  it("evaluate() scores the agent with the initial resources, in test mode", async () => {
    const store = new MemoryStore();
    const trainer = new Trainer({ store, progress: false, logger: quiet, initialResources: { system: { kind: "prompt_template", template: "always A" } } });
    const result = await trainer.evaluate(guesser, tasks(9));
    expect(result.tasks.map((t) => t.reward)).toEqual([1, 0, 0, 1, 0, 0, 1, 0, 0]);
    expect(result).toMatchObject({ succeeded: 9, failed: 0, meanReward: 3 / 9 });
    const page = await store.queryRollouts({ mode: ["test"] });
    expect(page.items).toHaveLength(9);
    await store.close();
  });

  it("runs a custom algorithm that publishes resources between rounds", async () => {
    const store = new MemoryStore();
    const improve: Algorithm<string> = {
      name: "two-rounds",
      async run(ctx) {
        let best = "";
        for (const template of ["always B", "always A"]) {
          const snapshot = await ctx.store.addResources({ system: { kind: "prompt_template", template } });
          const rollouts = await ctx.store.enqueueMany(ctx.train.map((input) => ({ input, resourcesId: snapshot.resourcesId })));
          const ended = await ctx.store.waitForRollouts(rollouts.map((r) => r.rolloutId));
          const mean = ended.reduce((s, r) => s + (r.finalReward ?? 0), 0) / ended.length;
          ctx.progress.note(`${template}: ${mean}`);
          if (mean > 0.5) best = template;
        }
        return best;
      },
    };
    const trainer = new Trainer({ store, algorithm: improve, progress: false, logger: quiet, initialResources: { system: { kind: "prompt_template", template: "start" } } });
    const fit = await trainer.fit(guesser, { train: tasks(6).map((t) => ({ ...t, expected: "A" })) });
    expect(fit.result).toBe("always A");
    expect(fit.resources?.resources.system).toMatchObject({ template: "always A" });
    await store.close();
  });

  it("dev() runs a few rollouts and prints their span trees", async () => {
    const store = new MemoryStore();
    const write = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const trainer = new Trainer({ store, logger: quiet, initialResources: { system: { kind: "prompt_template", template: "always A" } } });
    const runs = await trainer.dev(guesser, tasks(2));
    const printed = write.mock.calls.map((c) => String(c[0])).join("");
    write.mockRestore();
    expect(runs.map((r) => r.rollout.finalReward)).toEqual([1, 0]);
    expect(runs[0]!.spans.map((s) => s.name).sort()).toEqual(["tracetrain.message", "tracetrain.reward", "tracetrain.rollout"]);
    expect(printed).toMatch(/tracetrain\.rollout \[rollout\/tracer\]/);
    expect(printed).toMatch(/tracetrain\.reward \[reward\/emitter\] .* reward=1/);
    expect(printed).toMatch(/recorded no LLM call/);
    await store.close();
  });

  it("rejects bad input before any rollout runs", async () => {
    const store = new MemoryStore();
    const trainer = new Trainer({ store, progress: false, logger: quiet, initialResources: { system: { kind: "prompt_template", template: "x" } } });
    await expect(trainer.fit(guesser, { train: [], val: [] })).rejects.toThrow(/both train and val are empty/);
    await expect(trainer.fit((async () => 1) as never, { train: tasks(1) })).rejects.toThrow(/expected an agent made with agent\(fn\)/);
    await expect(trainer.fit(guesser, { train: [{ id: 1, expected: "A", when: new Date() } as never] })).rejects.toThrow(/train\[0\]\.when: task is not JSON-serialisable/);
    await expect(trainer.fit(guesser, { train: "tasks" as never })).rejects.toThrow(ValidationError);
    // The held-out split is checked like the others.
    await expect(trainer.fit(guesser, { train: tasks(1), test: [{ id: 2, expected: "B", when: new Date() } as never] })).rejects.toThrow(/test\[0\]\.when: task is not JSON-serialisable/);
    await expect(trainer.fit(guesser, { train: tasks(1), test: "tasks" as never })).rejects.toThrow(/test: expected an array of tasks/);
    const noResources = new Trainer({ store, progress: false, logger: quiet });
    await expect(noResources.evaluate(guesser, tasks(1))).rejects.toThrow(/agent 'guesser' needs resource 'system', which initialResources does not define/);
    expect(() => new Trainer({ runners: -1 })).toThrow(/runners/);
    expect(() => new Trainer({ runners: 2.5 })).toThrow(/runners/);
    expect((await store.stats()).rollouts.total).toBe(0);
    await store.close();
  });

  it("stops cleanly on SIGINT within the grace period, leaving no attempt running", async () => {
    const path = join(dir, "sigint.db");
    const fixture = fileURLToPath(new URL("./fixtures/slow-fit.ts", import.meta.url));
    const child = spawn(process.execPath, ["--import", "tsx", fixture, path], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr.on("data", (c: Buffer) => (output += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
    // Waits on the child's output, not a clock: a busy machine only makes this slower.
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", () => /started/.test(output) && resolve());
      void exited.then(() => reject(new Error(`the fit exited before an agent started:\n${output}`)));
    });
    child.kill("SIGINT");
    // The agents would run for 10 minutes: the exit proves they were stopped.
    const code = await exited;
    expect(code, output).toBe(0);
    expect(output).toMatch(/SIGINT: stopping/);
    expect(output).toMatch(/interrupted: true/);
    const store = new SqliteStore(path, { watchdogIntervalMs: false });
    const stats = await store.stats();
    expect(stats.attempts.active).toBe(0);
    expect(stats.rollouts.running + stats.rollouts.queuing + stats.rollouts.requeuing).toBe(0);
    expect(stats.rollouts.cancelled).toBeGreaterThan(0);
    await store.close();
  }, 120_000);
});
