/**
 * Store-server replicas on one PostgreSQL database: several HTTP servers, each with its own
 * PostgresStore (and pool), in front of one schema — how the store scales out. Runners talk to
 * either replica over HTTP; what one replica stores, the other serves, and waits on one wake for
 * work finished through the other (LISTEN/NOTIFY).
 *
 * 1. Two in-process servers, 100 runner tasks (half on each), 320 rollouts enqueued through A and
 *    waited for through B: every rollout runs exactly once, every span is there once, and each
 *    wait on B ends promptly after its rollout's completion was acknowledged, on either replica.
 *    (In-process, because the command line cannot pick a schema, and each test gets a fresh one.)
 * 2. Two `tracetrain store serve` processes on a fresh database; one is SIGKILLed mid-run and
 *    restarted on its port. Runners reconnect and finish, and the database afterwards holds every
 *    acknowledged rollout, claim, span and completion exactly once.
 *
 * Needs DATABASE_URL, as test/store/postgres.test.ts: skipped without it locally, a failure in CI.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { cliPath, freePort } from "../support/processes.js";
import { type AttemptedRollout } from "tracetrain/schemas";
import { HttpStore } from "tracetrain/store";
import { type Logger, Runner, type SpanInput, type Store, agent, emitMessage, operation } from "tracetrain";
import { PostgresStore } from "tracetrain/postgres";
import { type StoreServer, startStoreServer } from "tracetrain/server";

const url = process.env.DATABASE_URL;
const inCI = process.env.CI === "true";

if (!url && !inCI) {
  console.warn('[replicas.test] skipped: DATABASE_URL is not set. Start a server with: eval "$(scripts/test-postgres.sh)"');
}

describe.runIf(!url && inCI)("store-server replicas in CI", () => {
  it("has a PostgreSQL server to test against", () => {
    expect(url, "CI must provide PostgreSQL: .ci/run starts a server and exports DATABASE_URL").toBeDefined();
  });
});

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };

// ---- the agent: counts its runs and records a few spans ---------------------------------------

/** How many times the agent started on each task, across every runner in this process. */
const executions = new Map<string, number>();

const recorder = agent(
  async (task: { id: string; n: number }) => {
    executions.set(task.id, (executions.get(task.id) ?? 0) + 1);
    emitMessage(`working on ${task.id}`);
    await operation("think", async () => new Promise((resolve) => setTimeout(resolve, 5 + (task.n % 20))));
    return task.n % 2;
  },
  { name: "recorder" },
);
/** What one run of `recorder` records, by span name (the root span, the message, the operation, the reward). */
const EXPECTED_SPANS = ["think", "tracetrain.message", "tracetrain.reward", "tracetrain.rollout"];

// ---- what the store acknowledged to the runners ----------------------------------------------

interface Acks {
  /** attemptId → rolloutId, for every claim a dequeue answer delivered. */
  claims: Map<string, string>;
  /** Every span an addSpans answer acknowledged. */
  spans: Array<{ rolloutId: string; attemptId: string; spanId: string }>;
  /** attemptId → the status a completeAttempt answer reported. */
  completions: Map<string, string>;
  /** rolloutId → when its successful completion was acknowledged (performance.now()). */
  completedAt: Map<string, number>;
}

const newAcks = (): Acks => ({ claims: new Map(), spans: [], completions: new Map(), completedAt: new Map() });

/** `store`, recording what its answers acknowledged: a call that returned happened, whatever happens to the server next. */
function recording(store: Store, acks: Acks): Store {
  return new Proxy(store, {
    get(target, key) {
      const value: unknown = Reflect.get(target, key, target);
      if (typeof value !== "function") return value;
      const method = value as (...args: unknown[]) => Promise<unknown>;
      if (key === "dequeue") {
        return async (...args: unknown[]) => {
          const claimed = (await method.apply(target, args)) as AttemptedRollout[];
          for (const c of claimed) acks.claims.set(c.attempt.attemptId, c.rollout.rolloutId);
          return claimed;
        };
      }
      if (key === "addSpans") {
        return async (spans: SpanInput[]) => {
          const result = await method.call(target, spans);
          for (const s of spans) acks.spans.push({ rolloutId: s.rolloutId, attemptId: s.attemptId, spanId: s.spanId });
          return result;
        };
      }
      if (key === "completeAttempt") {
        return async (...args: unknown[]) => {
          const ended = (await method.apply(target, args)) as AttemptedRollout;
          acks.completions.set(ended.attempt.attemptId, ended.attempt.status);
          if (ended.rollout.status === "succeeded") acks.completedAt.set(ended.rollout.rolloutId, performance.now());
          return ended;
        };
      }
      return method.bind(target);
    },
  });
}

