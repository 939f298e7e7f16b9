import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { ConflictError, MissingDependencyError, NotFoundError, ValidationError, createStore } from "tracetrain";
import { MemoryStore, type SqliteDriverName, SqliteStore } from "tracetrain/store";
import * as vitest from "vitest";
import { describeStoreConformance } from "tracetrain/testing";
import { withoutSqliteExperimentalWarning } from "../../src/store/sqlite/node-sqlite-driver.js";
import { openSqliteDriver } from "../../src/store/sqlite/open-driver.js";
import { SCHEMA_VERSION, migrate, schemaVersion } from "../../src/store/sqlite/schema.js";
import { expectCode, makeSpan, usableSqliteDrivers } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "tracetrain-sqlite-"));
let n = 0;
const freshPath = () => join(dir, `store-${++n}.db`);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const drivers = usableSqliteDrivers();
const [major, minor] = process.versions.node.split(".").map(Number) as [number, number];

describe("SQLite drivers", () => {
  it("has node:sqlite exactly where Node has a usable one (22.16 and later, 24) and better-sqlite3 on Node 20", () => {
    if (major >= 24 || (major === 22 && minor >= 16)) expect(drivers).toContain("node:sqlite");
    if (major === 20) expect(drivers).toEqual(["better-sqlite3"]);
  });

  it("picks node:sqlite by default where it is usable, else better-sqlite3", async () => {
    const store = new SqliteStore(":memory:", { watchdogIntervalMs: false });
    expect(store.driver).toBe(drivers.includes("node:sqlite") ? "node:sqlite" : "better-sqlite3");
    await store.close();
  });

  it("refuses a driver this Node cannot run with a typed error that says what to do", () => {
    const missing = (["node:sqlite", "better-sqlite3"] as const).filter((driver) => !drivers.includes(driver));
    for (const driver of missing) {
      let error: unknown;
      try {
        new SqliteStore(freshPath(), { driver, watchdogIntervalMs: false });
      } catch (caught) {
        error = caught;
      }
      if (driver === "node:sqlite") {
        expect(error).toBeInstanceOf(ValidationError);
        expect((error as ValidationError).issues[0]).toMatchObject({ path: "driver", message: expect.stringContaining("Node 22.16 or later") });
      } else {
        expect(error).toBeInstanceOf(MissingDependencyError);
        expect((error as MissingDependencyError).message).toContain("npm install better-sqlite3");
      }
    }
  });

  it("drops Node's SQLite ExperimentalWarning while loading node:sqlite, and no other warning", async () => {
    const heard: string[] = [];
    const listener = (warning: Error) => heard.push(`${warning.name}: ${warning.message}`);
    process.on("warning", listener);
    const emitWarning = process.emitWarning;
    try {
      expect(() =>
        withoutSqliteExperimentalWarning(() => {
          process.emitWarning("SQLite is an experimental feature and might change at any time", "ExperimentalWarning");
          process.emitWarning(Object.assign(new Error("SQLite is an experimental feature and might change at any time"), { name: "ExperimentalWarning" }));
          process.emitWarning("SQLite is an experimental feature, says a library", { type: "DeprecationWarning" });
          process.emitWarning("another feature is experimental", "ExperimentalWarning");
          throw new Error("the load failed");
        }),
      ).toThrow("the load failed");
      expect(process.emitWarning).toBe(emitWarning);
      process.emitWarning("SQLite is an experimental feature, said after the load", "ExperimentalWarning");
      // Warnings are delivered on a later tick.
      await new Promise((resolve) => setImmediate(resolve));
      expect(heard).toEqual([
        "DeprecationWarning: SQLite is an experimental feature, says a library",
        "ExperimentalWarning: another feature is experimental",
        "ExperimentalWarning: SQLite is an experimental feature, said after the load",
      ]);
    } finally {
      process.off("warning", listener);
    }
  });

  it("opens the default driver without printing Node's SQLite ExperimentalWarning, and lets other warnings through", () => {
    // Meaningful where Node prints that warning (Node 22, early 24); elsewhere it shows nothing breaks.
    const fixture = fileURLToPath(new URL("./fixtures/sqlite-warning.ts", import.meta.url));
    const child = spawnSync(process.execPath, ["--import", "tsx", fixture], { encoding: "utf8", timeout: 60_000 });
    expect(child.status, child.stderr).toBe(0);
    expect(JSON.parse(child.stdout)).toEqual({ driver: drivers.includes("node:sqlite") ? "node:sqlite" : "better-sqlite3", restored: true });
    expect(child.stderr).not.toContain("SQLite is an experimental feature");
    expect(child.stderr).toContain("ExperimentalWarning: a warning of the application's own");
  });

  it.skipIf(drivers.length < 2)("opens a file written by the other driver", async () => {
    const path = freshPath();
    const [first, second] = drivers as [SqliteDriverName, SqliteDriverName];
    const writer = new SqliteStore(path, { driver: first, watchdogIntervalMs: false });
    const rollout = await writer.enqueue({ input: { written: first } });
    await writer.close();
    const reader = new SqliteStore(path, { driver: second, watchdogIntervalMs: false });
    expect(await reader.getRollout(rollout.rolloutId)).toEqual(rollout);
    await reader.close();
  });
});

