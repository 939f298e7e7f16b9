/**
 * The whole RL loop learning for real: the demo's openai-SDK agent, the gateway, a SQLite store,
 * and the CPU reference backend — in-process, and over the HTTP protocol — plus resuming a run.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Attr } from "tracetrain/instrumentations";
import { HttpTrainingBackend, ReferenceBackend, serveTrainingBackend, type TrainingBackend } from "tracetrain/rl";
import { MemoryStore, SqliteStore } from "tracetrain/store";
import { RL, Trainer } from "tracetrain";
import { ACTIONS, makeTasks, treasureHunter } from "../../src/demo/treasure-boxes.js";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const dir = mkdtempSync(join(tmpdir(), "tracetrain-rl-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const train = makeTasks(64, 11, "train-");
const val = makeTasks(32, 12, "val-");

function trainer(backend: TrainingBackend, store: MemoryStore | SqliteStore, options: { steps: number; runId: string; evalEvery?: number }) {
  return new Trainer({
    store,
    runners: 32,
    progress: false,
    logger: quiet,
    handleSignals: false,
    algorithm: new RL({ backend, steps: options.steps, tasksPerStep: 8, groupSize: 8, evalEvery: options.evalEvery ?? options.steps, advantage: { scaleByStd: true }, runId: options.runId, seed: 3 }),
  });
}

describe("RL with the reference backend", () => {
  it("learns the treasure-boxes task from near chance in-process", async () => {
    const backend = await ReferenceBackend.start({ actions: [...ACTIONS], seed: 3 });
    const store = new SqliteStore(join(dir, "in-process.db"));
    const t = trainer(backend, store, { steps: 12, runId: "learn" });
    try {
      const { result } = await t.fit(treasureHunter, { train, val });
      expect(result.initialValReward).toBeLessThan(0.3);
      expect(result.finalValReward).toBeGreaterThanOrEqual(0.9);
      expect(result.policyVersion).toBeGreaterThanOrEqual(10);
      // Every step trained on exact tokens from the policy that was current when it sampled.
      for (const step of result.steps) {
        expect(step.textOnlyCalls).toBe(0);
        expect(step.staleness).toBe(0);
        // Both calls of a rollout merge into one sample: the tool call re-renders as the sampled tokens.
        expect(step.samplesPerRollout).toBe(1);
        expect(step.mergeRatio).toBe(1);
      }
      const spans = await store.querySpans({ rolloutId: "learn.s12.88.0", attemptId: "latest" });
      const calls = spans.items.filter((s) => s.attributes[Attr.layer] === "gateway");
      expect(calls).toHaveLength(2);
      for (const call of calls) {
        expect(call.attributes[Attr.policyVersion]).toBe(result.steps[11]!.policyVersion);
        expect(Array.isArray(call.attributes[Attr.responseTokenIds])).toBe(true);
      }
    } finally {
      await t.close();
      await store.close();
      await backend.close();
    }
  }, 180_000);

  it("learns the same over the HTTP protocol", async () => {
    const reference = await ReferenceBackend.start({ actions: [...ACTIONS], seed: 3 });
    const server = await serveTrainingBackend(reference, { port: 0, token: "secret" });
    const backend = new HttpTrainingBackend(server.url, { token: "secret" });
    const store = new MemoryStore();
    const t = trainer(backend, store, { steps: 12, runId: "http" });
    try {
      const { result } = await t.fit(treasureHunter, { train, val });
      expect(result.finalValReward).toBeGreaterThanOrEqual(0.9);
      expect(reference.policyVersion).toBe(result.policyVersion);
      expect(result.checkpoints.length).toBe(1);
    } finally {
      await t.close();
      await store.close();
      await server.close();
      await reference.close();
    }
  }, 180_000);

  it("splits a step the backend's body limit refuses (413) into chunks, one update per step, over HTTP", async () => {
    const reference = await ReferenceBackend.start({ actions: [...ACTIONS], seed: 3 });
    // A step's batch is well over 64 KiB; its quarters are not.
    const server = await serveTrainingBackend(reference, { port: 0, bodyLimitBytes: 64 * 1024, logger: quiet });
    const backend = new HttpTrainingBackend(server.url);
    const store = new MemoryStore();
    const t = trainer(backend, store, { steps: 3, runId: "chunked", evalEvery: 0 });
    try {
      const { result } = await t.fit(treasureHunter, { train, val });
      const trained = result.steps.filter((s) => s.skipped === undefined);
      expect(trained.length).toBeGreaterThan(0);
      for (const s of trained) expect(s.chunks).toBeGreaterThanOrEqual(2);
      // Each step, however many parts it came in, was one update.
      expect(reference.policyVersion).toBe(trained.length);
      expect(result.policyVersion).toBe(trained.length);
    } finally {
      await t.close();
      await store.close();
      await server.close();
      await reference.close();
    }
  }, 180_000);

  it("resumes a run: steps the backend has applied are not trained again, rollouts are not run again", async () => {
    const path = join(dir, "resume.db");
    const first = await ReferenceBackend.start({ actions: [...ACTIONS], seed: 3 });
    let store = new SqliteStore(path);
    let t = trainer(first, store, { steps: 4, runId: "resume", evalEvery: 4 });
    const before = (await t.fit(treasureHunter, { train, val })).result;
    await t.close();
    await store.close();
    const saved = first.state(before.checkpoints.at(-1)!.checkpoint_id);
    await first.close();

    // The process died after step 4; the backend comes back from its checkpoint.
    const second = await ReferenceBackend.start({ actions: [...ACTIONS], seed: 3, restore: saved });
    store = new SqliteStore(path);
    const rolloutsBefore = (await store.stats()).rollouts.total;
    t = trainer(second, store, { steps: 10, runId: "resume", evalEvery: 10 });
    try {
      const { result } = await t.fit(treasureHunter, { train, val });
      expect(result.steps.slice(0, 4).map((s) => s.skipped)).toEqual(["already applied", "already applied", "already applied", "already applied"]);
      // Later steps train (or skip when every group already agrees: no signal left).
      const trained = result.steps.slice(4).filter((s) => s.skipped === undefined).length;
      expect(result.steps.slice(4).every((s) => s.skipped !== "already applied")).toBe(true);
      expect(trained).toBeGreaterThan(0);
      expect(result.policyVersion).toBe(4 + trained);
      // Only steps 5–10 (with their refills of no-signal groups) and the final evaluation ran rollouts.
      const ran = result.steps.slice(4).reduce((sum, s) => sum + s.rollouts, 0);
      expect(result.steps.slice(4).every((s) => s.rollouts === 64 + s.refill.rollouts)).toBe(true);
      expect((await store.stats()).rollouts.total - rolloutsBefore).toBe(ran + val.length);
      expect(result.finalValReward).toBeGreaterThanOrEqual(0.9);
    } finally {
      await t.close();
      await store.close();
      await second.close();
    }
  }, 180_000);
});
