/**
 * The Store conformance suite: one set of behaviours every backend must show — ours (memory,
 * SQLite, PostgreSQL, HTTP) and yours. A backend's test file calls
 * `describeStoreConformance(name, factory, vitest)`; the factory opens a fresh, empty store.
 *
 * The suite is written for vitest and takes its API as an argument, so tracetrain itself does not
 * depend on vitest:
 *
 * @example
 * import * as vitest from "vitest";
 * import { describeStoreConformance } from "tracetrain/testing";
 * describeStoreConformance("my store", { open: (options) => MyStore.open(options) }, vitest);
 */
import type * as Vitest from "vitest";
import type { SpanInput } from "../types/index.js";
import { ConflictError, NotFoundError, StoreClosedError, ValidationError } from "../types/index.js";
import type { Store, StoreEventMap, StoreOptions } from "../store/index.js";
import { sleep } from "../util/index.js";
import { rejectionAssertion } from "./rejection.js";
import { makeSpan } from "./spans.js";

/** The parts of vitest the suite uses: pass `import * as vitest from "vitest"`. */
export type ConformanceTestApi = Pick<typeof Vitest, "describe" | "it" | "expect" | "beforeEach" | "afterEach" | "vi">;

export interface StoreFactory {
  /** Opens a new, empty store. */
  open(options?: StoreOptions): Promise<Store>;
  /** Whether the store's `sweep()` can be called directly (in-process stores). */
  sweepable?: boolean;
  /** Events arrive asynchronously over a connection (HttpStore): tests wait for the stream and for delivery. */
  remoteEvents?: boolean;
}

type Sweepable = Store & { sweep(): Promise<number> };

/** Once a listener is attached, waits until events will be delivered (a no-op for in-process stores). */
async function eventsReady(store: Store): Promise<void> {
  await (store.events as { connected?: () => Promise<void> }).connected?.();
}