interface RunnerTask {
  runner: Runner<{ id: string; n: number }>;
  client: HttpStore;
  done: Promise<void>;
}

/** A runner with its own HTTP client (its own connection pool, as a separate machine would have). */
function startRunner(serverUrl: string, acks: Acks, options: { workerId: string; concurrency?: number; heartbeatIntervalMs?: number }): RunnerTask {
  const client = new HttpStore(serverUrl, { logger: quiet });
  const runner = new Runner({ store: recording(client, acks), agent: recorder, logger: quiet, concurrency: 1, ...options });
  return { runner, client, done: runner.run() };
}

async function stopRunners(tasks: RunnerTask[]): Promise<void> {
  await Promise.all(tasks.map((t) => t.runner.stop({ graceMs: 2000 })));
  await Promise.all(tasks.map((t) => t.done));
  await Promise.all(tasks.map((t) => t.client.close()));
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
}

/** Every span of every rollout: the expected names exactly once on the succeeded attempt, no span id twice anywhere. */
async function expectSpansOnce(store: Store, rolloutIds: string[]): Promise<void> {
  for (const rolloutId of rolloutIds) {
    const all = await store.querySpans({ rolloutId, limit: 10_000 });
    const keys = all.items.map((s) => `${s.attemptId}/${s.spanId}`);
    expect(new Set(keys).size, rolloutId).toBe(keys.length);
    const latest = await store.querySpans({ rolloutId, attemptId: "latest" });
    expect(latest.items.map((s) => s.name).sort(), rolloutId).toEqual(EXPECTED_SPANS);
  }
}

// ---- set-up -----------------------------------------------------------------------------------

