/**
 * PostgresStore against a real PostgreSQL server: the shared conformance suite, then what only a
 * database shared by several processes can show — two stores ("replicas") on one schema racing
 * for work, waking each other, and surviving a lost connection.
 *
 * Needs DATABASE_URL (e.g. `eval "$(scripts/test-postgres.sh)"`). Every store gets a fresh random
 * schema, dropped at the end, so runs never see each other's data.
 */
import { randomBytes } from "node:crypto";
import { type Server, type Socket, createServer } from "node:net";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ConflictError, type Logger, NotFoundError, StoreUnavailableError, ValidationError, createStore } from "tracetrain";
import { PostgresStore, type PostgresStoreOptions } from "tracetrain/postgres";
import { type StoreEvent } from "tracetrain/schemas";
import { PAYLOAD_LIMIT_BYTES, decodeAnnouncement, encodeAnnouncements } from "../../src/store/postgres/announcements.js";
import { quoteSchema } from "../../src/store/postgres/identifiers.js";
import { SCHEMA_VERSION, migrate } from "../../src/store/postgres/schema.js";
import * as vitest from "vitest";
import { describeStoreConformance } from "tracetrain/testing";
import { expectCode, makeSpan, sleep } from "./helpers.js";

const url = process.env.DATABASE_URL;
const inCI = process.env.CI === "true";

// Without a server these suites cannot run. On a developer's machine that is a skip, said once
// here; in CI it is a failure (below), because CI must test the PostgreSQL backend for real.
if (!url && !inCI) {
  console.warn('[postgres.test] skipped: DATABASE_URL is not set. Start a server with: eval "$(scripts/test-postgres.sh)"');
}

describe.runIf(!url && inCI)("PostgreSQL in CI", () => {
  it("has a server to test against", () => {
    expect(url, "CI must provide PostgreSQL: .ci/run starts a server and exports DATABASE_URL").toBeDefined();
  });
});

const schemas: string[] = [];
/** A schema name no other store or test run uses. */
function freshSchema(): string {
  const schema = `tt_test_${randomBytes(6).toString("hex")}`;
  schemas.push(schema);
  return schema;
}

let admin: pg.Client | undefined;
beforeAll(async () => {
  if (!url) return;
  admin = new pg.Client(url);
  await admin.connect();
});
afterAll(async () => {
  if (!admin) return;
  if (schemas.length > 0) await admin.query(`DROP SCHEMA IF EXISTS ${schemas.map((s) => `"${s}"`).join(", ")} CASCADE`);
  await admin.end();
});