/** Every page of a listing in order, following `nextCursor` until it is null. */
async function pagesOf<T>(fetch: (cursor: string | undefined) => Promise<{ items: T[]; nextCursor: string | null }>): Promise<T[][]> {
  const pages: T[][] = [];
  let cursor: string | undefined;
  do {
    const page = await fetch(cursor);
    pages.push(page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return pages;
}

const withCursor = (cursor: string | undefined) => (cursor === undefined ? {} : { cursor });

export function describeStoreConformance(name: string, factory: StoreFactory, test: ConformanceTestApi): void {
  const { afterEach, beforeEach, describe, expect, it, vi } = test;
  /** Retries an assertion until it holds: events of a remote store arrive shortly after the call that caused them. */
  const eventually = (assertion: () => void) => vi.waitFor(assertion, { timeout: 5000, interval: 10 });
  /** Asserts that `promise` rejects with an instance of `type`, and returns the error for further checks. */
  const expectCode = rejectionAssertion(expect);

  describe(`Store conformance: ${name}`, () => {
    let store: Store;
    const opened: Store[] = [];

    async function open(options: StoreOptions = { watchdogIntervalMs: false }): Promise<Store> {
      const s = await factory.open(options);
      opened.push(s);
      return s;
    }

    beforeEach(async () => {
      store = await open();
    });

    afterEach(async () => {
      vi.useRealTimers();
      await Promise.all(opened.splice(0).map((s) => s.close()));
    });

    /** Enqueues one rollout and claims it. */
    async function claimOne(request: Parameters<Store["enqueue"]>[0] = { input: "task" }, workerId = "w1") {
      const rollout = await store.enqueue(request);
      const [claimed] = await store.dequeue({ workerId });
      expect(claimed?.rollout.rolloutId).toBe(rollout.rolloutId);
      return claimed!;
    }

    /** Enqueues and claims `n` rollouts, one after another. */
    async function claimMany(n: number) {
      const claimed = [];
      for (let i = 0; i < n; i++) claimed.push(await claimOne({ input: i }, `w${i}`));
      return claimed;
    }

    // ---- lifecycle -------------------------------------------------------------------------

    describe("lifecycle", () => {
      it("enqueues a rollout with sensible defaults", async () => {
        const before = Date.now();
        const rollout = await store.enqueue({ input: { question: "2+2?" } });
        expect(rollout).toMatchObject({
          input: { question: "2+2?" },
          mode: "train",
          status: "queuing",
          resourcesId: null,
          metadata: {},
          endedAt: null,
          finalReward: null,
          attempts: [],
          config: { maxAttempts: 1, retryOn: ["infra_error", "unresponsive"] },
        });
        expect(rollout.rolloutId).toMatch(/^ro-[0-9a-f]{16}$/);
        expect(rollout.createdAt).toBeGreaterThanOrEqual(before);
        expect(await store.getRollout(rollout.rolloutId)).toEqual(rollout);
      });

      it("runs queuing → running → succeeded, recording the attempt, worker and reward", async () => {
        const rollout = await store.enqueue({ input: 1, mode: "val", metadata: { source: "unit" } });
        const [claimed] = await store.dequeue({ workerId: "worker-a" });
        expect(claimed!.rollout.status).toBe("running");
        expect(claimed!.attempt).toMatchObject({
          rolloutId: rollout.rolloutId,
          sequence: 1,
          workerId: "worker-a",
          status: "preparing",
          endedAt: null,
          error: null,
          spanCount: 0,
        });
        expect(claimed!.attempt.attemptId).toMatch(/^at-[0-9a-f]{16}$/);

        const beat = await store.heartbeat({ workerId: "worker-a", attempts: [claimed!.attempt] });
        expect(beat.attempts).toEqual([{ rolloutId: rollout.rolloutId, attemptId: claimed!.attempt.attemptId, status: "running" }]);

        const done = await store.completeAttempt(rollout.rolloutId, claimed!.attempt.attemptId, { status: "succeeded", finalReward: 0.75 });
        expect(done.attempt).toMatchObject({ status: "succeeded", finalReward: 0.75 });
        expect(done.attempt.endedAt).not.toBeNull();
        expect(done.rollout).toMatchObject({ status: "succeeded", finalReward: 0.75, mode: "val", metadata: { source: "unit" } });
        expect(done.rollout.endedAt).not.toBeNull();
        const stored = await store.getRollout(rollout.rolloutId);
        expect(stored).toEqual(done.rollout);
        expect(stored.attempts).toHaveLength(1);
      });

      it("succeeds without a reward, leaving finalReward null", async () => {
        const { rollout, attempt } = await claimOne();
        const done = await store.completeAttempt(rollout.rolloutId, attempt.attemptId, { status: "succeeded" });
        expect(done.rollout).toMatchObject({ status: "succeeded", finalReward: null });
      });

      it("fails on an agent error with the default policy, keeping the error", async () => {
        const { rollout, attempt } = await claimOne();
        const done = await store.completeAttempt(rollout.rolloutId, attempt.attemptId, {
          status: "failed",
          error: { kind: "agent_error", message: "boom" },
          finalReward: 0,
        });
        expect(done.attempt).toMatchObject({ status: "failed", error: { kind: "agent_error", message: "boom" } });
        expect(done.rollout).toMatchObject({ status: "failed", finalReward: 0 });
      });

      it("treats a repeated identical completion as a no-op and a different one as a conflict", async () => {
        const { rollout, attempt } = await claimOne();
        const first = await store.completeAttempt(rollout.rolloutId, attempt.attemptId, { status: "succeeded", finalReward: 1 });
        const again = await store.completeAttempt(rollout.rolloutId, attempt.attemptId, { status: "succeeded", finalReward: 1 });
        expect(again.rollout).toEqual(first.rollout);
        await expectCode(
          store.completeAttempt(rollout.rolloutId, attempt.attemptId, { status: "failed", error: { kind: "agent_error", message: "late" } }),
          ConflictError,
        );
        expect(await store.getRollout(rollout.rolloutId)).toEqual(first.rollout);
      });

      it("dequeues oldest first, honours limit, and returns [] when empty", async () => {
        const rollouts = await store.enqueueMany([{ input: 1 }, { input: 2 }, { input: 3 }]);
        expect(rollouts.map((r) => r.input)).toEqual([1, 2, 3]);
        const firstTwo = await store.dequeue({ workerId: "w", limit: 2 });
        expect(firstTwo.map((c) => c.rollout.input)).toEqual([1, 2]);
        const last = await store.dequeue({ workerId: "w", limit: 10 });
        expect(last.map((c) => c.rollout.input)).toEqual([3]);
        expect(await store.dequeue({ workerId: "w" })).toEqual([]);
        expect(await store.dequeue()).toEqual([]);
      });

      it("dequeues without a worker id", async () => {
        await store.enqueue({ input: "anon" });
        const [claimed] = await store.dequeue();
        expect(claimed!.attempt.workerId).toBeNull();
      });

      it("enqueues idempotently when the caller supplies rolloutId", async () => {
        const events: string[] = [];
        store.events.on("rollout", (e) => events.push(`${e.rolloutId}:${e.status}`));
        await eventsReady(store);
        const first = await store.enqueue({ input: "a", rolloutId: "job-1" });
        const second = await store.enqueue({ input: "DIFFERENT", rolloutId: "job-1" });
        expect(second).toEqual(first);
        const batch = await store.enqueueMany([
          { input: "b", rolloutId: "job-2" },
          { input: "b again", rolloutId: "job-2" },
          { input: "a again", rolloutId: "job-1" },
        ]);
        expect(batch[0]!.input).toBe("b");
        expect(batch[1]).toEqual(batch[0]);
        expect(batch[2]).toEqual(first);
        await eventually(() => expect(events).toEqual(["job-1:queuing", "job-2:queuing"]));
        expect((await store.stats()).rollouts.total).toBe(2);
        const claimed = await store.dequeue({ limit: 10 });
        expect(claimed.map((c) => c.rollout.rolloutId)).toEqual(["job-1", "job-2"]);
      });

      it("starts a rollout directly, bypassing the queue, idempotently by id", async () => {
        await store.enqueue({ input: "queued" });
        const started = await store.startRollout({ input: "online", rolloutId: "online-1", workerId: "w-online" });
        expect(started.rollout).toMatchObject({ rolloutId: "online-1", status: "running" });
        expect(started.attempt).toMatchObject({ sequence: 1, status: "preparing", workerId: "w-online" });
        const again = await store.startRollout({ input: "online", rolloutId: "online-1" });
        expect(again.attempt.attemptId).toBe(started.attempt.attemptId);
        const [claimed] = await store.dequeue({ limit: 5 });
        expect(claimed!.rollout.input).toBe("queued");
        await store.enqueue({ input: "q", rolloutId: "queued-2" });
        await expectCode(store.startRollout({ input: "q", rolloutId: "queued-2" }), ConflictError);
        const done = await store.completeAttempt("online-1", started.attempt.attemptId, { status: "succeeded", finalReward: 2 });
        expect(done.rollout.status).toBe("succeeded");
      });

      it("throws NotFoundError for unknown rollouts and attempts", async () => {
        await expectCode(store.getRollout("ro-missing"), NotFoundError);
        await expectCode(store.completeAttempt("ro-missing", "at-missing", { status: "succeeded" }), NotFoundError);
        const { rollout } = await claimOne();
        await expectCode(store.completeAttempt(rollout.rolloutId, "at-missing", { status: "succeeded" }), NotFoundError);
        await expectCode(store.cancelRollout("ro-missing"), NotFoundError);
        await expectCode(store.heartbeat({ workerId: "w", attempts: [{ rolloutId: rollout.rolloutId, attemptId: "at-nope" }] }), NotFoundError);
        await expectCode(store.querySpans({ rolloutId: "ro-missing" }), NotFoundError);
        await expectCode(store.querySpans({ rolloutId: rollout.rolloutId, attemptId: "at-nope" }), NotFoundError);
      });

      it("does not let an attempt be addressed through another rollout", async () => {
        const a = await claimOne({ input: "a" });
        const b = await claimOne({ input: "b" });
        await expectCode(store.completeAttempt(b.rollout.rolloutId, a.attempt.attemptId, { status: "succeeded" }), NotFoundError);
        await expectCode(store.addSpans([makeSpan({ rolloutId: b.rollout.rolloutId, attemptId: a.attempt.attemptId })]), NotFoundError);
        expect((await store.getRollout(a.rollout.rolloutId)).status).toBe("running");
      });
    });

    // ---- retries -----------------------------------------------------------------------------

    describe("retry policy", () => {
      it("retries an infrastructure failure; the failed attempt's spans stay queryable but outside the trajectory", async () => {
        const rollout = await store.enqueue({ input: "x", config: { maxAttempts: 3 } });
        const [first] = await store.dequeue({ workerId: "w1" });
        await store.addSpans([makeSpan(first!, { name: "first.llm" }), makeSpan(first!, { name: "first.tool" })]);
        const failed = await store.completeAttempt(rollout.rolloutId, first!.attempt.attemptId, {
          status: "failed",
          error: { kind: "infra_error", message: "resource fetch failed" },
        });
        expect(failed.rollout.status).toBe("requeuing");
        expect(failed.rollout.endedAt).toBeNull();
        expect(failed.attempt.status).toBe("failed");

        const [second] = await store.dequeue({ workerId: "w2" });
        expect(second!.rollout.rolloutId).toBe(rollout.rolloutId);
        expect(second!.attempt).toMatchObject({ sequence: 2, workerId: "w2", status: "preparing" });
        await store.addSpans([makeSpan(second!, { name: "second.llm" })]);
        const done = await store.completeAttempt(rollout.rolloutId, second!.attempt.attemptId, { status: "succeeded", finalReward: 1 });
        expect(done.rollout).toMatchObject({ status: "succeeded", finalReward: 1 });
        expect(done.rollout.attempts.map((a) => a.status)).toEqual(["failed", "succeeded"]);

        const latest = await store.querySpans({ rolloutId: rollout.rolloutId, attemptId: "latest" });
        expect(latest.items.map((s) => s.name)).toEqual(["second.llm"]);
        const old = await store.querySpans({ rolloutId: rollout.rolloutId, attemptId: first!.attempt.attemptId });
        expect(old.items.map((s) => s.name)).toEqual(["first.llm", "first.tool"]);
        const all = await store.querySpans({ rolloutId: rollout.rolloutId });
        expect(all.items.map((s) => [s.attemptId, s.sequence])).toEqual([
          [first!.attempt.attemptId, 1],
          [first!.attempt.attemptId, 2],
          [second!.attempt.attemptId, 1],
        ]);
      });

      it("does not retry agent errors by default, even with attempts left", async () => {
        const { rollout, attempt } = await claimOne({ input: "x", config: { maxAttempts: 3 } });
        const done = await store.completeAttempt(rollout.rolloutId, attempt.attemptId, {
          status: "failed",
          error: { kind: "agent_error", message: "wrong answer" },
        });
        expect(done.rollout.status).toBe("failed");
        expect(await store.dequeue()).toEqual([]);
      });

      it("retries agent errors when retryOn says so, until maxAttempts is used up", async () => {
        const rollout = await store.enqueue({ input: "x", config: { maxAttempts: 2, retryOn: ["agent_error"] } });
        for (const expected of ["requeuing", "failed"] as const) {
          const [claimed] = await store.dequeue();
          const done = await store.completeAttempt(rollout.rolloutId, claimed!.attempt.attemptId, {
            status: "failed",
            error: { kind: "agent_error", message: "no" },
          });
          expect(done.rollout.status).toBe(expected);
        }
        const final = await store.getRollout(rollout.rolloutId);
        expect(final.attempts.map((a) => a.sequence)).toEqual([1, 2]);
        expect(final.endedAt).not.toBeNull();
        expect(await store.dequeue()).toEqual([]);
      });

      it("maps runner-reported timeout and unresponsive failures to attempt statuses and retries per policy", async () => {
        const rollout = await store.enqueue({ input: "x", config: { maxAttempts: 3, retryOn: ["timeout"] } });
        const [a1] = await store.dequeue();
        const r1 = await store.completeAttempt(rollout.rolloutId, a1!.attempt.attemptId, {
          status: "failed",
          error: { kind: "timeout", message: "agent exceeded its budget" },
        });
        expect(r1.attempt.status).toBe("timeout");
        expect(r1.rollout.status).toBe("requeuing");
        const [a2] = await store.dequeue();
        const r2 = await store.completeAttempt(rollout.rolloutId, a2!.attempt.attemptId, {
          status: "failed",
          error: { kind: "unresponsive", message: "lost" },
        });
        expect(r2.attempt.status).toBe("unresponsive");
        expect(r2.rollout.status).toBe("failed");
      });

      it("re-queues a retried rollout behind work that was already waiting", async () => {
        const retried = await store.enqueue({ input: "retried", config: { maxAttempts: 2 } });
        const [claimed] = await store.dequeue();
        await store.enqueue({ input: "waiting" });
        await store.completeAttempt(retried.rolloutId, claimed!.attempt.attemptId, {
          status: "failed",
          error: { kind: "infra_error", message: "x" },
        });
        const next = await store.dequeue({ limit: 2 });
        expect(next.map((c) => c.rollout.input)).toEqual(["waiting", "retried"]);
      });
    });

    // ---- watchdog ----------------------------------------------------------------------------

    describe("watchdog", () => {
      it.runIf(factory.sweepable ?? true)("marks an attempt past timeoutMs as timeout and rejects its late success", async () => {
        vi.useFakeTimers({ toFake: ["Date"] });
        vi.setSystemTime(1_000_000);
        const s = store as Sweepable;
        const { rollout, attempt } = await claimOne({ input: "slow", config: { timeoutMs: 5_000 } });
        vi.setSystemTime(1_004_999);
        expect(await s.sweep()).toBe(0);
        vi.setSystemTime(1_005_000);
        expect(await s.sweep()).toBe(1);
        const timedOut = await store.getRollout(rollout.rolloutId);
        expect(timedOut.status).toBe("failed");
        expect(timedOut.attempts[0]).toMatchObject({ status: "timeout", endedAt: 1_005_000, error: { kind: "timeout" } });
        await expectCode(store.completeAttempt(rollout.rolloutId, attempt.attemptId, { status: "succeeded", finalReward: 1 }), ConflictError);
        expect(await store.getRollout(rollout.rolloutId)).toEqual(timedOut);
        const beat = await store.heartbeat({ workerId: "w1", attempts: [attempt] });
        expect(beat.attempts[0]!.status).toBe("timeout");
      });

      it.runIf(factory.sweepable ?? true)("marks a silent attempt unresponsive; heartbeats and spans keep it alive", async () => {
        vi.useFakeTimers({ toFake: ["Date"] });
        vi.setSystemTime(2_000_000);
        const s = store as Sweepable;
        const claimed = await claimOne({ input: "quiet", config: { heartbeatTimeoutMs: 1_000, maxAttempts: 2 } });
        vi.setSystemTime(2_000_900);
        await store.heartbeat({ workerId: "w1", attempts: [claimed.attempt] });
        vi.setSystemTime(2_001_800);
        await store.addSpans([makeSpan(claimed)]);
        vi.setSystemTime(2_002_700);
        expect(await s.sweep()).toBe(0);
        vi.setSystemTime(2_002_800);
        expect(await s.sweep()).toBe(1);
        const rollout = await store.getRollout(claimed.rollout.rolloutId);
        expect(rollout.status).toBe("requeuing");
        expect(rollout.attempts[0]).toMatchObject({ status: "unresponsive", error: { kind: "unresponsive" } });
        const [retry] = await store.dequeue();
        expect(retry!.attempt.sequence).toBe(2);
        // A late span for the dead attempt is kept for inspection but revives nothing.
        await store.addSpans([makeSpan(claimed, { name: "late" })]);
        const after = await store.getRollout(claimed.rollout.rolloutId);
        expect(after.attempts[0]!.status).toBe("unresponsive");
        expect(after.attempts[0]!.spanCount).toBe(2);
        expect(after.status).toBe("running");
      });

      it.runIf(factory.sweepable ?? true)("gives back a claim nobody confirms within claimTimeoutMs, whatever maxAttempts says", async () => {
        vi.useFakeTimers({ toFake: ["Date"] });
        vi.setSystemTime(3_000_000);
        const s = store as Sweepable;
        // A claim whose answer was lost (or whose worker died before starting it) is never confirmed.
        const lost = await claimOne({ input: "lost", config: { claimTimeoutMs: 1_000 } });
        const kept = await claimOne({ input: "kept", config: { claimTimeoutMs: 1_000 } });
        vi.setSystemTime(3_000_500);
        await store.heartbeat({ workerId: "w1", attempts: [kept.attempt] });
        vi.setSystemTime(3_000_999);
        expect(await s.sweep()).toBe(0);
        vi.setSystemTime(3_001_000);
        expect(await s.sweep()).toBe(1);
        const released = await store.getRollout(lost.rollout.rolloutId);
        expect(released.status).toBe("requeuing");
        expect(released.attempts[0]).toMatchObject({ status: "failed", error: { kind: "infra_error" } });
        expect(released.attempts[0]!.error!.message).toContain("claimTimeoutMs of 1000 ms");
        expect((await store.getRollout(kept.rollout.rolloutId)).attempts[0]!.status).toBe("running");
        const [again] = await store.dequeue();
        expect(again!.rollout.rolloutId).toBe(lost.rollout.rolloutId);
        expect(again!.attempt.sequence).toBe(2);
        await store.completeAttempt(again!.rollout.rolloutId, again!.attempt.attemptId, { status: "succeeded" });
        // The default lease is 60 s.
        const other = await claimOne({ input: "default" });
        vi.setSystemTime(3_001_000 + 59_999);
        expect(await s.sweep()).toBe(0);
        vi.setSystemTime(3_001_000 + 60_000);
        expect(await s.sweep()).toBe(1);
        expect((await store.getRollout(other.rollout.rolloutId)).status).toBe("requeuing");
      });

      it("runs on its own timer, with no other call needed", async () => {
        const timed = await open({ watchdogIntervalMs: 10 });
        const rollout = await timed.enqueue({ input: "x", config: { timeoutMs: 30 } });
        await timed.dequeue();
        const [ended] = await timed.waitForRollouts([rollout.rolloutId], { timeoutMs: 10_000 });
        expect(ended!.status).toBe("failed");
        expect(ended!.attempts[0]!.status).toBe("timeout");
      });

      it.runIf(factory.sweepable ?? true)("can be stopped and started again", async () => {
        const timed = (await open({ watchdogIntervalMs: 10 })) as Store & {
          stopWatchdog(): Promise<void>;
          startWatchdog(): void;
          watchdogActive: boolean;
        };
        expect(timed.watchdogActive).toBe(true);
        await timed.stopWatchdog();
        expect(timed.watchdogActive).toBe(false);
        const rollout = await timed.enqueue({ input: "x", config: { timeoutMs: 20 } });
        await timed.dequeue();
        await sleep(100);
        expect((await timed.getRollout(rollout.rolloutId)).status).toBe("running");
        timed.startWatchdog();
        const [ended] = await timed.waitForRollouts([rollout.rolloutId], { timeoutMs: 10_000 });
        expect(ended!.attempts[0]!.status).toBe("timeout");
      });
    });

    // ---- cancellation ------------------------------------------------------------------------

    describe("cancellation", () => {
      it("cancels a queued rollout so it is never handed out", async () => {
        const rollout = await store.enqueue({ input: "x" });
        const cancelled = await store.cancelRollout(rollout.rolloutId);
        expect(cancelled).toMatchObject({ status: "cancelled", attempts: [] });
        expect(cancelled.endedAt).not.toBeNull();
        expect(await store.dequeue()).toEqual([]);
        expect(await store.cancelRollout(rollout.rolloutId)).toEqual(cancelled);
      });

      it("cancels a running rollout and tells its worker through the heartbeat", async () => {
        const { rollout, attempt } = await claimOne();
        const cancelled = await store.cancelRollout(rollout.rolloutId, { reason: "user pressed stop" });
        expect(cancelled.status).toBe("cancelled");
        expect(cancelled.attempts[0]).toMatchObject({ status: "cancelled", error: { kind: "cancelled", message: "user pressed stop" } });
        const beat = await store.heartbeat({ workerId: "w1", attempts: [attempt] });
        expect(beat.attempts[0]!.status).toBe("cancelled");
        await expectCode(store.completeAttempt(rollout.rolloutId, attempt.attemptId, { status: "succeeded" }), ConflictError);
      });

      it("refuses to cancel a rollout that has ended", async () => {
        const { rollout, attempt } = await claimOne();
        await store.completeAttempt(rollout.rolloutId, attempt.attemptId, { status: "succeeded" });
        await expectCode(store.cancelRollout(rollout.rolloutId), ConflictError);
      });

      it("never retries a cancelled rollout", async () => {
        const { rollout } = await claimOne({ input: "x", config: { maxAttempts: 5, retryOn: ["agent_error", "infra_error", "timeout", "unresponsive"] } });
        await store.cancelRollout(rollout.rolloutId);
        expect(await store.dequeue()).toEqual([]);
      });
    });

    // ---- concurrency -------------------------------------------------------------------------

    describe("concurrency", () => {
      it("never hands one rollout to two of 50 concurrent workers", async () => {
        const total = 300;
        await store.enqueueMany(Array.from({ length: total }, (_, i) => ({ input: i })));
        const seen: string[] = [];
        await Promise.all(
          Array.from({ length: 50 }, async (_, w) => {
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
        expect(seen).toHaveLength(total);
        expect(new Set(seen).size).toBe(total);
        const stats = await store.stats();
        expect(stats.rollouts.succeeded).toBe(total);
        expect(stats.attempts.total).toBe(total);
      });

      it("wakes 50 long-polling workers as work arrives, each rollout exactly once", async () => {
        const seen: string[] = [];
        const workers = Array.from({ length: 50 }, async (_, w) => {
          const claimed = await store.dequeue({ workerId: `w${w}`, waitMs: 10_000 });
          for (const c of claimed) seen.push(c.rollout.rolloutId);
        });
        await sleep(20);
        await store.enqueueMany(Array.from({ length: 50 }, (_, i) => ({ input: i })));
        await Promise.all(workers);
        expect(seen).toHaveLength(50);
        expect(new Set(seen).size).toBe(50);
      });

      // Backends may serve concurrent calls together (PostgreSQL batches them into one
      // transaction); each call must still behave as if it ran alone.

      it("numbers 20 concurrent span batches to one attempt 1..n, storing a span id sent twice once", async () => {
        const claimed = await claimOne();
        const pool = Array.from({ length: 62 }, (_, i) => makeSpan(claimed, { name: `s${i}` }));
        // Each call sends 5 spans; calls overlap, so 38 of the 100 sent are repeats.
        const calls = Array.from({ length: 20 }, (_, c) => pool.slice(c * 3, c * 3 + 5));
        const results = await Promise.all(calls.map((spans) => store.addSpans(spans)));
        const unique = new Set(calls.flat().map((s) => s.spanId)).size;
        expect(unique).toBe(62);
        expect(results.reduce((sum, r) => sum + r.added, 0)).toBe(unique);
        expect(results.reduce((sum, r) => sum + r.added + r.duplicates, 0)).toBe(100);
        const stored = (await store.querySpans({ rolloutId: claimed.rollout.rolloutId, limit: 1000 })).items;
        expect(stored.map((s) => s.sequence)).toEqual(Array.from({ length: unique }, (_, i) => i + 1));
        expect(new Set(stored.map((s) => s.spanId)).size).toBe(unique);
        expect((await store.getRollout(claimed.rollout.rolloutId)).attempts[0]!.spanCount).toBe(unique);
      });

      it("fails only the concurrent calls that name an unknown attempt or rollout", async () => {
        const claimed = await claimMany(8);
        const outcomes = await Promise.allSettled(
          claimed.flatMap((c, i) => [
            store.addSpans([makeSpan(c), makeSpan(c)]),
            store.addSpans([makeSpan(c), makeSpan({ rolloutId: c.rollout.rolloutId, attemptId: `at-missing-${i}` })]),
            store.completeAttempt(`ro-missing-${i}`, c.attempt.attemptId, { status: "succeeded" }),
            store.completeAttempt(c.rollout.rolloutId, `at-missing-${i}`, { status: "succeeded" }),
          ]),
        );
        outcomes.forEach((outcome, i) => {
          if (i % 4 === 0) expect(outcome).toEqual({ status: "fulfilled", value: { added: 2, duplicates: 0 } });
          else expect(outcome.status === "rejected" && outcome.reason).toBeInstanceOf(NotFoundError);
        });
        for (const c of claimed) {
          const rollout = await store.getRollout(c.rollout.rolloutId);
          expect(rollout.status).toBe("running");
          expect(rollout.attempts[0]!.spanCount).toBe(2);
        }
        expect((await store.stats()).spans).toBe(16);
      });

      it("settles each rollout once when completions and cancellations race", async () => {
        const claimed = await claimMany(12);
        const outcomes = await Promise.all(
          claimed.map(async (c, i) => {
            const complete = () => store.completeAttempt(c.rollout.rolloutId, c.attempt.attemptId, { status: "succeeded", finalReward: i });
            const cancel = () => store.cancelRollout(c.rollout.rolloutId);
            // Alternate which call goes first, so both orders race.
            const [first, second] = await Promise.allSettled(i % 2 ? [complete(), cancel()] : [cancel(), complete()]);
            return i % 2 ? { completed: first!, cancelled: second! } : { completed: second!, cancelled: first! };
          }),
        );
        for (const [i, { completed, cancelled }] of outcomes.entries()) {
          // Exactly one wins; the loser sees a conflict; the stored rollout agrees with the winner.
          expect([completed.status, cancelled.status].sort()).toEqual(["fulfilled", "rejected"]);
          const loser = completed.status === "rejected" ? completed : cancelled;
          expect(loser.status === "rejected" && loser.reason).toBeInstanceOf(ConflictError);
          const rollout = await store.getRollout(claimed[i]!.rollout.rolloutId);
          if (completed.status === "fulfilled") expect([rollout.status, rollout.finalReward]).toEqual(["succeeded", i]);
          else expect(rollout.status).toBe("cancelled");
        }
      });
    });

    // ---- long-poll ---------------------------------------------------------------------------

    describe("long-poll dequeue", () => {
      it("wakes as soon as work arrives, long before waitMs", async () => {
        const started = performance.now();
        const waiting = store.dequeue({ workerId: "w", waitMs: 30_000 });
        await sleep(30);
        await store.enqueue({ input: "late" });
        const claimed = await waiting;
        expect(claimed.map((c) => c.rollout.input)).toEqual(["late"]);
        expect(performance.now() - started).toBeLessThan(10_000);
      });

      it("returns [] once waitMs passes with no work", async () => {
        expect(await store.dequeue({ workerId: "w", waitMs: 50 })).toEqual([]);
      });

      it("is woken by a requeued rollout", async () => {
        const rollout = await store.enqueue({ input: "x", config: { maxAttempts: 2 } });
        const [claimed] = await store.dequeue();
        const waiting = store.dequeue({ waitMs: 30_000 });
        await sleep(20);
        await store.completeAttempt(rollout.rolloutId, claimed!.attempt.attemptId, { status: "failed", error: { kind: "infra_error", message: "x" } });
        const [retry] = await waiting;
        expect(retry!.attempt.sequence).toBe(2);
      });

      it("stops early when its signal aborts", async () => {
        const controller = new AbortController();
        const waiting = store.dequeue({ waitMs: 30_000 }, { signal: controller.signal });
        await sleep(20);
        controller.abort();
        expect(await waiting).toEqual([]);
      });
    });

    // ---- spans -------------------------------------------------------------------------------

    describe("spans", () => {
      it("assigns sequences 1..n per attempt in arrival order and skips duplicate span ids", async () => {
        const claimed = await claimOne();
        const spans = Array.from({ length: 5 }, (_, i) => makeSpan(claimed, { name: `s${i}` }));
        expect(await store.addSpans(spans.slice(0, 3))).toEqual({ added: 3, duplicates: 0 });
        expect(await store.addSpans([spans[1]!, spans[3]!, spans[4]!, spans[4]!])).toEqual({ added: 2, duplicates: 2 });
        const page = await store.querySpans({ rolloutId: claimed.rollout.rolloutId });
        expect(page.items.map((s) => [s.name, s.sequence])).toEqual([
          ["s0", 1],
          ["s1", 2],
          ["s2", 3],
          ["s3", 4],
          ["s4", 5],
        ]);
        expect(page.nextCursor).toBeNull();
        expect((await store.getRollout(claimed.rollout.rolloutId)).attempts[0]!.spanCount).toBe(5);
      });

      it("stores every field of a span as sent", async () => {
        const claimed = await claimOne();
        const span: SpanInput = {
          ...makeSpan(claimed, { name: "gen_ai.chat" }),
          parentId: "00000000000000aa",
          kind: "client",
          startTime: 1700000000000.25,
          endTime: 1700000000123.5,
          status: { code: "error", message: "rate limited" },
          attributes: {
            "gen_ai.request.model": "m",
            "gen_ai.usage.input_tokens": 12,
            "tracetrain.llm.prompt_token_ids": [1, 2, 3],
            nested: { messages: [{ role: "user", content: "hi" }], flag: true, none: null },
          },
          events: [{ name: "retry", time: 1700000000001, attributes: { attempt: 2 } }],
          links: [{ traceId: "0000000000000000000000000000abcd", spanId: "00000000000000bb", attributes: {} }],
        };
        await store.addSpans([span]);
        const [stored] = (await store.querySpans({ rolloutId: claimed.rollout.rolloutId })).items;
        expect(stored).toEqual({ ...span, sequence: 1 });
      });

      it("accepts a batch spanning several attempts and rollouts", async () => {
        const a = await claimOne({ input: "a" });
        const b = await claimOne({ input: "b" });
        const result = await store.addSpans([makeSpan(a), makeSpan(b), makeSpan(a), makeSpan(b), makeSpan(b)]);
        expect(result).toEqual({ added: 5, duplicates: 0 });
        expect((await store.querySpans({ rolloutId: a.rollout.rolloutId })).items.map((s) => s.sequence)).toEqual([1, 2]);
        expect((await store.querySpans({ rolloutId: b.rollout.rolloutId })).items.map((s) => s.sequence)).toEqual([1, 2, 3]);
      });

      it("stores nothing from a batch that names an unknown attempt", async () => {
        const a = await claimOne();
        await expectCode(
          store.addSpans([makeSpan(a), makeSpan({ rolloutId: a.rollout.rolloutId, attemptId: "at-unknown" })]),
          NotFoundError,
        );
        expect((await store.querySpans({ rolloutId: a.rollout.rolloutId })).items).toEqual([]);
        expect((await store.stats()).spans).toBe(0);
      });

      it("pages with cursors and filters by name and name prefix", async () => {
        const claimed = await claimOne();
        const names = Array.from({ length: 25 }, (_, i) => (i % 5 === 0 ? "tracetrain.reward" : i % 2 ? "gen_ai.chat" : "tool.call"));
        await store.addSpans(names.map((name) => makeSpan(claimed, { name })));
        const collected: number[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await store.querySpans({ rolloutId: claimed.rollout.rolloutId, limit: 10, ...(cursor ? { cursor } : {}) });
          collected.push(...page.items.map((s) => s.sequence));
          cursor = page.nextCursor ?? undefined;
          pages++;
        } while (cursor);
        expect(pages).toBe(3);
        expect(collected).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));

        const rewards = await store.querySpans({ rolloutId: claimed.rollout.rolloutId, name: "tracetrain.reward" });
        expect(rewards.items.map((s) => s.sequence)).toEqual([1, 6, 11, 16, 21]);
        const prefixed = await store.querySpans({ rolloutId: claimed.rollout.rolloutId, namePrefix: "gen_ai.", limit: 3 });
        expect(prefixed.items.map((s) => s.sequence)).toEqual([2, 4, 8]);
        const next = await store.querySpans({ rolloutId: claimed.rollout.rolloutId, namePrefix: "gen_ai.", limit: 3, cursor: prefixed.nextCursor! });
        expect(next.items.map((s) => s.sequence)).toEqual([10, 12, 14]);
      });

      it("returns no spans for 'latest' on a rollout that has no attempt yet", async () => {
        const rollout = await store.enqueue({ input: "x" });
        expect(await store.querySpans({ rolloutId: rollout.rolloutId, attemptId: "latest" })).toEqual({ items: [], nextCursor: null });
      });

      it("rejects a tampered cursor with a ValidationError", async () => {
        const claimed = await claimOne();
        for (const cursor of ["not-a-cursor", Buffer.from('["x",1]').toString("base64url"), Buffer.from("[1]").toString("base64url")]) {
          await expectCode(store.querySpans({ rolloutId: claimed.rollout.rolloutId, cursor }), ValidationError);
          await expectCode(store.queryRollouts({ cursor }), ValidationError);
        }
      });
    });

    // ---- queries -----------------------------------------------------------------------------

    describe("rollout queries", () => {
      it("filters by status, mode, id prefix and creation time", async () => {
        vi.useFakeTimers({ toFake: ["Date"] });
        const ids: string[] = [];
        for (let i = 0; i < 12; i++) {
          vi.setSystemTime(10_000 + i * 100);
          ids.push((await store.enqueue({ input: i, rolloutId: `${i % 2 ? "odd" : "even"}-${String(i).padStart(2, "0")}`, mode: i % 3 === 0 ? "val" : "train" })).rolloutId);
        }
        const claimed = await store.dequeue({ limit: 3 });
        await store.completeAttempt(claimed[0]!.rollout.rolloutId, claimed[0]!.attempt.attemptId, { status: "succeeded" });
        await store.cancelRollout(ids[11]!);

        const q = async (query: Parameters<Store["queryRollouts"]>[0]) => (await store.queryRollouts(query)).items.map((r) => r.input);
        expect(await q({ status: ["running"] })).toEqual([1, 2]);
        expect(await q({ status: ["succeeded", "cancelled"] })).toEqual([0, 11]);
        expect(await q({ mode: ["val"] })).toEqual([0, 3, 6, 9]);
        expect(await q({ idPrefix: "odd-" })).toEqual([1, 3, 5, 7, 9, 11]);
        expect(await q({ idPrefix: "odd-1" })).toEqual([11]);
        expect(await q({ createdAfter: 10_300, createdBefore: 10_600 })).toEqual([3, 4, 5]);
        expect(await q({ mode: ["train"], idPrefix: "even", status: ["queuing"] })).toEqual([4, 8, 10]);
        expect(await q({ idPrefix: "nothing" })).toEqual([]);
      });

      it("pages through every rollout exactly once, in either direction", async () => {
        const created = await store.enqueueMany(Array.from({ length: 23 }, (_, i) => ({ input: i })));
        for (const order of ["asc", "desc"] as const) {
          const seen: unknown[] = [];
          let cursor: string | null = null;
          do {
            const page: Awaited<ReturnType<Store["queryRollouts"]>> = await store.queryRollouts({ limit: 5, order, ...(cursor ? { cursor } : {}) });
            seen.push(...page.items.map((r) => r.input));
            cursor = page.nextCursor;
          } while (cursor);
          const expected = created.map((r) => r.input);
          expect(seen).toEqual(order === "asc" ? expected : [...expected].reverse());
        }
      });

      it("sorts by finalReward and endedAt with unfinished rollouts last", async () => {
        vi.useFakeTimers({ toFake: ["Date"] });
        vi.setSystemTime(50_000);
        await store.enqueueMany(Array.from({ length: 6 }, (_, i) => ({ input: i })));
        const claimed = await store.dequeue({ limit: 4 });
        const rewards = [0.5, 0.9, 0.1, 0.9];
        for (const [i, c] of claimed.entries()) {
          vi.setSystemTime(60_000 - i * 1000);
          await store.completeAttempt(c.rollout.rolloutId, c.attempt.attemptId, { status: "succeeded", finalReward: rewards[i]! });
        }
        const inputs = async (query: Parameters<Store["queryRollouts"]>[0]) => {
          const out: unknown[] = [];
          let cursor: string | null = null;
          do {
            const page: Awaited<ReturnType<Store["queryRollouts"]>> = await store.queryRollouts({ ...query, limit: 2, ...(cursor ? { cursor } : {}) });
            out.push(...page.items.map((r) => r.input));
            cursor = page.nextCursor;
          } while (cursor);
          return out;
        };
        expect(await inputs({ sortBy: "finalReward", order: "desc" })).toEqual([3, 1, 0, 2, 5, 4]);
        expect(await inputs({ sortBy: "finalReward", order: "asc" })).toEqual([2, 0, 1, 3, 4, 5]);
        expect(await inputs({ sortBy: "endedAt", order: "asc" })).toEqual([3, 2, 1, 0, 4, 5]);
        expect(await inputs({ sortBy: "endedAt", order: "desc" })).toEqual([0, 1, 2, 3, 5, 4]);
      });

      describe("for the dashboard: text, reward range, duration and stable pages", () => {
        type Query = NonNullable<Parameters<Store["queryRollouts"]>[0]>;
        const BASE = 1_000_000;
        const CITIES = ["Paris", "London", "Tokyo"];
        /** Run time of rollouts 0–8; 1, 2 and 5 tie. */
        const DURATIONS = [5000, 3000, 3000, 8000, 1000, 3000, 2000, 4000, 6000];
        /** Final rewards of 0–8 (7 fails, so has none); 0/6 and 1/3/8 tie. */
        const REWARDS = [0.5, 1, -0.25, 1, 0, 0.75, 0.5, null, 1];

        /**
         * 14 rollouts `dash-00`…`dash-13`, one per second: 0–6 and 8 succeeded, 7 failed, 9
         * running, 12 cancelled (ended, no reward), 10, 11 and 13 queuing. Modes cycle
         * train/val/test; 4's question mentions a café.
         */
        async function fill(): Promise<void> {
          vi.useFakeTimers({ toFake: ["Date"] });
          for (let i = 0; i < 14; i++) {
            vi.setSystemTime(BASE + i * 1000);
            const question = `Question ${i}: ${i === 4 ? "the café in " : ""}${CITIES[i % 3]}`;
            await store.enqueue({ rolloutId: `dash-${String(i).padStart(2, "0")}`, input: { question, n: i }, mode: (["train", "val", "test"] as const)[i % 3] });
          }
          const claimed = await store.dequeue({ limit: 10 });
          for (const [i, duration] of DURATIONS.entries()) {
            const { rollout, attempt } = claimed[i]!;
            vi.setSystemTime(BASE + i * 1000 + duration);
            const reward = REWARDS[i]!;
            await store.completeAttempt(
              rollout.rolloutId,
              attempt.attemptId,
              reward === null ? { status: "failed", error: { kind: "agent_error", message: "wrong room" } } : { status: "succeeded", finalReward: reward },
            );
          }
          vi.setSystemTime(BASE + 12_000 + 500);
          await store.cancelRollout("dash-12");
        }

        /** Every page of a query, as rollout numbers, checking that no page repeats a rollout. */
        async function all(query: Query, limit = 100): Promise<number[]> {
          const out: number[] = [];
          let cursor: string | null = null;
          do {
            const page: Awaited<ReturnType<Store["queryRollouts"]>> = await store.queryRollouts({ ...query, limit, ...(cursor ? { cursor } : {}) });
            expect(page.items.length).toBeLessThanOrEqual(limit);
            out.push(...page.items.map((r) => Number(r.rolloutId.slice("dash-".length))));
            cursor = page.nextCursor;
          } while (cursor);
          expect(new Set(out).size, "a rollout appeared on two pages").toBe(out.length);
          return out;
        }

        it("finds text in the rollout id and the task input, ignoring ASCII case, with no wildcards", async () => {
          await fill();
          expect(await all({ text: "tokyo" })).toEqual([2, 5, 8, 11]);
          expect(await all({ text: "TOKYO" })).toEqual([2, 5, 8, 11]);
          expect(await all({ text: "DASH-1" })).toEqual([10, 11, 12, 13]);
          expect(await all({ text: "question 1" })).toEqual([1, 10, 11, 12, 13]);
          expect(await all({ text: "CAFé" })).toEqual([4]);
          expect(await all({ text: "question", mode: ["val"] })).toEqual([1, 4, 7, 10, 13]);
          // LIKE would read these as wildcards and match everything.
          expect(await all({ text: "_" })).toEqual([]);
          expect(await all({ text: "%" })).toEqual([]);
          expect(await all({ text: "Paris%" })).toEqual([]);
          expect(await all({ text: "'; DROP TABLE rollouts; --" })).toEqual([]);
          expect(await all({ text: '\\"); --' })).toEqual([]);
          expect((await store.stats()).rollouts.total).toBe(14);
        });

        it("filters by final reward, bounds included, leaving out rollouts without one", async () => {
          await fill();
          expect(await all({ minReward: 0.5 })).toEqual([0, 1, 3, 5, 6, 8]);
          expect(await all({ maxReward: 0 })).toEqual([2, 4]);
          expect(await all({ minReward: 0.5, maxReward: 0.75 })).toEqual([0, 5, 6]);
          expect(await all({ minReward: 1, maxReward: 1 })).toEqual([1, 3, 8]);
          expect(await all({ minReward: -1e9 })).toEqual([0, 1, 2, 3, 4, 5, 6, 8]);
          expect(await all({ minReward: 2 })).toEqual([]);
        });

        it("combines every filter with every sort, across pages", async () => {
          await fill();
          const query: Query = { mode: ["train", "test"], minReward: 0, text: "question", sortBy: "finalReward", order: "desc" };
          expect(await all(query, 2)).toEqual([8, 3, 5, 6, 0]);
          expect(await all({ ...query, createdAfter: BASE + 3000, createdBefore: BASE + 8000 }, 1)).toEqual([3, 5, 6]);
          expect(await all({ status: ["succeeded", "failed"], sortBy: "duration" }, 2)).toEqual([4, 6, 1, 2, 5, 7, 0, 8, 3]);
          expect(await all({ status: ["succeeded", "failed"], sortBy: "duration", order: "desc" }, 2)).toEqual([3, 8, 0, 7, 5, 2, 1, 6, 4]);
          expect(await all({ status: ["queuing", "running"], text: "dash", sortBy: "endedAt", order: "desc" }, 3)).toEqual([13, 11, 10, 9]);
        });

        it("sorts by duration (endedAt − createdAt), unfinished rollouts last in both directions", async () => {
          await fill();
          // 12 was cancelled half a second after it was created.
          expect(await all({ sortBy: "duration" }, 4)).toEqual([12, 4, 6, 1, 2, 5, 7, 0, 8, 3, 9, 10, 11, 13]);
          expect(await all({ sortBy: "duration", order: "desc" }, 4)).toEqual([3, 8, 0, 7, 5, 2, 1, 6, 4, 12, 13, 11, 10, 9]);
        });

        it("pages every sort in both directions without skipping or repeating a rollout", async () => {
          await fill();
          const everything = (await store.queryRollouts({ limit: 1000 })).items;
          const value = (r: (typeof everything)[number], field: string) =>
            field === "createdAt" ? r.createdAt : field === "endedAt" ? r.endedAt : field === "finalReward" ? r.finalReward : r.endedAt === null ? null : r.endedAt - r.createdAt;
          for (const sortBy of ["createdAt", "endedAt", "finalReward", "duration"] as const) {
            for (const order of ["asc", "desc"] as const) {
              const sign = order === "asc" ? 1 : -1;
              // The reference order, written out independently: missing values last, ties in creation order.
              const expected = everything
                .map((r, seq) => ({ n: Number(r.rolloutId.slice(5)), v: value(r, sortBy), seq }))
                .sort((a, b) => (a.v === b.v ? sign * (a.seq - b.seq) : a.v === null ? 1 : b.v === null ? -1 : sign * (a.v - b.v)))
                .map((e) => e.n);
              for (const limit of [1, 3, 14, 15]) expect(await all({ sortBy, order }, limit), `${sortBy} ${order} by ${limit}`).toEqual(expected);
            }
          }
        });

        it("keeps pages stable while rollouts finish between them", async () => {
          await fill();
          const first = await store.queryRollouts({ sortBy: "finalReward", order: "desc", limit: 4 });
          expect(first.items.map((r) => r.rolloutId)).toEqual(["dash-08", "dash-03", "dash-01", "dash-05"]);
          // A new best and a new worst arrive after the first page was read.
          const [late] = await store.dequeue({ limit: 1 });
          await store.completeAttempt(late!.rollout.rolloutId, late!.attempt.attemptId, { status: "succeeded", finalReward: 5 });
          await store.completeAttempt("dash-09", (await store.getRollout("dash-09")).attempts[0]!.attemptId, { status: "succeeded", finalReward: -5 });
          const rest = await all({ sortBy: "finalReward", order: "desc", cursor: first.nextCursor! }, 3);
          // The new best sorts before the cursor, so it is not repeated; the new worst is reached.
          expect(rest).toEqual([6, 0, 4, 2, 9, 13, 12, 11, 7]);
        });

        it("rejects a cursor reused under another sort instead of skipping rows", async () => {
          await fill();
          const { nextCursor } = await store.queryRollouts({ sortBy: "finalReward", limit: 2 });
          expect(nextCursor).not.toBeNull();
          for (const query of [{}, { sortBy: "duration" }, { sortBy: "finalReward", order: "desc" }] as const) {
            const error = await expectCode(store.queryRollouts({ ...query, cursor: nextCursor! }), ValidationError);
            expect(error.issues[0]!.path).toBe("cursor");
          }
        });

        it("rejects bad filter values with a typed error naming the field", async () => {
          const cases: Array<[Record<string, unknown>, string]> = [
            [{ text: "" }, "text"],
            [{ text: "x".repeat(257) }, "text"],
            [{ text: "a\u0000b" }, "text"],
            [{ text: "\ud800" }, "text"],
            [{ text: 7 }, "text"],
            [{ minReward: Number.NaN }, "minReward"],
            [{ maxReward: Number.POSITIVE_INFINITY }, "maxReward"],
            [{ minReward: "0.5" }, "minReward"],
            [{ minReward: 1, maxReward: 0 }, "maxReward"],
            [{ sortBy: "reward" }, "sortBy"],
            [{ sortBy: "duration", order: "sideways" }, "order"],
            [{ mode: ["training"] }, "mode[0]"],
            [{ createdBefore: -1 }, "createdBefore"],
          ];
          for (const [query, path] of cases) {
            const error = await expectCode(store.queryRollouts(query as Query), ValidationError);
            expect(error.issues[0]!.path, JSON.stringify(query)).toBe(path);
          }
        });
      });
    });

    // ---- resources ---------------------------------------------------------------------------

    describe("resources", () => {
      const prompt = { kind: "prompt_template", template: "You are {{role}}.", engine: "mustache" } as const;
      const llm = { kind: "llm", baseUrl: "http://127.0.0.1:8000/v1", model: "m" } as const;

      it("versions immutable snapshots and tracks the latest", async () => {
        await expectCode(store.getResources("latest"), NotFoundError);
        const v1 = await store.addResources({ system: prompt, main: llm });
        const v2 = await store.addResources({ system: { ...prompt, template: "You are careful." } });
        expect(v1).toMatchObject({ version: 1, resources: { system: prompt, main: llm } });
        expect(v1.resourcesId).toMatch(/^rs-[0-9a-f]{16}$/);
        expect(v2.version).toBe(2);
        expect(await store.getResources("latest")).toEqual(v2);
        expect(await store.getResources(v1.resourcesId)).toEqual(v1);
        await expectCode(store.getResources("rs-missing"), NotFoundError);
      });

      it("fills defaults and is idempotent with a caller-chosen id", async () => {
        const snapshot = await store.addResources({ p: { kind: "prompt_template", template: "{x}" }, cfg: { kind: "json", value: { k: [1] } } }, { resourcesId: "round-1" });
        expect(snapshot.resources.p).toEqual({ kind: "prompt_template", template: "{x}", engine: "mustache" });
        const again = await store.addResources({ p: { kind: "prompt_template", template: "OTHER" } }, { resourcesId: "round-1" });
        expect(again).toEqual(snapshot);
        expect((await store.stats()).resources).toBe(1);
      });

      it("stamps rollouts with the latest snapshot, or the one they name", async () => {
        const none = await store.enqueue({ input: 0 });
        expect(none.resourcesId).toBeNull();
        const v1 = await store.addResources({ system: prompt });
        const v2 = await store.addResources({ system: prompt });
        expect((await store.enqueue({ input: 1 })).resourcesId).toBe(v2.resourcesId);
        expect((await store.enqueue({ input: 2, resourcesId: v1.resourcesId })).resourcesId).toBe(v1.resourcesId);
        await expectCode(store.enqueue({ input: 3, resourcesId: "rs-nope" }), NotFoundError);
        await expectCode(store.enqueueMany([{ input: 4 }, { input: 5, resourcesId: "rs-nope" }]), NotFoundError);
        expect((await store.stats()).rollouts.total).toBe(3);
      });

      it("rejects malformed resources with the path of the problem", async () => {
        const bad = async (resources: unknown, path: string) => {
          const error = await expectCode(store.addResources(resources as never), ValidationError);
          expect(error.issues[0]!.path).toBe(path);
        };
        await bad({ main: { kind: "llm", baseUrl: "not a url", model: "m" } }, "main.baseUrl");
        await bad({ main: { kind: "llm", baseUrl: "ftp://x", model: "m" } }, "main.baseUrl");
        await bad({ p: { kind: "prompt_template", template: "x", engine: "jinja" } }, "p.engine");
        await bad({ p: { kind: "mystery" } }, "p.kind");
        await bad({ p: { kind: "json" } }, "p.value");
        await bad({ "bad name!": { kind: "json", value: 1 } }, '["bad name!"]');
        await bad([], "");
      });
    });

    // ---- resource listing ---------------------------------------------------------------------

    describe("resource listing", () => {
      const snapshot = (n: number) => ({ cfg: { kind: "json" as const, value: n } });

      it("lists snapshots newest version first, paging by cursor with no gap or repeat", async () => {
        expect(await store.queryResources()).toEqual({ items: [], nextCursor: null });
        const added = [];
        for (let n = 1; n <= 7; n++) added.push(await store.addResources(snapshot(n)));
        expect((await store.queryResources()).items).toEqual([...added].reverse());
        const pages = await pagesOf((cursor) => store.queryResources({ limit: 3, ...withCursor(cursor) }));
        expect(pages.map((page) => page.map((s) => s.version))).toEqual([[7, 6, 5], [4, 3, 2], [1]]);
        // A page that ends exactly at the oldest snapshot says there is no more.
        expect((await store.queryResources({ limit: 7 })).nextCursor).toBeNull();
      });

      it("rejects a foreign or tampered cursor, a huge limit and unknown query keys, naming the field", async () => {
        await store.addResources(snapshot(1));
        await store.addResources(snapshot(2));
        await store.recordRun({ runId: "r", algorithm: "rl" });
        await store.recordRun({ runId: "s", algorithm: "rl" });
        await store.addRunEntries("r", [{ kind: "rl.step", data: {} }, { kind: "rl.step", data: {} }]);
        const runCursor = (await store.queryRuns({ limit: 1 })).nextCursor!;
        const entryCursor = (await store.queryRunEntries({ runId: "r", limit: 1 })).nextCursor!;
        expect([runCursor, entryCursor]).not.toContain(null);
        const bad: Array<[Record<string, unknown>, string]> = [
          [{ cursor: "not-a-cursor" }, "cursor"],
          [{ cursor: Buffer.from('["x",1]').toString("base64url") }, "cursor"],
          [{ cursor: Buffer.from("[-1]").toString("base64url") }, "cursor"],
          [{ cursor: Buffer.from("[1.5]").toString("base64url") }, "cursor"],
          [{ cursor: "" }, "cursor"],
          [{ limit: 1001 }, "limit"],
          [{ limit: 0 }, "limit"],
          [{ cursor: runCursor }, "cursor"],
          [{ cursor: entryCursor }, "cursor"],
        ];
        for (const [query, path] of bad) {
          const error = await expectCode(store.queryResources(query as never), ValidationError);
          expect(error.issues[0]!.path, JSON.stringify(query)).toBe(path);
        }
        const unknown = await expectCode(store.queryResources({ version: 1 } as never), ValidationError);
        expect(unknown.message).toContain("version");
      });
    });

    // ---- training runs -----------------------------------------------------------------------

    describe("training runs", () => {
      /** Resolves once the store's clock (Date.now, in-process or the server's on this machine) has moved past `after`. */
      async function clockPast(after: number): Promise<void> {
        while (Date.now() <= after) await sleep(1);
      }
      /** The listing order every backend must give: most recently updated first, ties by runId descending. */
      const byRecency = (a: { updatedAt: number; runId: string }, b: { updatedAt: number; runId: string }) =>
        b.updatedAt - a.updatedAt || (a.runId < b.runId ? 1 : a.runId > b.runId ? -1 : 0);

      it("creates a run with defaults, then updates its status, keeping createdAt and the algorithm", async () => {
        const before = Date.now();
        const created = await store.recordRun({ runId: "run-1", algorithm: "rl", config: { steps: 3 } });
        expect(created).toEqual({
          runId: "run-1",
          algorithm: "rl",
          status: "running",
          createdAt: created.createdAt,
          updatedAt: created.createdAt,
          config: { steps: 3 },
          summary: null,
          entries: 0,
        });
        expect(created.createdAt).toBeGreaterThanOrEqual(before);
        expect(created.createdAt).toBeLessThanOrEqual(Date.now());
        expect(await store.getRun("run-1")).toEqual(created);
        await clockPast(created.updatedAt);
        const stopped = await store.recordRun({ runId: "run-1", algorithm: "rl", status: "stopped" });
        expect(stopped).toMatchObject({ status: "stopped", createdAt: created.createdAt, config: { steps: 3 } });
        expect(stopped.updatedAt).toBeGreaterThan(created.updatedAt);
        for (const status of ["running", "failed", "completed"] as const) {
          expect((await store.recordRun({ runId: "run-1", algorithm: "rl", status })).status).toBe(status);
        }
        expect(await store.getRun("run-1")).toMatchObject({ status: "completed", createdAt: created.createdAt });
        expect((await store.recordRun({ runId: "bare", algorithm: "apo" })).config).toEqual({});
      });

      it("replaces config and summary when given and keeps them when not", async () => {
        await store.recordRun({ runId: "r", algorithm: "gepa", config: { a: 1, b: { c: 2 } } });
        const withSummary = await store.recordRun({ runId: "r", algorithm: "gepa", summary: { best: 0.5, ids: ["x"] } });
        expect(withSummary).toMatchObject({ config: { a: 1, b: { c: 2 } }, summary: { best: 0.5, ids: ["x"] } });
        const replaced = await store.recordRun({ runId: "r", algorithm: "gepa", config: { z: true }, summary: { best: 0.75 } });
        // Replaced whole, never merged.
        expect(replaced.config).toEqual({ z: true });
        expect(replaced.summary).toEqual({ best: 0.75 });
        const kept = await store.recordRun({ runId: "r", algorithm: "gepa", status: "completed" });
        expect(kept).toMatchObject({ config: { z: true }, summary: { best: 0.75 }, status: "completed" });
        expect(await store.getRun("r")).toEqual(kept);
      });

      it("keeps the stored status when an update names none (a summary written after the end does not reopen the run)", async () => {
        expect((await store.recordRun({ runId: "late", algorithm: "apo" })).status).toBe("running");
        await store.recordRun({ runId: "late", algorithm: "apo", status: "completed" });
        const updated = await store.recordRun({ runId: "late", algorithm: "apo", summary: { best: 1 } });
        expect(updated).toMatchObject({ status: "completed", summary: { best: 1 } });
        expect((await store.getRun("late")).status).toBe("completed");
      });

      it("refuses a run id held by another algorithm with a ConflictError that changes nothing", async () => {
        const rl = await store.recordRun({ runId: "shared", algorithm: "rl", config: { lr: 1 } });
        await store.addRunEntries("shared", [{ kind: "rl.step", data: { step: 1 } }]);
        const before = await store.getRun("shared");
        const error = await expectCode(store.recordRun({ runId: "shared", algorithm: "apo", status: "failed", config: { other: 1 }, summary: { s: 1 } }), ConflictError);
        expect(error.message).toContain("shared");
        expect(await store.getRun("shared")).toEqual(before);
        expect(before).toMatchObject({ algorithm: rl.algorithm, status: "running", config: { lr: 1 }, summary: null, entries: 1 });
      });

      it("numbers entries 1..n in order, skipping keys the log or the batch already has and counting them as duplicates", async () => {
        const run = await store.recordRun({ runId: "log", algorithm: "apo" });
        const first = await store.addRunEntries("log", [
          { kind: "candidate", key: "c1", data: { n: 1 } },
          { kind: "candidate", key: "c1", data: { n: "repeat in batch" } },
          { kind: "score", data: { n: 2 } },
          { kind: "score", data: { n: 3 } },
          { kind: "candidate", key: "c2", data: { n: 4 } },
        ]);
        expect(first).toEqual({ added: 4, duplicates: 1 });
        const second = await store.addRunEntries("log", [
          { kind: "candidate", key: "c2", data: { n: "repeat of the log" } },
          { kind: "spend", key: "s1", data: { n: 5 } },
          { kind: "candidate", key: "c1", data: { n: "again" } },
        ]);
        expect(second).toEqual({ added: 1, duplicates: 2 });
        const all = await store.queryRunEntries({ runId: "log" });
        expect(all.nextCursor).toBeNull();
        expect(all.items.map((e) => [e.sequence, e.kind, e.key, e.data.n])).toEqual([
          [1, "candidate", "c1", 1],
          [2, "score", null, 2],
          [3, "score", null, 3],
          [4, "candidate", "c2", 4],
          [5, "spend", "s1", 5],
        ]);
        expect(all.items.every((e) => e.runId === "log")).toBe(true);
        const after = await store.getRun("log");
        expect(after.entries).toBe(5);
        expect(after.updatedAt).toBeGreaterThanOrEqual(run.updatedAt);
        // Only duplicates: nothing changes, not even updatedAt.
        await clockPast(after.updatedAt);
        expect(await store.addRunEntries("log", [{ kind: "candidate", key: "c1", data: {} }])).toEqual({ added: 0, duplicates: 1 });
        expect(await store.getRun("log")).toEqual(after);
      });

      it("stamps an entry with the store's clock when it has no time, keeps one it has, and moves the run's updatedAt", async () => {
        const run = await store.recordRun({ runId: "clock", algorithm: "rl" });
        await clockPast(run.updatedAt);
        const before = Date.now();
        await store.addRunEntries("clock", [{ kind: "rl.step", data: {} }, { kind: "rl.step", at: 1234.5, data: {} }]);
        const after = Date.now();
        const [stamped, given] = (await store.queryRunEntries({ runId: "clock" })).items;
        expect(stamped!.at).toBeGreaterThanOrEqual(before);
        expect(stamped!.at).toBeLessThanOrEqual(after);
        expect(given!.at).toBe(1234.5);
        const updated = await store.getRun("clock");
        expect(updated.updatedAt).toBeGreaterThanOrEqual(before);
        expect(updated.updatedAt).toBeLessThanOrEqual(after);
        expect(updated.createdAt).toBe(run.createdAt);
      });

      it("refuses entries for, and a log of, a run that does not exist, creating nothing", async () => {
        await expectCode(store.addRunEntries("ghost", [{ kind: "rl.step", data: {} }]), NotFoundError);
        await expectCode(store.queryRunEntries({ runId: "ghost" }), NotFoundError);
        await expectCode(store.getRun("ghost"), NotFoundError);
        expect((await store.queryRuns()).items).toEqual([]);
      });

      it("filters a log by kind and reads only what follows afterSequence", async () => {
        await store.recordRun({ runId: "mixed", algorithm: "gepa" });
        const kinds = ["candidate", "score", "front", "score", "candidate", "spend", "score"];
        await store.addRunEntries("mixed", kinds.map((kind, i) => ({ kind, data: { i } })));
        const seq = (page: { items: Array<{ sequence: number }> }) => page.items.map((e) => e.sequence);
        expect(seq(await store.queryRunEntries({ runId: "mixed", kind: ["score"] }))).toEqual([2, 4, 7]);
        expect(seq(await store.queryRunEntries({ runId: "mixed", kind: ["candidate", "front"] }))).toEqual([1, 3, 5]);
        expect(seq(await store.queryRunEntries({ runId: "mixed", afterSequence: 4 }))).toEqual([5, 6, 7]);
        expect(seq(await store.queryRunEntries({ runId: "mixed", afterSequence: 3, kind: ["score"] }))).toEqual([4, 7]);
        expect(seq(await store.queryRunEntries({ runId: "mixed", afterSequence: 7 }))).toEqual([]);
        expect(seq(await store.queryRunEntries({ runId: "mixed", kind: ["rl.step"] }))).toEqual([]);
        // A reader following the log: what it has not seen yet, and nothing twice.
        await store.addRunEntries("mixed", [{ kind: "score", data: { i: 7 } }]);
        expect(seq(await store.queryRunEntries({ runId: "mixed", afterSequence: 7 }))).toEqual([8]);
      });

      it("pages a long log by cursor with no gap or repeat, also with a kind filter", async () => {
        await store.recordRun({ runId: "long", algorithm: "rl" });
        await store.addRunEntries("long", Array.from({ length: 25 }, (_, i) => ({ kind: i % 3 === 0 ? "evaluation" : "rl.step", data: { i } })));
        const collect = async (query: { kind?: string[]; afterSequence?: number }) =>
          (await pagesOf((cursor) => store.queryRunEntries({ runId: "long", limit: 4, ...query, ...withCursor(cursor) }))).map((page) => page.map((e) => e.sequence));
        const pages = await collect({});
        expect(pages.flat()).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
        expect(pages.map((p) => p.length)).toEqual([4, 4, 4, 4, 4, 4, 1]);
        expect((await collect({ kind: ["evaluation"] })).flat()).toEqual([1, 4, 7, 10, 13, 16, 19, 22, 25]);
        expect((await collect({ afterSequence: 20 })).flat()).toEqual([21, 22, 23, 24, 25]);
      });

      it("lists runs most recently updated first, filtered by algorithm and status, paging with no gap or repeat", async () => {
        const ids = ["b-run", "a-run", "d-run", "c-run", "e-run", "f-run", "g-run"];
        for (const [i, runId] of ids.entries()) {
          await store.recordRun({ runId, algorithm: i % 2 === 0 ? "rl" : "apo", status: i % 3 === 0 ? "completed" : "running" });
        }
        const all = await Promise.all(ids.map((id) => store.getRun(id)));
        const listed = await store.queryRuns();
        expect(listed).toEqual({ items: [...all].sort(byRecency), nextCursor: null });

        // The run just updated (by an entry) comes first, though its id sorts last.
        await clockPast(Math.max(...all.map((r) => r.updatedAt)));
        await store.addRunEntries("a-run", [{ kind: "score", data: {} }]);
        expect((await store.queryRuns({ limit: 1 })).items.map((r) => r.runId)).toEqual(["a-run"]);

        const now = await Promise.all(ids.map((id) => store.getRun(id)));
        const pages = await pagesOf((cursor) => store.queryRuns({ limit: 3, ...withCursor(cursor) }));
        expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
        expect(pages.flat().map((r) => r.runId)).toEqual([...now].sort(byRecency).map((r) => r.runId));

        const rl = await store.queryRuns({ algorithm: ["rl"] });
        expect(rl.items.map((r) => r.runId)).toEqual(now.filter((r) => r.algorithm === "rl").sort(byRecency).map((r) => r.runId));
        const done = await store.queryRuns({ status: ["completed"], algorithm: ["rl", "apo"] });
        expect(done.items.map((r) => r.runId).sort()).toEqual(["b-run", "c-run", "g-run"]);
        expect((await store.queryRuns({ algorithm: ["gepa"] })).items).toEqual([]);
        const filteredPages = await pagesOf((cursor) => store.queryRuns({ algorithm: ["rl"], limit: 1, ...withCursor(cursor) }));
        expect(filteredPages.flat()).toEqual(rl.items);
      });

      it("announces every change to a run, with its entry count, after it is stored", async () => {
        const seen: Array<{ event: string; stored: Promise<number> }> = [];
        store.events.on("run", (e) => {
          // Read back the moment the event arrives: the change must already be there.
          seen.push({ event: `${e.runId} ${e.status} ${e.entries}`, stored: store.getRun(e.runId).then((r) => r.entries) });
        });
        await eventsReady(store);
        await store.recordRun({ runId: "ev", algorithm: "rl" });
        await store.addRunEntries("ev", [{ kind: "rl.step", key: "1", data: {} }, { kind: "rl.step", key: "2", data: {} }]);
        // Only duplicates: no event.
        await store.addRunEntries("ev", [{ kind: "rl.step", key: "1", data: {} }]);
        await expectCode(store.recordRun({ runId: "ev", algorithm: "apo" }), ConflictError);
        await expectCode(store.addRunEntries("nope", [{ kind: "rl.step", data: {} }]), NotFoundError);
        await store.addRunEntries("ev", [{ kind: "rl.step", data: {} }]);
        await store.recordRun({ runId: "ev", algorithm: "rl", status: "completed" });
        await eventually(() => expect(seen).toHaveLength(4));
        expect(seen.map((s) => s.event)).toEqual(["ev running 0", "ev running 2", "ev running 3", "ev completed 3"]);
        const stored = await Promise.all(seen.map((s) => s.stored));
        stored.forEach((entries, i) => expect(entries).toBeGreaterThanOrEqual([0, 2, 3, 3][i]!));
      });

      it("stores entry data, config and summary exactly as sent, whatever text and numbers they hold", async () => {
        const tricky = {
          text: 'quotes " and \\ backslashes, {braces}, [brackets], commas, NULL, \u00e9t\u00e9 and \u{1F600}',
          empty: "",
          numbers: [0, -1.5, 1e-7, 123456789012345, Number.MAX_SAFE_INTEGER, 1e21],
          nested: { deeper: [[], {}, [null, true, false]] },
          "key with spaces": 1,
          "": "empty key",
        };
        const run = await store.recordRun({ runId: "exact", algorithm: "gepa", config: tricky, summary: { best: tricky } });
        expect(run.config).toEqual(tricky);
        await store.addRunEntries("exact", [{ kind: "candidate", data: tricky }, { kind: "candidate", data: {} }]);
        const [first, second] = (await store.queryRunEntries({ runId: "exact" })).items;
        expect(first!.data).toEqual(tricky);
        expect(second!.data).toEqual({});
        expect(await store.getRun("exact")).toMatchObject({ config: tricky, summary: { best: tricky } });
      });

      it("keeps stored entries and runs independent of the caller's objects", async () => {
        const config = { nested: { lr: 1 } };
        const data = { list: [1, 2] };
        const run = await store.recordRun({ runId: "iso", algorithm: "rl", config });
        const pending = store.addRunEntries("iso", [{ kind: "rl.step", data }]);
        config.nested.lr = 99;
        data.list.push(3);
        await pending;
        run.config.mutated = true;
        const [entry] = (await store.queryRunEntries({ runId: "iso" })).items;
        expect(entry!.data).toEqual({ list: [1, 2] });
        entry!.data.list = [];
        expect((await store.queryRunEntries({ runId: "iso" })).items[0]!.data).toEqual({ list: [1, 2] });
        expect((await store.getRun("iso")).config).toEqual({ nested: { lr: 1 } });
      });

      it("rejects hostile run headers with a ValidationError naming the field, storing nothing", async () => {
        const cases: Array<[unknown, string]> = [
          [{ runId: "has space", algorithm: "rl" }, "runId"],
          [{ runId: "", algorithm: "rl" }, "runId"],
          [{ algorithm: "rl" }, "runId"],
          [{ runId: "r", algorithm: "RL" }, "algorithm"],
          [{ runId: "r", algorithm: "" }, "algorithm"],
          [{ runId: "r", algorithm: "x".repeat(65) }, "algorithm"],
          [{ runId: "r", algorithm: "rl", status: "done" }, "status"],
          [{ runId: "r", algorithm: "rl", config: [] }, "config"],
          [{ runId: "r", algorithm: "rl", config: { lr: Number.NaN } }, "config.lr"],
          [{ runId: "r", algorithm: "rl", summary: { f: () => 1 } }, "summary.f"],
          [{ runId: "r", algorithm: "rl", summary: { big: 10n } }, "summary.big"],
          [{ runId: "r", algorithm: "rl", summary: "done" }, "summary"],
        ];
        for (const [update, path] of cases) {
          const error = await expectCode(store.recordRun(update as never), ValidationError);
          expect(error.issues[0]!.path, String(JSON.stringify(update, (_, v: unknown) => (typeof v === "bigint" ? String(v) : v)))).toBe(path);
        }
        const unknown = await expectCode(store.recordRun({ runId: "r", algorithm: "rl", owner: "me" } as never), ValidationError);
        expect(unknown.message).toContain("owner");
        await expectCode(store.getRun("r"), NotFoundError);
        await expectCode(store.getRun("bad id"), ValidationError);
      });

      it("rejects hostile entries with a ValidationError naming the field, storing none of the batch", async () => {
        await store.recordRun({ runId: "r", algorithm: "rl" });
        const ok = { kind: "rl.step", data: { step: 1 } };
        const cases: Array<[unknown, string]> = [
          [[ok, { kind: "Bad Kind", data: {} }], "entries[1].kind"],
          [[{ kind: "", data: {} }], "entries[0].kind"],
          [[ok, { kind: "rl.step", data: { reward: Number.NaN } }], "entries[1].data.reward"],
          [[{ kind: "rl.step", data: { reward: Number.POSITIVE_INFINITY } }], "entries[0].data.reward"],
          [[{ kind: "rl.step", data: { fn: () => 1 } }], "entries[0].data.fn"],
          [[{ kind: "rl.step", data: { list: [1, undefined] } }], "entries[0].data.list[1]"],
          [[{ kind: "rl.step", data: { when: new Date(0) } }], "entries[0].data.when"],
          [[{ kind: "rl.step" }], "entries[0].data"],
          [[{ kind: "rl.step", data: [1] }], "entries[0].data"],
          [[{ kind: "rl.step", key: "has space", data: {} }], "entries[0].key"],
          [[{ kind: "rl.step", at: -1, data: {} }], "entries[0].at"],
          [[{ kind: "rl.step", at: Number.NaN, data: {} }], "entries[0].at"],
          [[], "entries"],
          [Array.from({ length: 1001 }, () => ok), "entries"],
          ["not a list", "entries"],
        ];
        for (const [entries, path] of cases) {
          const error = await expectCode(store.addRunEntries("r", entries as never), ValidationError);
          expect(error.issues[0]!.path, path).toBe(path);
        }
        const unknown = await expectCode(store.addRunEntries("r", [{ ...ok, sequence: 3 } as never]), ValidationError);
        expect(unknown.message).toContain("sequence");
        await expectCode(store.addRunEntries("bad id", [ok]), ValidationError);
        expect((await store.getRun("r")).entries).toBe(0);
        expect((await store.queryRunEntries({ runId: "r" })).items).toEqual([]);
      });

      it("rejects bad run and log queries, foreign or tampered cursors included, naming the field", async () => {
        await store.recordRun({ runId: "r", algorithm: "rl" });
        await store.recordRun({ runId: "s", algorithm: "rl" });
        await store.addRunEntries("r", [{ kind: "rl.step", data: {} }, { kind: "rl.step", data: {} }]);
        const runCursor = (await store.queryRuns({ limit: 1 })).nextCursor!;
        const entryCursor = (await store.queryRunEntries({ runId: "r", limit: 1 })).nextCursor!;
        await store.addResources({ x: { kind: "json", value: 1 } });
        await store.addResources({ x: { kind: "json", value: 2 } });
        const resourcesCursor = (await store.queryResources({ limit: 1 })).nextCursor!;
        expect([runCursor, entryCursor, resourcesCursor]).not.toContain(null);
        const tampered = ["not-a-cursor", Buffer.from('["x",1]').toString("base64url"), Buffer.from("[-1]").toString("base64url")];

        const runCases: Array<[Record<string, unknown>, string]> = [
          [{ limit: 1001 }, "limit"],
          [{ limit: 0 }, "limit"],
          [{ limit: 2.5 }, "limit"],
          [{ status: ["done"] }, "status[0]"],
          [{ algorithm: ["RL"] }, "algorithm[0]"],
          [{ algorithm: "rl" }, "algorithm"],
          [{ cursor: entryCursor }, "cursor"],
          ...tampered.map((cursor): [Record<string, unknown>, string] => [{ cursor }, "cursor"]),
        ];
        for (const [query, path] of runCases) {
          const error = await expectCode(store.queryRuns(query as never), ValidationError);
          expect(error.issues[0]!.path, JSON.stringify(query)).toBe(path);
        }
        const entryCases: Array<[Record<string, unknown>, string]> = [
          [{ limit: 10_001 }, "limit"],
          [{ limit: -1 }, "limit"],
          [{ afterSequence: -1 }, "afterSequence"],
          [{ afterSequence: 1.5 }, "afterSequence"],
          [{ kind: ["Not A Kind"] }, "kind[0]"],
          [{ runId: "bad id" }, "runId"],
          [{ cursor: runCursor }, "cursor"],
          [{ cursor: resourcesCursor }, "cursor"],
          ...tampered.map((cursor): [Record<string, unknown>, string] => [{ cursor }, "cursor"]),
        ];
        for (const [query, path] of entryCases) {
          const error = await expectCode(store.queryRunEntries({ runId: "r", ...query } as never), ValidationError);
          expect(error.issues[0]!.path, JSON.stringify(query)).toBe(path);
        }
        for (const [call, key] of [
          [() => store.queryRuns({ owner: "me" } as never), "owner"],
          [() => store.queryRunEntries({ runId: "r", since: 3 } as never), "since"],
        ] as const) {
          expect((await expectCode(call(), ValidationError)).message).toContain(key);
        }
        await expectCode(store.queryRunEntries({} as never), ValidationError);
      });
    });

    // ---- waiting -----------------------------------------------------------------------------

    describe("waitForRollouts", () => {
      it("returns at once for rollouts that already ended", async () => {
        const { rollout, attempt } = await claimOne();
        await store.completeAttempt(rollout.rolloutId, attempt.attemptId, { status: "succeeded" });
        const ended = await store.waitForRollouts([rollout.rolloutId], { timeoutMs: 0 });
        expect(ended.map((r) => r.status)).toEqual(["succeeded"]);
      });

      it("wakes the moment the last rollout ends and returns them in the order asked", async () => {
        const rollouts = await store.enqueueMany([{ input: 1 }, { input: 2 }]);
        const claimed = await store.dequeue({ limit: 2 });
        const waiting = store.waitForRollouts([rollouts[1]!.rolloutId, rollouts[0]!.rolloutId]);
        let settled = false;
        void waiting.then(() => (settled = true));
        await store.completeAttempt(claimed[0]!.rollout.rolloutId, claimed[0]!.attempt.attemptId, { status: "succeeded" });
        await sleep(20);
        expect(settled).toBe(false);
        await store.completeAttempt(claimed[1]!.rollout.rolloutId, claimed[1]!.attempt.attemptId, {
          status: "failed",
          error: { kind: "agent_error", message: "x" },
        });
        const ended = await waiting;
        expect(ended.map((r) => r.input)).toEqual([2, 1]);
        expect(ended.map((r) => r.status)).toEqual(["failed", "succeeded"]);
      });

      it("returns only the ended ones when the timeout passes", async () => {
        const rollouts = await store.enqueueMany([{ input: 1 }, { input: 2 }]);
        await store.cancelRollout(rollouts[0]!.rolloutId);
        const ended = await store.waitForRollouts(rollouts.map((r) => r.rolloutId), { timeoutMs: 50 });
        expect(ended.map((r) => r.input)).toEqual([1]);
      });

      it("does not wake on a retry, only on the real end", async () => {
        const rollout = await store.enqueue({ input: 1, config: { maxAttempts: 2 } });
        const [first] = await store.dequeue();
        const waiting = store.waitForRollouts([rollout.rolloutId], { timeoutMs: 30_000 });
        await store.completeAttempt(rollout.rolloutId, first!.attempt.attemptId, { status: "failed", error: { kind: "infra_error", message: "x" } });
        const [second] = await store.dequeue();
        await store.completeAttempt(rollout.rolloutId, second!.attempt.attemptId, { status: "succeeded", finalReward: 3 });
        const [ended] = await waiting;
        expect(ended).toMatchObject({ status: "succeeded", finalReward: 3 });
      });

      it("rejects unknown ids and stops early on abort", async () => {
        await expectCode(store.waitForRollouts(["ro-unknown"], { timeoutMs: 10 }), NotFoundError);
        const rollout = await store.enqueue({ input: 1 });
        const controller = new AbortController();
        const waiting = store.waitForRollouts([rollout.rolloutId], { signal: controller.signal });
        await sleep(10);
        controller.abort();
        expect(await waiting).toEqual([]);
      });
    });

    // ---- events ------------------------------------------------------------------------------

    describe("events", () => {
      it("announces every status change, span batch and snapshot, after it is stored", async () => {
        const log: string[] = [];
        const listen = <K extends keyof StoreEventMap>(name: K, format: (...args: StoreEventMap[K]) => string) =>
          store.events.on(name, ((...args: StoreEventMap[K]) => log.push(format(...args))) as never);
        listen("rollout", (e) => `rollout ${e.previous ?? "-"}→${e.status}`);
        listen("attempt", (e) => `attempt#${e.sequence} ${e.previous ?? "-"}→${e.status}`);
        listen("spans", (e) => `spans +${e.count} last=${e.lastSequence}`);
        listen("resources", (e) => `resources v${e.version}`);
        await eventsReady(store);

        await store.addResources({ x: { kind: "json", value: 1 } });
        const rollout = await store.enqueue({ input: 1, config: { maxAttempts: 2 } });
        const [a1] = await store.dequeue();
        await store.addSpans([makeSpan(a1!), makeSpan(a1!)]);
        await store.addSpans([makeSpan(a1!)]);
        await store.completeAttempt(rollout.rolloutId, a1!.attempt.attemptId, { status: "failed", error: { kind: "infra_error", message: "x" } });
        const [a2] = await store.dequeue();
        await store.heartbeat({ workerId: "w", attempts: [a2!.attempt] });
        await store.completeAttempt(rollout.rolloutId, a2!.attempt.attemptId, { status: "succeeded" });

        await eventually(() => expect(log).toHaveLength(14));
        expect(log).toEqual([
          "resources v1",
          "rollout -→queuing",
          "rollout queuing→running",
          "attempt#1 -→preparing",
          "attempt#1 preparing→running",
          "spans +2 last=2",
          "spans +1 last=3",
          "attempt#1 running→failed",
          "rollout running→requeuing",
          "rollout requeuing→running",
          "attempt#2 -→preparing",
          "attempt#2 preparing→running",
          "attempt#2 running→succeeded",
          "rollout running→succeeded",
        ]);
      });

      it("reports a throwing listener without failing the call", async () => {
        const errors: string[] = [];
        const quiet = await open({
          watchdogIntervalMs: false,
          logger: { debug() {}, info() {}, warn() {}, error: (message) => errors.push(message) },
        });
        quiet.events.on("rollout", () => {
          throw new Error("listener bug");
        });
        await eventsReady(quiet);
        const rollout = await quiet.enqueue({ input: 1 });
        expect((await quiet.getRollout(rollout.rolloutId)).status).toBe("queuing");
        await eventually(() => expect(errors.join("\n")).toMatch(/listener threw/));
      });
    });

    // ---- workers and stats -------------------------------------------------------------------

    describe("workers and stats", () => {
      it("tracks workers from dequeues and heartbeats", async () => {
        await store.enqueueMany([{ input: 1 }, { input: 2 }]);
        const claimed = await store.dequeue({ workerId: "runner-1", limit: 2 });
        await store.heartbeat({ workerId: "runner-2", stats: { host: "b", load: 0.5 } });
        await store.completeAttempt(claimed[0]!.rollout.rolloutId, claimed[0]!.attempt.attemptId, { status: "succeeded" });
        const workers = await store.workers();
        const byId = Object.fromEntries(workers.map((w) => [w.workerId, w]));
        expect(byId["runner-1"]).toMatchObject({ status: "busy", activeAttempts: 1, stats: null });
        expect(byId["runner-1"]!.lastDequeueAt).not.toBeNull();
        expect(byId["runner-2"]).toMatchObject({ status: "idle", activeAttempts: 0, lastDequeueAt: null, stats: { host: "b", load: 0.5 } });
      });

      it("counts rollouts by status, attempts, spans, resources and the queue", async () => {
        await store.addResources({ x: { kind: "json", value: 1 } });
        await store.enqueueMany([{ input: 1 }, { input: 2 }, { input: 3 }]);
        const [claimed] = await store.dequeue({ workerId: "w" });
        await store.addSpans([makeSpan(claimed!), makeSpan(claimed!)]);
        const stats = await store.stats();
        expect(stats).toMatchObject({
          rollouts: { total: 3, queuing: 2, running: 1, requeuing: 0, succeeded: 0, failed: 0, cancelled: 0 },
          attempts: { total: 1, active: 1 },
          spans: 2,
          resources: 1,
          workers: 1,
          queueDepth: 2,
        });
        expect(stats.uptimeMs).toBeGreaterThanOrEqual(0);
      });
    });

    // ---- hostile input -----------------------------------------------------------------------

    describe("bad input", () => {
      it("rejects malformed enqueue requests with the path of the problem", async () => {
        const cases: Array<[unknown, string]> = [
          [{ input: () => 1 }, "input"],
          [{ input: { deep: { fn: Symbol("x") } } }, "input.deep.fn"],
          [{ input: { n: Number.NaN } }, "input.n"],
          [{ input: new Date() }, "input"],
          [{ input: 1, mode: "training" }, "mode"],
          [{ input: 1, config: { maxAttempt: 3 } }, "config"],
          [{ input: 1, config: { maxAttempts: 0 } }, "config.maxAttempts"],
          [{ input: 1, config: { retryOn: ["cancelled"] } }, "config.retryOn[0]"],
          [{ input: 1, config: { timeoutMs: -5 } }, "config.timeoutMs"],
          [{ input: 1, rolloutId: "../etc/passwd" }, "rolloutId"],
          [{ input: 1, rolloutId: "" }, "rolloutId"],
          [{ input: 1, rolloutId: "x".repeat(200) }, "rolloutId"],
          [{ input: 1, metadata: [] }, "metadata"],
          [{ input: 1, extra: true }, ""],
          [{}, "input"],
          [null, ""],
          ["just a string", ""],
        ];
        for (const [request, path] of cases) {
          const error = await expectCode(store.enqueue(request as never), ValidationError);
          expect(error.issues[0]!.path, JSON.stringify(request)).toBe(path);
          expect(error.message).toMatch(/^invalid enqueue request/);
        }
        expect((await store.stats()).rollouts.total).toBe(0);
      });

      it("rejects a circular or absurdly deep input instead of overflowing", async () => {
        const circular: Record<string, unknown> = { a: 1 };
        circular.self = circular;
        await expectCode(store.enqueue({ input: circular as never }), ValidationError);
        let deep: unknown = 1;
        for (let i = 0; i < 10_000; i++) deep = [deep];
        await expectCode(store.enqueue({ input: deep as never }), ValidationError);
      });

      it("rejects malformed spans, naming the span and field, and stores none of the batch", async () => {
        const claimed = await claimOne();
        const good = makeSpan(claimed);
        const cases: Array<[unknown, string]> = [
          [{ ...good, traceId: "XYZ" }, "[1].traceId"],
          [{ ...good, traceId: "0".repeat(32) }, "[1].traceId"],
          [{ ...good, spanId: "abc" }, "[1].spanId"],
          [{ ...good, name: "" }, "[1].name"],
          [{ ...good, startTime: "yesterday" }, "[1].startTime"],
          [{ ...good, endTime: good.startTime - 1 }, "[1].endTime"],
          [{ ...good, kind: "sideways" }, "[1].kind"],
          [{ ...good, attributes: { ok: 1, bad: { inner: Number.POSITIVE_INFINITY } } }, '[1].attributes.bad.inner'],
          [{ ...good, attributes: { "gen_ai.x": () => 1 } }, '[1].attributes["gen_ai.x"]'],
          [{ ...good, events: [{ name: "e" }] }, "[1].events[0].time"],
          [{ ...good, sequence: 5 }, "[1]"],
        ];
        for (const [span, path] of cases) {
          const error = await expectCode(store.addSpans([makeSpan(claimed), span as SpanInput]), ValidationError);
          expect(error.issues[0]!.path, path).toBe(path);
        }
        await expectCode(store.addSpans("nope" as never), ValidationError);
        expect((await store.stats()).spans).toBe(0);
      });

      it("rejects bad completions, queries and options with typed errors", async () => {
        const { rollout, attempt } = await claimOne();
        const rejects = (p: Promise<unknown>) => expectCode(p, ValidationError);
        await rejects(store.completeAttempt(rollout.rolloutId, attempt.attemptId, { status: "failed" } as never));
        await rejects(store.completeAttempt(rollout.rolloutId, attempt.attemptId, { status: "succeeded", finalReward: Number.NaN }));
        await rejects(store.completeAttempt(rollout.rolloutId, attempt.attemptId, { status: "done" } as never));
        await rejects(store.completeAttempt(rollout.rolloutId, attempt.attemptId, { status: "failed", error: { kind: "oops", message: "" } } as never));
        await rejects(store.completeAttempt("bad id", attempt.attemptId, { status: "succeeded" }));
        await rejects(store.dequeue({ limit: 0 }));
        await rejects(store.dequeue({ waitMs: -1 }));
        await rejects(store.dequeue({ workerId: "has space" }));
        await rejects(store.queryRollouts({ limit: 100_000 }));
        await rejects(store.queryRollouts({ sortBy: "input" } as never));
        await rejects(store.queryRollouts({ status: ["done"] } as never));
        await rejects(store.querySpans({ rolloutId: rollout.rolloutId, limit: -1 }));
        await rejects(store.heartbeat({ attempts: [] } as never));
        await rejects(store.waitForRollouts([], { timeoutMs: 10 }));
        await rejects(store.getRollout(42 as never));
        await rejects(store.cancelRollout(rollout.rolloutId, { reason: 7 } as never));
        expect((await store.getRollout(rollout.rolloutId)).status).toBe("running");
      });

      it("truncates an enormous error message instead of losing the completion", async () => {
        const { rollout, attempt } = await claimOne();
        const done = await store.completeAttempt(rollout.rolloutId, attempt.attemptId, {
          status: "failed",
          error: { kind: "agent_error", message: "x".repeat(100_000) },
        });
        expect(done.attempt.error!.message.length).toBe(16_384);
        expect(done.attempt.error!.message).toMatch(/x… \[truncated 100000 chars to 16384\]$/);
      });
    });

    // ---- isolation and lifecycle -------------------------------------------------------------

    describe("isolation", () => {
      it("keeps stored data independent of the caller's objects", async () => {
        const input = { list: [1, 2], nested: { a: "b" } };
        const rollout = await store.enqueue({ input, metadata: { tag: "t" } });
        input.list.push(3);
        input.nested.a = "changed";
        const returned = await store.getRollout(rollout.rolloutId);
        (returned.input as { list: number[] }).list.push(99);
        (returned.metadata as Record<string, unknown>).tag = "mutated";
        returned.attempts.push(returned.attempts[0]!);
        returned.config.retryOn.push("agent_error");
        const fresh = await store.getRollout(rollout.rolloutId);
        expect(fresh.input).toEqual({ list: [1, 2], nested: { a: "b" } });
        expect(fresh.metadata).toEqual({ tag: "t" });
        expect(fresh.config.retryOn).toEqual(["infra_error", "unresponsive"]);
      });

      it("keeps stored spans independent of the caller's objects, even if changed before the call settles", async () => {
        const claimed = await claimOne();
        const span = makeSpan(claimed, { attributes: { list: [1], nested: { k: "v" } }, events: [{ name: "e", time: 1, attributes: { a: 1 } }] });
        const pending = store.addSpans([span]);
        (span.attributes!.list as number[]).push(2);
        (span.attributes!.nested as Record<string, string>).k = "changed";
        span.events![0]!.attributes!.a = 2;
        await pending;
        const [stored] = (await store.querySpans({ rolloutId: claimed.rollout.rolloutId })).items;
        expect(stored!.attributes).toEqual({ list: [1], nested: { k: "v" } });
        expect(stored!.events[0]!.attributes).toEqual({ a: 1 });
        (stored!.attributes.list as number[]).push(3);
        const [again] = (await store.querySpans({ rolloutId: claimed.rollout.rolloutId })).items;
        expect(again!.attributes).toEqual({ list: [1], nested: { k: "v" } });
      });

      it("hands out resources and completions that callers may change freely", async () => {
        const snapshot = await store.addResources({ cfg: { kind: "json", value: { k: [1] } } });
        ((snapshot.resources.cfg as unknown as { value: { k: number[] } }).value.k).push(2);
        expect((await store.getResources(snapshot.resourcesId)).resources.cfg).toEqual({ kind: "json", value: { k: [1] } });
        const { rollout, attempt } = await claimOne();
        const done = await store.completeAttempt(rollout.rolloutId, attempt.attemptId, { status: "succeeded", finalReward: 1 });
        done.attempt.finalReward = 99;
        done.rollout.attempts[0]!.status = "failed";
        const stored = await store.getRollout(rollout.rolloutId);
        expect(stored.attempts[0]).toMatchObject({ status: "succeeded", finalReward: 1 });
      });

      it("drops undefined object properties the way JSON does", async () => {
        const rollout = await store.enqueue({ input: { keep: 1, drop: undefined } as never, metadata: { gone: undefined } as never });
        expect(rollout.input).toEqual({ keep: 1 });
        expect(Object.keys(rollout.input as object)).toEqual(["keep"]);
        expect(Object.keys(rollout.metadata)).toEqual([]);
      });

      it("fails every call after close with StoreClosedError, and wakes pending waits with it", async () => {
        const closing = await open();
        const rollout = await closing.enqueue({ input: 1 });
        await closing.dequeue();
        const polling = closing.dequeue({ waitMs: 30_000 });
        const waiting = closing.waitForRollouts([rollout.rolloutId]);
        await sleep(10);
        // Observe the waits before closing: they reject as close() begins, and a backend whose
        // close takes real I/O (a connection pool) would otherwise leave those rejections unhandled.
        const polled = expectCode(polling, StoreClosedError);
        const waited = expectCode(waiting, StoreClosedError);
        await closing.close();
        await polled;
        await waited;
        await expectCode(closing.enqueue({ input: 2 }), StoreClosedError);
        await expectCode(closing.getRollout(rollout.rolloutId), StoreClosedError);
        await closing.close();
      });
    });
  });
}