let admin: pg.Client | undefined;
const schemas: string[] = [];
const databases: string[] = [];
beforeAll(async () => {
  if (!url) return;
  admin = new pg.Client(url);
  await admin.connect();
});
afterAll(async () => {
  if (!admin) return;
  if (schemas.length > 0) await admin.query(`DROP SCHEMA IF EXISTS ${schemas.map((s) => `"${s}"`).join(", ")} CASCADE`);
  for (const db of databases) await admin.query(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`);
  await admin.end();
});

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
});

/** `tracetrain store serve` (from source, through tsx); resolves once it is listening. */
async function serveProcess(storeUrl: string, port: number): Promise<{ child: ChildProcess; exited: Promise<unknown>; output: () => string }> {
  const child = spawn(process.execPath, ["--import", "tsx", cliPath, "store", "serve", "--store", storeUrl, "--port", String(port)], {
    env: { ...process.env, TRACETRAIN_TOKEN: "" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let text = "";
  child.stdout!.on("data", (c: Buffer) => (text += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (text += c.toString()));
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const deadline = performance.now() + 20_000;
  while (!/serving/.test(text)) {
    if (child.exitCode !== null || performance.now() > deadline) throw new Error(`store serve did not start:\n${text}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return { child, exited, output: () => text };
}

// ---- the tests --------------------------------------------------------------------------------

describe.skipIf(!url)("store-server replicas on one PostgreSQL schema", () => {
  it("shows a client of replica A a training run that replica B records, live and in full", async () => {
    const schema = `tt_replicas_${randomBytes(6).toString("hex")}`;
    schemas.push(schema);
    const stores = [0, 1].map(() => new PostgresStore(url!, { schema, logger: quiet, watchdogIntervalMs: false }));
    const servers: StoreServer[] = [];
    for (const store of stores) servers.push(await startStoreServer({ store, port: 0, logger: quiet }));
    const [a, b] = servers as [StoreServer, StoreServer];
    // A dashboard reading replica A; an algorithm writing through replica B.
    const reader = new HttpStore(a.url, { logger: quiet });
    const writer = new HttpStore(b.url, { logger: quiet });
    try {
      const heard: string[] = [];
      let sawAll!: () => void;
      const allHeard = new Promise<void>((resolve) => (sawAll = resolve));
      reader.events.on("run", (e) => {
        heard.push(`${e.runId} ${e.status} ${e.entries}`);
        if (e.status === "completed") sawAll();
      });
      await (reader.events as { connected(): Promise<void> }).connected();
      // Replica A listens from its first call on.
      await reader.stats();

      await writer.recordRun({ runId: "run-b", algorithm: "rl", config: { steps: 3 } });
      for (let step = 1; step <= 3; step++) {
        await writer.addRunEntries("run-b", [{ kind: "rl.step", key: `step-${step}`, data: { step } }]);
      }
      // A resumed writer re-records a step: stored once, announced nowhere.
      expect(await writer.addRunEntries("run-b", [{ kind: "rl.step", key: "step-3", data: { step: 3 } }])).toEqual({ added: 0, duplicates: 1 });
      await writer.recordRun({ runId: "run-b", algorithm: "rl", status: "completed", summary: { best: 3 } });
      await allHeard;
      expect(heard).toEqual(["run-b running 0", "run-b running 1", "run-b running 2", "run-b running 3", "run-b completed 3"]);

      expect(await reader.getRun("run-b")).toMatchObject({ status: "completed", entries: 3, config: { steps: 3 }, summary: { best: 3 } });
      const log = await reader.queryRunEntries({ runId: "run-b", afterSequence: 1 });
      expect(log.items.map((e) => [e.sequence, e.data.step])).toEqual([[2, 2], [3, 3]]);
      expect((await reader.queryRuns({ algorithm: ["rl"] })).items.map((r) => r.runId)).toEqual(["run-b"]);
    } finally {
      await Promise.all([reader.close(), writer.close()]);
      await Promise.all(servers.map((s) => s.close()));
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it("runs 320 rollouts enqueued through replica A exactly once on 100 runners split over A and B, and B's waits wake promptly", async () => {
    const schema = `tt_replicas_${randomBytes(6).toString("hex")}`;
    schemas.push(schema);
    const stores = [0, 1].map(() => new PostgresStore(url!, { schema, logger: quiet }));
    const servers: StoreServer[] = [];
    for (const store of stores) servers.push(await startStoreServer({ store, port: 0, logger: quiet }));
    const [a, b] = servers as [StoreServer, StoreServer];
    const acks = { a: newAcks(), b: newAcks() };
    const runners: RunnerTask[] = [];
    const viaA = new HttpStore(a.url, { logger: quiet });
    const viaB = new HttpStore(b.url, { logger: quiet });
    // A client keeps at most 64 connections; enough clients that every wait below is parked on the server, none queued here.
    const waiters = Array.from({ length: 6 }, () => new HttpStore(b.url, { logger: quiet }));
    try {
      const total = 320;
      const ids = Array.from({ length: total }, (_, n) => `replica-${schema}-${n}`);
      for (let i = 0; i < total; i += 64) {
        await viaA.enqueueMany(ids.slice(i, i + 64).map((id, j) => ({ rolloutId: id, input: { id, n: i + j } })));
      }
      // One wait per rollout through B, parked before any runner starts: each ends when B learns its rollout ended.
      const wokeAt = new Map<string, number>();
      const waits = ids.map((id, i) => waiters[i % waiters.length]!.waitForRollouts([id], { timeoutMs: 60_000 }).then((ended) => void (ended.length === 1 && wokeAt.set(id, performance.now()))));
      await new Promise((r) => setTimeout(r, 500));
      // B's runners start first and A's once B has claimed something: with all of them starting at
      // once, A's 50 runners can finish everything while B's first claims still queue behind them
      // (one event loop hosts 100 runners, both servers and B's 320 parked waits), and the test
      // would prove nothing about B.
      for (let i = 1; i < 100; i += 2) runners[i] = startRunner(b.url, acks.b, { workerId: `runner-b-${i}` });
      const deadline = performance.now() + 30_000;
      while (acks.b.claims.size === 0) {
        if (performance.now() > deadline) throw new Error("no runner on replica B claimed work enqueued through A within 30 s");
        await new Promise((r) => setTimeout(r, 5));
      }
      for (let i = 0; i < 100; i += 2) runners[i] = startRunner(a.url, acks.a, { workerId: `runner-a-${i}` });
      const ended = await viaB.waitForRollouts(ids, { timeoutMs: 60_000 });
      await Promise.all(waits);

      expect(ended.map((r) => [r.status, r.attempts.length, r.finalReward])).toEqual(ids.map((_, n) => ["succeeded", 1, n % 2]));
      expect(ids.map((id) => executions.get(id))).toEqual(ids.map(() => 1));
      await expectSpansOnce(viaB, ids);
      const stats = await viaA.stats();
      expect(stats.rollouts).toMatchObject({ total, succeeded: total });
      expect(stats.attempts.total).toBe(total);
      expect(stats.spans).toBe(total * EXPECTED_SPANS.length);
      expect((await viaB.workers()).length).toBe(100);
      // Both replicas' runners ran work enqueued through A (the split itself follows scheduling).
      const onA = runners.filter((_, i) => i % 2 === 0).reduce((n, r) => n + r.runner.stats.succeeded, 0);
      expect(onA).toBeGreaterThan(0);
      expect(total - onA).toBeGreaterThan(0);

      // Wake-up latency of B's waits, from the moment a runner's completion was acknowledged: by A (so
      // B heard of it from PostgreSQL, over LISTEN/NOTIFY) or by B itself.
      expect(wokeAt.size).toBe(total);
      const wake = (side: Acks) => [...side.completedAt].map(([id, at]) => Math.max(0, wokeAt.get(id)! - at));
      const [crossed, local] = [wake(acks.a), wake(acks.b)];
      expect(crossed.length + local.length).toBe(total);
      const show = (xs: number[]) => `p50 ${percentile(xs, 50).toFixed(1)} ms, p99 ${percentile(xs, 99).toFixed(1)} ms, max ${Math.max(...xs).toFixed(1)} ms`;
      console.info(`[replicas] B's waits woke after completions acknowledged by A: ${show(crossed)}; by B: ${show(local)}`);
      // Printed, not asserted: under that load the wake-up includes queueing (100 runners, two servers
      // and 320 waits share this event loop). That B hears of A's completions at all is proven below.

      // When idle: a completion through A wakes a wait parked on B. The wait's 20 s is under the
      // server's 30 s long-poll cap, so nothing re-polls: a missed NOTIFY ends it empty-handed.
      await stopRunners(runners.splice(0));
      const idle: number[] = [];
      for (let i = 0; i < 20; i++) {
        // startRollout claims as it creates: no long-poll of a stopped runner, still being torn down on the server, can take it.
        const { rollout, attempt } = await viaA.startRollout({ input: { id: `idle-${i}`, n: i }, workerId: "idle-probe" });
        const waiting = viaB.waitForRollouts([rollout.rolloutId], { timeoutMs: 20_000 });
        await new Promise((r) => setTimeout(r, 30));
        await viaA.completeAttempt(rollout.rolloutId, attempt.attemptId, { status: "succeeded" });
        const acknowledged = performance.now();
        expect(await waiting).toHaveLength(1);
        idle.push(performance.now() - acknowledged);
      }
      console.info(`[replicas] idle: B's wait woke ${show(idle)} after A acknowledged the completion`);
    } finally {
      await stopRunners(runners);
      await viaA.close();
      await viaB.close();
      for (const waiter of waiters) await waiter.close();
      for (const server of servers) await server.close();
      for (const store of stores) await store.close();
    }
  }, 90_000);
  it("survives a replica process SIGKILLed mid-run and restarted on its port: runners reconnect, nothing acknowledged is lost or duplicated", async () => {
    // The command line serves the default schema, so this run gets a database of its own.
    const database = `tt_kill_${randomBytes(6).toString("hex")}`;
    await admin!.query(`CREATE DATABASE "${database}"`);
    databases.push(database);
    const target = new URL(url!);
    target.pathname = `/${database}`;
    const storeUrl = target.toString();
    const [portA, portB] = [await freePort(), await freePort()];
    let a = await serveProcess(storeUrl, portA);
    const b = await serveProcess(storeUrl, portB);
    const [urlA, urlB] = [`http://127.0.0.1:${portA}`, `http://127.0.0.1:${portB}`];
    const [onA, onB] = [newAcks(), newAcks()];
    const runners = Array.from({ length: 40 }, (_, i) =>
      startRunner(i % 2 === 0 ? urlA : urlB, i % 2 === 0 ? onA : onB, { workerId: `kill-runner-${i}`, concurrency: 2, heartbeatIntervalMs: 500 }),
    );
    const viaA = new HttpStore(urlA, { logger: quiet });
    const viaB = new HttpStore(urlB, { logger: quiet });
    try {
      const total = 300;
      const ids = Array.from({ length: total }, (_, n) => `kill-${database}-${n}`);
      // Retry-friendly rollouts: a claim whose answer died with the server is recovered by its heartbeat timeout.
      const requests = ids.map((id, n) => ({ rolloutId: id, input: { id, n }, config: { heartbeatTimeoutMs: 4000, maxAttempts: 3 } }));
      await viaA.enqueueMany(requests.slice(0, 200));
      const deadline = performance.now() + 30_000;
      while ((await viaB.stats()).rollouts.succeeded < 50) {
        if (performance.now() > deadline) throw new Error("the runners made no progress");
        await new Promise((r) => setTimeout(r, 20));
      }
      a.child.kill("SIGKILL");
      await a.exited;
      // Sent while A is down: acknowledged only once A is back (the client retries; the ids make that safe).
      const late = viaA.enqueueMany(requests.slice(200));
      await new Promise((r) => setTimeout(r, 300));
      a = await serveProcess(storeUrl, portA);
      await late;
      const ended = await viaB.waitForRollouts(ids, { timeoutMs: 60_000 });
      expect(ended.map((r) => [r.status, r.finalReward])).toEqual(ids.map((_, n) => ["succeeded", n % 2]));
      // The runners on A reconnected to the restarted process: with B's runners gone, they run a last batch alone.
      // (The pause lets B close the long-polls those runners left: one still open could claim work and lose it.)
      await stopRunners(runners.filter((_, i) => i % 2 === 1));
      await new Promise((r) => setTimeout(r, 300));
      const tail = Array.from({ length: 20 }, (_, n) => ({
        rolloutId: `kill-${database}-tail-${n}`,
        input: { id: `kill-${database}-tail-${n}`, n },
        config: { heartbeatTimeoutMs: 4000, maxAttempts: 3 },
      }));
      await viaA.enqueueMany(tail);
      const tailEnded = await viaB.waitForRollouts(tail.map((t) => t.rolloutId), { timeoutMs: 30_000 });
      expect(tailEnded.map((r) => [r.status, r.finalReward])).toEqual(tail.map((_, n) => ["succeeded", n % 2]));
      // Runners 0, 2, 4, … are A's.
      expect(tailEnded.map((r) => /^kill-runner-\d*[02468]$/.test(r.attempts.at(-1)?.workerId ?? ""))).toEqual(tail.map(() => true));
      ids.push(...tail.map((t) => t.rolloutId));
      await stopRunners(runners.splice(0).filter((_, i) => i % 2 === 0));
      const acks: Acks = {
        claims: new Map([...onA.claims, ...onB.claims]),
        spans: [...onA.spans, ...onB.spans],
        completions: new Map([...onA.completions, ...onB.completions]),
        completedAt: new Map(),
      };
      expect(acks.claims.size).toBeGreaterThanOrEqual(total);

      // The database agrees, read directly: every acknowledged rollout, claim, span and completion is there, once.
      const store = new PostgresStore(storeUrl, { watchdogIntervalMs: false, logger: quiet });
      try {
        const stats = await store.stats();
        expect(stats.rollouts).toMatchObject({ total: ids.length, succeeded: ids.length });
        const stored = new Map<string, Awaited<ReturnType<Store["getRollout"]>>>();
        for (let cursor: string | null | undefined; cursor !== null; ) {
          const page = await store.queryRollouts({ limit: 1000, ...(cursor ? { cursor } : {}) });
          for (const r of page.items) stored.set(r.rolloutId, r);
          cursor = page.nextCursor;
        }
        expect([...stored.keys()].sort()).toEqual([...ids].sort());
        const attempts = new Map([...stored.values()].flatMap((r) => r.attempts.map((at) => [at.attemptId, at] as const)));
        for (const [attemptId, rolloutId] of acks.claims) expect(attempts.get(attemptId)?.rolloutId, `claimed attempt ${attemptId}`).toBe(rolloutId);
        for (const [attemptId, status] of acks.completions) expect(attempts.get(attemptId)?.status, `completed attempt ${attemptId}`).toBe(status);
        const spanCounts = new Map<string, number>();
        for (const id of ids) {
          for (const span of (await store.querySpans({ rolloutId: id, limit: 10_000 })).items) {
            const key = `${span.rolloutId}/${span.attemptId}/${span.spanId}`;
            spanCounts.set(key, (spanCounts.get(key) ?? 0) + 1);
          }
        }
        expect([...spanCounts.values()].every((n) => n === 1)).toBe(true);
        const lost = acks.spans.filter((s) => !spanCounts.has(`${s.rolloutId}/${s.attemptId}/${s.spanId}`));
        expect(lost).toEqual([]);
        for (const r of stored.values()) {
          // Exactly one successful attempt, the last one, and every attempt before it ended otherwise.
          expect(r.attempts.filter((at) => at.status === "succeeded").map((at) => at.sequence), r.rolloutId).toEqual([r.attempts.length]);
        }
        await expectSpansOnce(store, ids);
        const retried = [...stored.values()].filter((r) => r.attempts.length > 1).length;
        console.info(`[replicas] after the SIGKILL: ${acks.claims.size} claims acknowledged, ${acks.spans.length} spans, ${retried} rollouts retried after a lost claim or a silent attempt`);
      } finally {
        await store.close();
      }
    } finally {
      await stopRunners(runners);
      await viaA.close();
      await viaB.close();
      for (const server of [a, b]) {
        server.child.kill("SIGTERM");
        await server.exited;
      }
    }
  }, 120_000);
});