describe.skipIf(!url)("PostgresStore", () => {
  describeStoreConformance("PostgresStore", {
    open: async (options) => new PostgresStore(url!, { ...options, schema: freshSchema() }),
  }, vitest);

  const opened: PostgresStore[] = [];
  function open(schema: string, options: PostgresStoreOptions = {}): PostgresStore {
    const store = new PostgresStore(url!, { watchdogIntervalMs: false, ...options, schema });
    opened.push(store);
    return store;
  }
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });

  /** Two stores on one schema, as two processes would have. */
  function replicas(options: PostgresStoreOptions = {}): [PostgresStore, PostgresStore] {
    const schema = freshSchema();
    return [open(schema, options), open(schema, options)];
  }

  /** Polls until `check` passes. No budget of its own: the test's timeout bounds it, however busy the machine. */
  async function eventually(check: () => Promise<boolean> | boolean): Promise<void> {
    while (!(await check())) await sleep(10);
  }

  const capture = (): Logger & { lines: string[] } => {
    const lines: string[] = [];
    const log = (message: string) => void lines.push(message);
    return { lines, debug: log, info: log, warn: log, error: log };
  };

  describe("replicas sharing one schema", () => {
    it("hands each of 100 rollouts to exactly one of 50 workers spread over two replicas", async () => {
      const [a, b] = replicas();
      await a.enqueueMany(Array.from({ length: 100 }, (_, i) => ({ input: i })));
      const seen: string[] = [];
      await Promise.all(
        Array.from({ length: 50 }, async (_, w) => {
          const store = w % 2 === 0 ? a : b;
          for (;;) {
            const claimed = await store.dequeue({ workerId: `w${w}`, limit: 1 + (w % 3) });
            if (claimed.length === 0) return;
            for (const c of claimed) {
              seen.push(c.rollout.rolloutId);
              await store.completeAttempt(c.rollout.rolloutId, c.attempt.attemptId, { status: "succeeded" });
            }
          }
        }),
      );
      expect(seen).toHaveLength(100);
      expect(new Set(seen).size).toBe(100);
      for (const store of [a, b]) {
        const stats = await store.stats();
        expect(stats.rollouts.succeeded).toBe(100);
        expect(stats.attempts.total).toBe(100);
      }
      expect((await a.workers()).map((w) => w.workerId).sort()).toHaveLength(50);
    });

    it("wakes a long-polling dequeue in one replica when the other enqueues", async () => {
      const [a, b] = replicas();
      await Promise.all([a.stats(), b.stats()]);
      // No polling anywhere: only the NOTIFY can wake it before its 15 s end, when it would claim nothing.
      const waiting = a.dequeue({ workerId: "wa", waitMs: 15_000 });
      await sleep(100);
      await b.enqueue({ input: "from b" });
      const claimed = await waiting;
      expect(claimed.map((c) => c.rollout.input)).toEqual(["from b"]);
    });

    it("wakes waitForRollouts in one replica when the other completes the rollout", async () => {
      const [a, b] = replicas();
      const rollout = await a.enqueue({ input: 1 });
      const [claimed] = await b.dequeue({ workerId: "wb" });
      const waiting = a.waitForRollouts([rollout.rolloutId], { timeoutMs: 15_000 });
      await sleep(100);
      await b.completeAttempt(rollout.rolloutId, claimed!.attempt.attemptId, { status: "succeeded", finalReward: 0.5 });
      const [ended] = await waiting;
      expect(ended).toMatchObject({ status: "succeeded", finalReward: 0.5 });
    });

    it("emits the other replica's events, in order, and never echoes its own", async () => {
      const [a, b] = replicas();
      const format = (e: StoreEvent) =>
        e.type === "rollout"
          ? `rollout ${e.previous ?? "-"}→${e.status}`
          : e.type === "attempt"
            ? `attempt#${e.sequence} ${e.previous ?? "-"}→${e.status}`
            : e.type === "spans"
              ? `spans +${e.count} last=${e.lastSequence}`
              : e.type === "resources"
                ? `resources v${e.version}`
                : `run ${e.runId} ${e.status} entries=${e.entries}`;
      const record = (store: PostgresStore, log: string[]) => {
        for (const type of ["rollout", "attempt", "spans", "resources", "run"] as const) store.events.on(type, (e: StoreEvent) => log.push(format(e)));
      };
      const onA: string[] = [];
      const onB: string[] = [];
      record(a, onA);
      record(b, onB);
      await a.stats();

      await b.addResources({ x: { kind: "json", value: 1 } });
      const rollout = await b.enqueue({ input: 1, config: { maxAttempts: 2 } });
      const [first] = await b.dequeue();
      await b.addSpans([makeSpan(first!), makeSpan(first!)]);
      await b.completeAttempt(rollout.rolloutId, first!.attempt.attemptId, { status: "failed", error: { kind: "infra_error", message: "x" } });
      const [second] = await b.dequeue();
      await b.heartbeat({ workerId: "w", attempts: [second!.attempt] });
      await b.completeAttempt(rollout.rolloutId, second!.attempt.attemptId, { status: "succeeded" });
      await b.recordRun({ runId: "run-1", algorithm: "rl" });
      await b.addRunEntries("run-1", [{ kind: "rl.step", data: { step: 1 } }, { kind: "rl.step", data: { step: 2 } }]);
      await b.recordRun({ runId: "run-1", algorithm: "rl", status: "completed" });
      expect(onB).toHaveLength(16);
      expect(onB.slice(-3)).toEqual(["run run-1 running entries=0", "run run-1 running entries=2", "run run-1 completed entries=2"]);
      await eventually(() => onA.length >= onB.length);
      expect(onA).toEqual(onB);

      // A change made through A reaches A's listeners once (locally), not again through NOTIFY.
      onA.length = 0;
      onB.length = 0;
      await a.enqueue({ input: 2 });
      await eventually(() => onB.length === 1);
      await sleep(100);
      expect(onA).toEqual(["rollout -→queuing"]);
    });

    it("trims a huge error message in the notification but stores it whole", async () => {
      const [a, b] = replicas();
      const received: StoreEvent[] = [];
      a.events.on("attempt", (e) => void received.push(e));
      const rollout = await a.enqueue({ input: 1 });
      const [claimed] = await b.dequeue();
      const message = "é".repeat(12_000);
      await b.completeAttempt(rollout.rolloutId, claimed!.attempt.attemptId, { status: "failed", error: { kind: "agent_error", message } });
      await eventually(() => received.some((e) => e.type === "attempt" && e.status === "failed"));
      const failed = received.find((e) => e.type === "attempt" && e.status === "failed");
      expect(failed?.type === "attempt" && failed.error?.message).toMatch(/^é+… \(trimmed/);
      expect((await a.getRollout(rollout.rolloutId)).attempts[0]!.error!.message).toBe(message);
    });

    it("numbers spans of one attempt 1..n when both replicas append to it at once", async () => {
      const [a, b] = replicas();
      await a.enqueue({ input: 1 });
      const [claimed] = await a.dequeue();
      const spans = Array.from({ length: 100 }, () => makeSpan(claimed!));
      // 20 concurrent batches of 5, alternating replicas, each batch repeating one span of the previous batch.
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).addSpans([...spans.slice(i * 5, i * 5 + 5), ...(i > 0 ? [spans[i * 5 - 1]!] : [])])),
      );
      expect(results.reduce((n, r) => n + r.added, 0)).toBe(100);
      expect(results.reduce((n, r) => n + r.duplicates, 0)).toBe(19);
      const stored = await b.querySpans({ rolloutId: claimed!.rollout.rolloutId });
      expect(stored.items.map((s) => s.sequence)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
      expect(new Set(stored.items.map((s) => s.spanId)).size).toBe(100);
      expect((await a.getRollout(claimed!.rollout.rolloutId)).attempts[0]!.spanCount).toBe(100);
    });

    it("numbers a run's entries 1..n when both replicas append to it at once, storing each key once", async () => {
      const [a, b] = replicas();
      await a.recordRun({ runId: "shared", algorithm: "gepa" });
      // 20 concurrent batches of 5 keyed entries, alternating replicas, each repeating the previous batch's last key.
      const entry = (i: number) => ({ kind: "candidate", key: `c-${i}`, data: { i } });
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, n) =>
          (n % 2 ? a : b).addRunEntries("shared", [...Array.from({ length: 5 }, (_, j) => entry(n * 5 + j)), ...(n > 0 ? [entry(n * 5 - 1)] : [])]),
        ),
      );
      expect(results.reduce((sum, r) => sum + r.added, 0)).toBe(100);
      expect(results.reduce((sum, r) => sum + r.duplicates, 0)).toBe(19);
      const stored = await b.queryRunEntries({ runId: "shared" });
      expect(stored.items.map((e) => e.sequence)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
      expect(new Set(stored.items.map((e) => e.key)).size).toBe(100);
      expect(await a.getRun("shared")).toMatchObject({ entries: 100 });
    });

    it("creates each caller-named rollout once when replicas enqueue overlapping batches in opposite orders", async () => {
      const [a, b] = replicas();
      const requests = Array.from({ length: 50 }, (_, i) => ({ input: i, rolloutId: `job-${i}` }));
      const created: string[] = [];
      for (const store of [a, b]) store.events.on("rollout", (e) => void (e.status === "queuing" && created.push(e.rolloutId)));
      // A store hears other processes from its first call on (that call starts its LISTEN).
      await Promise.all([a.stats(), b.stats()]);
      for (let round = 0; round < 3; round++) {
        await Promise.all([a.enqueueMany(requests), b.enqueueMany([...requests].reverse())]);
      }
      expect((await a.stats()).rollouts.total).toBe(50);
      await eventually(() => created.length >= 100);
      // Each creation is announced once locally and once to the other replica.
      expect(created.length).toBe(100);
      expect(new Set(created).size).toBe(50);
    });

    it("numbers resources 1..n when replicas add snapshots at once", async () => {
      const [a, b] = replicas();
      const snapshots = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).addResources({ n: { kind: "json", value: i } })));
      expect(snapshots.map((s) => s.version).sort((x, y) => x - y)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
      expect((await b.getResources("latest")).version).toBe(10);
    });

    it("expires an attempt once when both replicas' watchdogs sweep it", async () => {
      const [a, b] = replicas();
      const rollout = await a.enqueue({ input: 1, config: { timeoutMs: 30 } });
      await b.dequeue();
      await sleep(60);
      const marked = await Promise.all([a.sweep(), b.sweep(), a.sweep(), b.sweep()]);
      expect(marked.reduce((x, y) => x + y, 0)).toBe(1);
      expect((await b.getRollout(rollout.rolloutId)).attempts[0]!.status).toBe("timeout");
    });

    it("reopens a schema with everything from the previous session", async () => {
      const schema = freshSchema();
      const first = open(schema);
      const resources = await first.addResources({ p: { kind: "prompt_template", template: "hi {{x}}" } });
      const [retried, waiting] = await first.enqueueMany([{ input: "retried", config: { maxAttempts: 2 } }, { input: "waits" }]);
      const [claimed] = await first.dequeue({ workerId: "w1" });
      await first.addSpans([makeSpan(claimed!), makeSpan(claimed!)]);
      await first.completeAttempt(retried!.rolloutId, claimed!.attempt.attemptId, { status: "failed", error: { kind: "infra_error", message: "x" } });
      const before = await first.queryRollouts();
      await first.close();

      const second = open(schema);
      expect(await second.queryRollouts()).toEqual(before);
      expect(await second.getResources("latest")).toEqual(resources);
      expect((await second.querySpans({ rolloutId: retried!.rolloutId })).items).toHaveLength(2);
      const next = await second.dequeue({ limit: 5 });
      expect(next.map((c) => c.rollout.rolloutId)).toEqual([waiting!.rolloutId, retried!.rolloutId]);
      expect(next[1]!.attempt.sequence).toBe(2);
      expect((await second.workers()).map((w) => w.workerId)).toEqual(["w1"]);
    });
  });

  // Concurrent calls of one kind share a transaction. A batch that fails as a whole is retried call
  // by call (and says so at debug level); the conformance suite checks the results, these check
  // that batches really are shared and split only when a call's own data is at fault.
  describe("batched calls", () => {
    const splits = (logger: { lines: string[] }) => logger.lines.filter((line) => line.includes("retrying each call alone"));

    it("serves concurrent appends, completions and claims in shared transactions without splitting them", async () => {
      const logger = capture();
      const store = open(freshSchema(), { logger });
      await store.enqueueMany(Array.from({ length: 40 }, (_, i) => ({ input: i })));
      const claimed = (await Promise.all(Array.from({ length: 20 }, (_, w) => store.dequeue({ workerId: `w${w}`, limit: 2 })))).flat();
      expect(new Set(claimed.map((c) => c.rollout.rolloutId)).size).toBe(40);
      // Two calls per attempt, overlapping by one span id: the second must see the first's spans.
      await Promise.all(
        claimed.flatMap((c) => {
          const spans = [makeSpan(c), makeSpan(c), makeSpan(c)];
          return [store.addSpans(spans.slice(0, 2)), store.addSpans(spans.slice(1))];
        }),
      );
      await Promise.all(claimed.map((c, i) => store.completeAttempt(c.rollout.rolloutId, c.attempt.attemptId, { status: "succeeded", finalReward: i })));
      expect(splits(logger)).toEqual([]);
      for (const [i, c] of claimed.entries()) {
        const rollout = await store.getRollout(c.rollout.rolloutId);
        expect([rollout.status, rollout.finalReward, rollout.attempts[0]!.spanCount]).toEqual(["succeeded", i, 3]);
        const spans = (await store.querySpans({ rolloutId: c.rollout.rolloutId })).items;
        expect(spans.map((s) => s.sequence)).toEqual([1, 2, 3]);
      }
      const workers = await store.workers();
      expect(workers.map((w) => w.workerId).sort()).toEqual(Array.from({ length: 20 }, (_, w) => `w${w}`).sort());
    });

    it("fails only the call whose data PostgreSQL rejects, however many shared its transaction", async () => {
      const logger = capture();
      const store = open(freshSchema(), { logger });
      await store.enqueueMany(Array.from({ length: 10 }, (_, i) => ({ input: i })));
      const claimed = await store.dequeue({ limit: 10 });
      const outcomes = await Promise.allSettled(
        claimed.map((c, i) => store.addSpans([makeSpan(c, { name: i === 3 ? "nul\u0000name" : "ok" })])),
      );
      expect(outcomes.map((o) => o.status)).toEqual(claimed.map((_, i) => (i === 3 ? "rejected" : "fulfilled")));
      expect((outcomes[3] as PromiseRejectedResult).reason).toBeInstanceOf(ValidationError);
      expect(splits(logger)).toHaveLength(1);
      expect((await store.stats()).spans).toBe(9);
    });
  });

  describe("large batches", () => {
    it("stores a batch bigger than one insert chunk in order, as one all-or-nothing call", async () => {
      const store = open(freshSchema());
      const rollouts = await store.enqueueMany(Array.from({ length: 5_000 }, (_, i) => ({ input: i })));
      expect(rollouts.map((r) => r.input)).toEqual(Array.from({ length: 5_000 }, (_, i) => i));
      const [claimed] = await store.dequeue();
      expect(claimed!.rollout.input).toBe(0);
      const spans = Array.from({ length: 4_500 }, (_, i) => makeSpan(claimed!, { name: `s${i}` }));
      // An unknown attempt anywhere in the batch fails all of it, however many chunks it would take.
      await expectCode(store.addSpans([...spans, makeSpan({ rolloutId: claimed!.rollout.rolloutId, attemptId: "at-unknown" })]), NotFoundError);
      expect((await store.stats()).spans).toBe(0);
      expect(await store.addSpans(spans)).toEqual({ added: 4_500, duplicates: 0 });
      const page = await store.querySpans({ rolloutId: claimed!.rollout.rolloutId, limit: 10_000 });
      expect(page.items.map((s) => [s.name, s.sequence])).toEqual(spans.map((_, i) => [`s${i}`, i + 1]));
    });
  });

  describe("connections", () => {
    it("fails fast with StoreUnavailableError naming the server, never the password, when nothing listens", async () => {
      const store = new PostgresStore("postgres://tracetrain:s3cret-pw@127.0.0.1:1/somedb", { watchdogIntervalMs: false });
      opened.push(store);
      const error = await expectCode(store.enqueue({ input: 1 }), StoreUnavailableError);
      expect(error.code).toBe("unavailable");
      expect(error.message).toContain("127.0.0.1:1/somedb");
      expect(error.message).not.toContain("s3cret");
      // Later calls try again rather than replaying the first failure forever.
      await expectCode(store.getRollout("ro-x"), StoreUnavailableError);
    });

    it("gives up connecting after connectTimeoutMs when the server never answers", async () => {
      // A local socket that accepts connections and says nothing: a hung server.
      const sockets = new Set<Socket>();
      const silent: Server = createServer((socket) => void sockets.add(socket));
      await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
      const { port } = silent.address() as { port: number };
      try {
        const store = new PostgresStore(`postgres://postgres@127.0.0.1:${port}/postgres`, { watchdogIntervalMs: false, pool: { connectTimeoutMs: 300 } });
        opened.push(store);
          const error = await expectCode(store.stats(), StoreUnavailableError);
        expect(error.message).toContain(`127.0.0.1:${port}`);
        expect(error.message).toMatch(/timeout/i);
      } finally {
        for (const socket of sockets) socket.destroy();
        await new Promise((resolve) => silent.close(resolve));
      }
    });

    it("re-LISTENs after its connection is killed, and keeps serving calls", async () => {
      const logger = capture();
      const schema = freshSchema();
      const a = open(schema, { logger, pool: { applicationName: "replica-a" } });
      const b = open(schema);
      await Promise.all([a.stats(), b.stats()]);
      const backends = (query: string) =>
        admin!.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE application_name = 'replica-a' AND query LIKE $1", [query]);
      const [listener] = (await backends("LISTEN%")).rows;
      expect(listener).toBeDefined();
      await admin!.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'replica-a'");
      await eventually(async () => (await backends("LISTEN%")).rows.some((r) => r.pid !== listener!.pid));
      expect(logger.lines.join("\n")).toMatch(/lost the PostgreSQL LISTEN connection/);

      const waiting = a.dequeue({ waitMs: 15_000 });
      await sleep(100);
      await b.enqueue({ input: "after the reconnect" });
      expect((await waiting).map((c) => c.rollout.input)).toEqual(["after the reconnect"]);
    });
  });

  describe("schema", () => {
    it("runs migrations once when several stores open a fresh schema together", async () => {
      const schema = freshSchema();
      const stores = Array.from({ length: 4 }, () => open(schema));
      await Promise.all(stores.map((s, i) => s.enqueue({ input: i })));
      const applied = await admin!.query<{ version: number }>(`SELECT version FROM "${schema}".schema_migrations ORDER BY version`);
      expect(applied.rows.map((r) => r.version)).toEqual(Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1));
      expect((await stores[0]!.stats()).rollouts.total).toBe(4);
    });

    it("upgrades a schema written before training runs in place: its rollouts and snapshots stay, and runs can be recorded", async () => {
      const schema = freshSchema();
      // The schema tracetrain wrote at version 2 (released migrations never change).
      await migrate(admin!, schema, quoteSchema(schema), 2);
      await admin!.query(`INSERT INTO "${schema}".rollouts (rollout_id, input, mode, resources_id, status, config, metadata, created_at, queue_pos)
                          VALUES ('ro-old', '"kept"', 'train', 'rs-1', 'queuing', '{"maxAttempts":1,"retryOn":[]}', '{}', 1000, 1)`);
      await admin!.query(`INSERT INTO "${schema}".resources (version, resources_id, created_at, resources)
                          VALUES (1, 'rs-1', 900, '{"p":{"kind":"json","value":1}}'), (2, 'rs-2', 950, '{"p":{"kind":"json","value":2}}')`);
      const store = open(schema);
      expect((await store.getRollout("ro-old")).input).toBe("kept");
      expect((await store.queryResources()).items.map((s) => [s.resourcesId, s.version])).toEqual([["rs-2", 2], ["rs-1", 1]]);
      await store.recordRun({ runId: "run-1", algorithm: "rl" });
      expect(await store.addRunEntries("run-1", [{ kind: "rl.step", key: "step-1", data: { step: 1 } }])).toEqual({ added: 1, duplicates: 0 });
      expect((await store.queryRunEntries({ runId: "run-1" })).items).toMatchObject([{ sequence: 1, key: "step-1" }]);
      const applied = await admin!.query<{ version: number }>(`SELECT version FROM "${schema}".schema_migrations ORDER BY version`);
      expect(applied.rows.map((r) => r.version)).toEqual([1, 2, 3]);
    });

    it("refuses a schema written by a newer version", async () => {
      const schema = freshSchema();
      await open(schema).stats();
      await admin!.query(`INSERT INTO "${schema}".schema_migrations (version) VALUES (999)`);
      const error = await expectCode(open(schema).stats(), ConflictError);
      expect(error.message).toMatch(/schema version 999, newer than this tracetrain understands/);
    });

    it("keeps stores in different schemas apart, events included", async () => {
      const a = open(freshSchema());
      const b = open(freshSchema());
      const heard: string[] = [];
      a.events.on("rollout", (e) => void heard.push(e.rolloutId));
      await a.stats();
      await b.enqueue({ input: 1 });
      await sleep(100);
      expect(heard).toEqual([]);
      expect((await a.stats()).rollouts.total).toBe(0);
    });

    it("accepts only plain lower-case schema names", () => {
      for (const schema of ["Bad", "has-dash", "1st", "", "x".repeat(64), 'a"; drop table x; --', "pg_mine"]) {
        expect(() => new PostgresStore(url!, { schema }), schema).toThrow(ValidationError);
      }
    });

    it("rejects a malformed connection string at construction, without echoing it", () => {
      for (const bad of ["localhost:5432", "postgres://u:secret@h:notaport/db", "mysql://u:secret@h/db"]) {
        let error: unknown;
        try {
          new PostgresStore(bad, { watchdogIntervalMs: false });
        } catch (caught) {
          error = caught;
        }
        expect(error, bad).toBeInstanceOf(ValidationError);
        expect((error as Error).message).not.toContain("secret");
      }
    });

    it("turns text PostgreSQL cannot hold (NUL) into a ValidationError that stores nothing", async () => {
      const store = open(freshSchema());
      await expectCode(store.enqueue({ input: { text: "a\u0000b" } }), ValidationError);
      await store.enqueue({ input: 1 });
      const [claimed] = await store.dequeue();
      await expectCode(store.addSpans([makeSpan(claimed!), makeSpan(claimed!, { name: "nul\u0000name" })]), ValidationError);
      const stats = await store.stats();
      expect([stats.rollouts.total, stats.spans]).toEqual([1, 0]);
    });

    it("lists runs in the same order as every other backend in a database whose collation sorts text by language", async () => {
      // Under en-US rules "a-run" < "B-run" and "-" is all but ignored; the store compares ids as
      // bytes, like the other backends and the cursors it hands out.
      const database = `tt_collate_${randomBytes(6).toString("hex")}`;
      await admin!.query(`CREATE DATABASE "${database}" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'`);
      try {
        const target = new URL(url!);
        target.pathname = `/${database}`;
        // Its connections are cut when the database is dropped: nothing to report.
        const store = new PostgresStore(target.toString(), { schema: "tracetrain", watchdogIntervalMs: false, logger: capture() });
        try {
          const ids = ["a-run", "B-run", "b_run", "A.run", "ab", "a-z", "Z"];
          // One updatedAt for all: the order is the runId tie-break alone.
          await Promise.all(ids.map((runId) => store.recordRun({ runId, algorithm: "rl" })));
          const runs = await Promise.all(ids.map((id) => store.getRun(id)));
          const expected = runs.sort((x, y) => y.updatedAt - x.updatedAt || (x.runId < y.runId ? 1 : x.runId > y.runId ? -1 : 0)).map((r) => r.runId);
          expect((await store.queryRuns()).items.map((r) => r.runId)).toEqual(expected);
          const paged: string[] = [];
          let cursor: string | undefined;
          do {
            const page = await store.queryRuns({ limit: 2, ...(cursor === undefined ? {} : { cursor }) });
            paged.push(...page.items.map((r) => r.runId));
            cursor = page.nextCursor ?? undefined;
          } while (cursor !== undefined);
          expect(paged).toEqual(expected);
        } finally {
          await store.close();
        }
      } finally {
        await admin!.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
      }
    });

    it("is what createStore opens for postgres:// and postgresql:// URLs", async () => {
      const schema = freshSchema();
      for (const spec of [url!, url!.replace(/^postgres(ql)?:/, "postgresql:")]) {
        const store = createStore(spec, { schema, watchdogIntervalMs: false });
        expect(store).toBeInstanceOf(PostgresStore);
        await store.enqueue({ input: spec });
        await store.close();
      }
      expect((await open(schema).stats()).rollouts.total).toBe(2);
    });
  });
});