for (const driver of drivers) {
describeStoreConformance(`SqliteStore (${driver})`, {
  open: async (options) => new SqliteStore(freshPath(), { ...options, driver }),
}, vitest);

describe(`SqliteStore durability (${driver})`, () => {
  it("reopens a file with everything from the previous session", async () => {
    const path = freshPath();
    const first = new SqliteStore(path, { watchdogIntervalMs: false, driver });
    const resources = await first.addResources({ p: { kind: "prompt_template", template: "hi {{x}}" } });
    const [retried, waiting] = await first.enqueueMany([{ input: "retried", config: { maxAttempts: 2 } }, { input: "waits" }]);
    const [claimed] = await first.dequeue({ workerId: "w1" });
    expect(claimed!.rollout.rolloutId).toBe(retried!.rolloutId);
    await first.addSpans([makeSpan(claimed!), makeSpan(claimed!)]);
    await first.completeAttempt(retried!.rolloutId, claimed!.attempt.attemptId, {
      status: "failed",
      error: { kind: "infra_error", message: "x" },
    });
    const before = await first.queryRollouts();
    await first.close();

    const second = new SqliteStore(path, { watchdogIntervalMs: false, driver });
    expect(await second.queryRollouts()).toEqual(before);
    expect(await second.getResources("latest")).toEqual(resources);
    expect((await second.querySpans({ rolloutId: retried!.rolloutId })).items).toHaveLength(2);
    // The queue survives too, in order: the retried rollout waits behind the one that was already waiting.
    const next = await second.dequeue({ limit: 5 });
    expect(next.map((c) => c.rollout.rolloutId)).toEqual([waiting!.rolloutId, retried!.rolloutId]);
    expect(next[1]!.attempt.sequence).toBe(2);
    expect((await second.workers()).map((w) => w.workerId)).toEqual(["w1"]);
    await second.close();
  });

  it("keeps every acknowledged call after the writing process is killed with SIGKILL", async () => {
    const path = freshPath();
    const fixture = fileURLToPath(new URL("./fixtures/sqlite-writer.ts", import.meta.url));
    const child = spawn(process.execPath, ["--import", "tsx", fixture, path, driver], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const acked = { enqueued: new Set<string>(), spans: new Map<string, string>(), completed: new Set<string>() };
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_code, signal) => resolve(signal)));
    for await (const line of createInterface({ input: child.stdout })) {
      const [what, rolloutId, attemptId] = line.split(" ");
      if (what === "enqueued") acked.enqueued.add(rolloutId!);
      if (what === "spans") acked.spans.set(rolloutId!, attemptId!);
      if (what === "completed") acked.completed.add(rolloutId!);
      // Kill it in the middle of its work, not at a quiet moment.
      if (acked.completed.size === 150 && !child.killed) child.kill("SIGKILL");
    }
    expect(await exited, stderr).toBe("SIGKILL");
    expect(acked.completed.size).toBeGreaterThanOrEqual(150);

    const store = new SqliteStore(path, { watchdogIntervalMs: false, driver });
    for (const rolloutId of acked.enqueued) {
      const rollout = await store.getRollout(rolloutId);
      expect(rollout.input).toEqual({ i: Number(rolloutId.split("-")[1]) });
      if (acked.completed.has(rolloutId)) expect(rollout).toMatchObject({ status: "succeeded", finalReward: Number(rolloutId.split("-")[1]) });
      expect(rollout.attempts.length).toBeLessThanOrEqual(1);
    }
    for (const [rolloutId, attemptId] of acked.spans) {
      const spans = await store.querySpans({ rolloutId, attemptId });
      expect(spans.items.map((s) => s.sequence)).toEqual([1, 2, 3]);
    }
    const stats = await store.stats();
    // Nothing was duplicated: at most one unacknowledged rollout beyond the acknowledged ones.
    expect(stats.rollouts.total - acked.enqueued.size).toBeLessThanOrEqual(1);
    expect(stats.spans - acked.spans.size * 3).toBeLessThanOrEqual(3);
    await store.close();
  }, 180_000);

  it("with mustExist, opens only an existing store: a missing, empty or foreign file is a NotFoundError and stays untouched", async () => {
    const missing = join(freshPath(), "..", "not-here", "x.db");
    const error = await expectCode(Promise.resolve().then(() => new SqliteStore(missing, { mustExist: true, driver })), NotFoundError);
    expect(error).toMatchObject({ entity: "store", id: missing, message: `no store at ${missing}: the file does not exist` });
    expect(existsSync(join(missing, ".."))).toBe(false);

    const empty = freshPath();
    writeFileSync(empty, "");
    expect(() => new SqliteStore(empty, { mustExist: true, driver })).toThrow(`no store at ${empty}: the file holds no tracetrain store`);
    expect(readFileSync(empty).length).toBe(0);
    const text = freshPath();
    writeFileSync(text, "id,question\n1,what?\n");
    expect(() => new SqliteStore(text, { mustExist: true, driver })).toThrow(/no store at .*: not a SQLite database/);
    expect(readFileSync(text, "utf8")).toBe("id,question\n1,what?\n");

    const path = freshPath();
    const writer = new SqliteStore(path, { watchdogIntervalMs: false, driver });
    const rollout = await writer.enqueue({ input: "kept" });
    await writer.close();
    const reader = createStore(`sqlite:${path}`, { mustExist: true, watchdogIntervalMs: false, driver });
    expect((await reader.getRollout(rollout.rolloutId)).input).toBe("kept");
    await reader.close();
  });

  it("refuses a database written by a newer schema", async () => {
    const path = freshPath();
    await new SqliteStore(path, { watchdogIntervalMs: false, driver }).close();
    const db = openSqliteDriver(path, driver);
    db.exec("PRAGMA user_version = 999");
    db.close();
    expect(() => new SqliteStore(path, { watchdogIntervalMs: false, driver })).toThrow(ConflictError);
  });

  it("upgrades a version-1 file: its rollouts stay and the listing indexes appear", async () => {
    const path = freshPath();
    const writer = new SqliteStore(path, { watchdogIntervalMs: false, driver });
    await writer.enqueueMany([{ input: "alpha" }, { input: "beta" }]);
    await writer.close();
    // Put the file back exactly as schema 1 left it.
    const db = openSqliteDriver(path, driver);
    db.exec(`DROP INDEX rollouts_duration; DROP INDEX rollouts_status_created; DROP INDEX rollouts_mode_created;
             CREATE INDEX rollouts_status ON rollouts (status); DROP TABLE run_entries; DROP TABLE runs; PRAGMA user_version = 1`);
    db.close();
    const upgraded = new SqliteStore(path, { watchdogIntervalMs: false, driver });
    expect((await upgraded.queryRollouts({ sortBy: "duration", text: "BETA" })).items.map((r) => r.input)).toEqual(["beta"]);
    await upgraded.close();
    const check = openSqliteDriver(path, driver);
    const indexes = (check.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'rollouts' AND sql IS NOT NULL").all() as Array<{ name: string }>).map((r) => r.name);
    const version = (check.prepare("PRAGMA user_version").get() as { user_version: number }).user_version;
    check.close();
    expect(version).toBe(SCHEMA_VERSION);
    expect(indexes).toEqual(expect.arrayContaining(["rollouts_duration", "rollouts_status_created", "rollouts_mode_created"]));
    expect(indexes).not.toContain("rollouts_status");
  });

  it("upgrades a version-2 file in place: its rollouts and snapshots stay, and runs can be recorded", async () => {
    const path = freshPath();
    // The file tracetrain wrote before training runs existed (released migrations never change).
    const old = openSqliteDriver(path, driver);
    migrate(old, 2);
    old.exec(`INSERT INTO rollouts (rollout_id, input, mode, resources_id, status, config, metadata, created_at, ended_at, final_reward, queue_pos)
              VALUES ('ro-old', '"kept"', 'train', 'rs-1', 'queuing', '{"maxAttempts":1,"retryOn":[]}', '{}', 1000, NULL, NULL, 1);
              INSERT INTO resources (version, resources_id, created_at, resources) VALUES (1, 'rs-1', 900, '{"prompt":{"kind":"json","value":1}}'),
                                                                                       (2, 'rs-2', 950, '{"prompt":{"kind":"json","value":2}}');`);
    expect(schemaVersion(old)).toBe(2);
    old.close();

    const upgraded = new SqliteStore(path, { watchdogIntervalMs: false, driver });
    expect((await upgraded.getRollout("ro-old")).input).toBe("kept");
    expect((await upgraded.queryResources()).items.map((s) => [s.resourcesId, s.version])).toEqual([["rs-2", 2], ["rs-1", 1]]);
    await upgraded.recordRun({ runId: "run-1", algorithm: "rl" });
    expect(await upgraded.addRunEntries("run-1", [{ kind: "rl.step", key: "step-1", data: { step: 1 } }])).toEqual({ added: 1, duplicates: 0 });
    await upgraded.close();

    const reopened = new SqliteStore(path, { watchdogIntervalMs: false, driver, mustExist: true });
    expect(await reopened.getRun("run-1")).toMatchObject({ algorithm: "rl", entries: 1 });
    expect((await reopened.queryRunEntries({ runId: "run-1" })).items).toMatchObject([{ sequence: 1, key: "step-1", data: { step: 1 } }]);
    await reopened.close();
    const check = openSqliteDriver(path, driver);
    expect(schemaVersion(check)).toBe(SCHEMA_VERSION);
    check.close();
  });
});
}

describe("createStore", () => {
  it("opens memory and sqlite stores from a string", async () => {
    const memory = createStore("memory", { watchdogIntervalMs: false });
    expect(memory).toBeInstanceOf(MemoryStore);
    const file = createStore(`sqlite:${join(dir, "nested", "deeper", "created.db")}`, { watchdogIntervalMs: false });
    expect(file).toBeInstanceOf(SqliteStore);
    await file.enqueue({ input: 1 });
    const inMemory = createStore("sqlite::memory:", { watchdogIntervalMs: false });
    expect((await inMemory.stats()).rollouts.total).toBe(0);
    await Promise.all([memory.close(), file.close(), inMemory.close()]);
  });

  it("explains what it expected for an unknown store string", async () => {
    for (const spec of ["", "sqlite:", "redis://x", "mem", "postgres:x", "mysql://u:pw@h/db"]) {
      const error = await expectCode(Promise.resolve().then(() => createStore(spec)), ValidationError);
      expect(error.message).toMatch(/expected "memory", "sqlite:PATH", "postgres:\/\/…" or "http\(s\):\/\/…"|path is empty/);
      expect(error.message, "a password in a mistyped URL is masked").not.toContain(":pw@");
    }
  });
});