describe("PostgreSQL event payloads", () => {
  const origin = "8f14e45f-ceea-467f-a0e6-1d7b2a1c9e3f";
  const event = (i: number): StoreEvent => ({ type: "spans", rolloutId: `ro-${i}`, attemptId: `at-${i}`, count: 3, lastSequence: i + 1, at: 1 + i });

  it("packs many events into payloads under the NOTIFY limit, in order", () => {
    const events = Array.from({ length: 500 }, (_, i) => event(i));
    const payloads = encodeAnnouncements(origin, events);
    expect(payloads.length).toBeGreaterThan(1);
    for (const payload of payloads) expect(Buffer.byteLength(payload)).toBeLessThanOrEqual(PAYLOAD_LIMIT_BYTES);
    const decoded = payloads.flatMap((p) => {
      const result = decodeAnnouncement(p);
      if (!result.ok) throw new Error(result.reason);
      expect(result.origin).toBe(origin);
      return result.events;
    });
    expect(decoded).toEqual(events);
  });

  it("trims only an error message too long for one payload", () => {
    const long: StoreEvent = {
      type: "attempt",
      rolloutId: "ro-1",
      attemptId: "at-1",
      sequence: 1,
      workerId: null,
      status: "failed",
      previous: "running",
      error: { kind: "agent_error", message: "\u{1F600}\"\n".repeat(5_000) },
      at: 1,
    };
    const [payload, ...rest] = encodeAnnouncements(origin, [long]);
    expect(rest).toEqual([]);
    expect(Buffer.byteLength(payload!)).toBeLessThanOrEqual(PAYLOAD_LIMIT_BYTES);
    const result = decodeAnnouncement(payload!);
    const [decoded] = result.ok ? result.events : [];
    expect(decoded?.type === "attempt" && decoded.error?.message).toMatch(/^(\u{1F600}"\n)+.*… \(trimmed/u);
  });

  it("carries run events between processes, and only well-formed ones", () => {
    const run: StoreEvent = { type: "run", runId: "run-1", status: "stopped", entries: 12, at: 5 };
    const [payload] = encodeAnnouncements(origin, [event(1), run]);
    expect(decodeAnnouncement(payload!)).toEqual({ ok: true, origin, events: [event(1), run] });
    for (const bad of [{ ...run, status: "paused" }, { ...run, entries: -1 }, { ...run, runId: "has space" }]) {
      expect(decodeAnnouncement(`{"v":1,"o":"x","e":[${JSON.stringify(bad)}]}`).ok, JSON.stringify(bad)).toBe(false);
    }
  });

  it("rejects payloads that are not store events", () => {
    for (const payload of ["nope", "[]", '{"v":2,"o":"x","e":[]}', '{"v":1,"o":"x","e":[{"type":"rollout"}]}']) {
      expect(decodeAnnouncement(payload).ok, payload).toBe(false);
    }
  });
});
