import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ConflictError, NotFoundError, Runner, StoreUnavailableError, ValidationError, agent, emitMessage, emitReward, type AgentContext, type Span, type Store } from "tracetrain";
import { MemoryStore } from "tracetrain/store";
import { startStoreServer, type StoreServer } from "tracetrain/server";
import { type Page, type SpanQuery } from "tracetrain/schemas";
import { deferred, makeSpan } from "../store/helpers.js";

const quiet = { debug() {}, info() {}, warn: vi.fn(), error: vi.fn() };
const stores: Store[] = [];
function newStore(): MemoryStore {
  const store = new MemoryStore({ watchdogIntervalMs: 20 });
  stores.push(store);
  return store;
}
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
  vi.clearAllMocks();
});

/** Runs a runner until `rollouts` have ended, then stops it. */
async function drain(store: Store, runner: Runner<never>, ids: string[]) {
  const running = runner.run();
  const ended = await store.waitForRollouts(ids, { timeoutMs: 15_000 });
  await runner.stop({ graceMs: 2000 });
  await running;
  return ended;
}

describe("Runner", () => {
  it("runs queued rollouts concurrently, records spans and completes them with the returned reward", async () => {
    const store = newStore();
    let inFlight = 0;
    let peak = 0;
    const scorer = agent(
      async (task: { n: number }, ctx: AgentContext) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        emitMessage(`task ${task.n} in ${ctx.rollout.rolloutId}`);
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
        return task.n / 10;
      },
      { name: "scorer" },
    );
    const rollouts = await store.enqueueMany(Array.from({ length: 20 }, (_, n) => ({ input: { n } })));
    const runner = new Runner({ store, agent: scorer, concurrency: 4, logger: quiet });
    const ended = await drain(store, runner as Runner<never>, rollouts.map((r) => r.rolloutId));
    expect(ended.map((r) => [r.status, r.finalReward])).toEqual(Array.from({ length: 20 }, (_, n) => ["succeeded", n / 10]));
    expect(peak).toBe(4);
    const spans = await store.querySpans({ rolloutId: rollouts[3]!.rolloutId, attemptId: "latest" });
    const names = spans.items.map((s) => s.name);
    expect(names).toEqual(expect.arrayContaining(["tracetrain.message", "tracetrain.reward", "tracetrain.rollout"]));
    expect(spans.items.find((s) => s.name === "tracetrain.message")!.attributes["tracetrain.message.body"]).toBe(`task 3 in ${rollouts[3]!.rolloutId}`);
    expect(runner.stats).toMatchObject({ started: 20, succeeded: 20, failed: 0, running: 0 });
  });

  it("gives the agent its resources, LLM and prompt", async () => {
    const store = newStore();
    const snapshot = await store.addResources({
      system: { kind: "prompt_template", template: "You book rooms for {{who}}.", engine: "mustache" },
      main: { kind: "llm", baseUrl: "http://127.0.0.1:9/v1", model: "m-1" },
      cfg: { kind: "json", value: { threshold: 0.5 } },
    });
    const seen: unknown[] = [];
    const reader = agent(async (_task: null, ctx: AgentContext) => {
      seen.push(ctx.prompt().format({ who: "Ada" }), ctx.llm().model, ctx.llm("main").baseUrl, ctx.json("cfg"), ctx.rollout.mode, Object.keys(ctx.resources));
      expect(() => ctx.llm("system")).toThrow(/resource 'system' is a prompt_template, not a llm; available: system \(prompt_template\), main \(llm\), cfg \(json\)/);
      expect(() => ctx.prompt("nope")).toThrow(NotFoundError);
      return 1;
    });
    const rollout = await store.enqueue({ input: null, mode: "val", resourcesId: snapshot.resourcesId });
    const [ended] = await drain(store, new Runner({ store, agent: reader, logger: quiet }) as Runner<never>, [rollout.rolloutId]);
    expect(ended!.status).toBe("succeeded");
    expect(seen).toEqual(["You book rooms for Ada.", "m-1", "http://127.0.0.1:9/v1", { threshold: 0.5 }, "val", ["system", "main", "cfg"]]);
  });

  it("resolves the resources version each rollout was enqueued with", async () => {
    const store = newStore();
    const v1 = await store.addResources({ p: { kind: "prompt_template", template: "v1" } });
    const first = await store.enqueue({ input: 1 });
    await store.addResources({ p: { kind: "prompt_template", template: "v2" } });
    const second = await store.enqueue({ input: 2 });
    const pinned = await store.enqueue({ input: 3, resourcesId: v1.resourcesId });
    const seen = new Map<unknown, string>();
    const reader = agent(async (task: number, ctx: AgentContext) => void seen.set(task, ctx.prompt().template));
    await drain(store, new Runner({ store, agent: reader, logger: quiet }) as Runner<never>, [first.rolloutId, second.rolloutId, pinned.rolloutId]);
    expect(Object.fromEntries(seen)).toEqual({ 1: "v1", 2: "v2", 3: "v1" });
  });

  it("classifies an exception thrown by the agent as agent_error, keeping the message", async () => {
    const store = newStore();
    const failing = agent(async () => {
      throw new RangeError("the answer was off by one");
    });
    const rollout = await store.enqueue({ input: 1, config: { maxAttempts: 3 } });
    const [ended] = await drain(store, new Runner({ store, agent: failing, logger: quiet }) as Runner<never>, [rollout.rolloutId]);
    expect(ended!.status).toBe("failed");
    expect(ended!.attempts).toHaveLength(1); // agent errors are not retried by default
    expect(ended!.attempts[0]!.error).toMatchObject({ kind: "agent_error" });
    expect(ended!.attempts[0]!.error!.message).toMatch(/RangeError: the answer was off by one/);
  });

  it("classifies unavailable resources as infra_error and retries them", async () => {
    const store = newStore();
    const snapshot = await store.addResources({ p: { kind: "prompt_template", template: "x" } });
    let fail = true;
    const original = store.getResources.bind(store);
    store.getResources = async (id: string) => {
      if (fail) {
        fail = false;
        throw new Error("store unreachable");
      }
      return original(id);
    };
    const rollout = await store.enqueue({ input: 1, resourcesId: snapshot.resourcesId, config: { maxAttempts: 2 } });
    const [ended] = await drain(store, new Runner({ store, agent: agent(async () => 1), logger: quiet }) as Runner<never>, [rollout.rolloutId]);
    expect(ended!.status).toBe("succeeded");
    expect(ended!.attempts.map((a) => [a.status, a.error?.kind ?? null])).toEqual([
      ["failed", "infra_error"],
      ["succeeded", null],
    ]);
    expect(ended!.attempts[0]!.error!.message).toMatch(/could not load resources .*store unreachable/);
  });

  it("counts an emitted final reward once and warns when the agent also returns one", async () => {
    const store = newStore();
    const both = agent(async () => {
      emitReward(0.25);
      return 0.9;
    });
    const rollout = await store.enqueue({ input: 1 });
    const [ended] = await drain(store, new Runner({ store, agent: both, logger: quiet }) as Runner<never>, [rollout.rolloutId]);
    expect(ended!.finalReward).toBe(0.25);
    const rewards = await store.querySpans({ rolloutId: rollout.rolloutId, name: "tracetrain.reward" });
    expect(rewards.items).toHaveLength(1);
    expect(quiet.warn.mock.calls.map((c) => String(c[0])).join("\n")).toMatch(/both emitted a final reward and returned 0.9; the emitted reward counts/);
  });

  it("times an agent out through its signal, and a late result from one that ignores it is rejected", async () => {
    const store = newStore();
    const reasons: unknown[] = [];
    let stubbornFinished = false;
    const polite = agent(async (_task: string, ctx: AgentContext) => {
      await new Promise((_resolve, reject) => ctx.signal.addEventListener("abort", () => reject(new Error(`aborted: ${String(ctx.signal.reason)}`))));
      reasons.push(ctx.signal.reason);
    });
    const stubborn = agent(async (task: string, ctx: AgentContext) => {
      if (task === "polite") return polite.run(task, ctx);
      await new Promise((r) => setTimeout(r, 300)); // ignores the signal
      stubbornFinished = true;
      return 1;
    });
    const rollouts = await store.enqueueMany([
      { input: "polite", config: { timeoutMs: 50 } },
      { input: "stubborn", config: { timeoutMs: 50 } },
    ]);
    const runner = new Runner({ store, agent: stubborn, logger: quiet });
    const running = runner.run();
    const ended = await store.waitForRollouts(rollouts.map((r) => r.rolloutId), { timeoutMs: 10_000 });
    expect(ended.map((r) => [r.status, r.attempts[0]!.status])).toEqual([
      ["failed", "timeout"],
      ["failed", "timeout"],
    ]);
    // It ignores the abort and ends on its own, however long a busy machine takes to get there.
    await vi.waitFor(() => expect(stubbornFinished).toBe(true), { timeout: 60_000, interval: 20 });
    const after = await store.getRollout(rollouts[1]!.rolloutId);
    expect(after).toMatchObject({ status: "failed", finalReward: null });
    expect(after.attempts[0]!.status).toBe("timeout");
    await runner.stop();
    await running;
  });

  it("aborts a cancelled rollout's agent through its signal", async () => {
    const store = newStore();
    let sawAbort = false;
    const started = deferred();
    const waiting = agent(async (_task: number, ctx: AgentContext) => {
      started.resolve();
      await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve()));
      sawAbort = ctx.signal.aborted && ctx.signal.reason === "cancelled";
    });
    const rollout = await store.enqueue({ input: 1 });
    const runner = new Runner({ store, agent: waiting, heartbeatIntervalMs: 20, logger: quiet });
    const running = runner.run();
    await started.promise;
    await store.cancelRollout(rollout.rolloutId);
    await vi.waitFor(() => expect(sawAbort).toBe(true), { timeout: 60_000, interval: 20 });
    await runner.stop();
    await running;
    expect((await store.getRollout(rollout.rolloutId)).attempts[0]!.status).toBe("cancelled");
    expect(runner.stats.superseded).toBe(0); // the runner knew: it did not even try to complete it
  });

  it("on stop, aborts running agents and fails the stragglers as infra_error after the grace period", async () => {
    const store = newStore();
    const started = deferred();
    const deaf = agent(async () => {
      started.resolve();
      await new Promise((r) => setTimeout(r, 1000));
      return 1;
    });
    const rollout = await store.enqueue({ input: 1, config: { maxAttempts: 2 } });
    const runner = new Runner({ store, agent: deaf, logger: quiet });
    const running = runner.run();
    await started.promise;
    await runner.stop({ graceMs: 50 });
    await running;
    const after = await store.getRollout(rollout.rolloutId);
    expect(after.status).toBe("requeuing"); // an infra failure: another runner may retry it
    expect(after.attempts[0]).toMatchObject({ status: "failed", error: { kind: "infra_error" } });
  });

  it("step() runs one rollout directly for debugging, and rethrows the agent's error", async () => {
    const store = newStore();
    const runner = new Runner({ store, agent: agent(async (task: number, ctx: AgentContext) => task * Number(ctx.json("k"))), logger: quiet });
    const result = await runner.step(3, { resources: { k: { kind: "json", value: 2 } } });
    expect(result.rollout).toMatchObject({ status: "succeeded", finalReward: 6, input: 3 });
    expect(result.report.finalReward).toBe(6);
    const boom = new Error("debug me");
    const failing = new Runner({ store, agent: agent(async () => { throw boom; }), logger: quiet });
    await expect(failing.step(1)).rejects.toBe(boom);
  });

  it("rejects bad construction with typed errors", () => {
    const store = newStore();
    expect(() => new Runner({ store, agent: (() => 1) as never })).toThrow(ValidationError);
    expect(() => new Runner({ store, agent: agent(async () => 1), concurrency: 0 })).toThrow(/concurrency/);
    expect(() => agent("nope" as never)).toThrow(/expected the agent function, got string/);
    const runner = new Runner({ store, agent: agent(async () => 1), logger: quiet });
    const running = runner.run();
    expect(() => runner.run()).toThrow(ConflictError);
    return runner.stop().then(() => running);
  });
});

/** A real MemoryStore that counts span queries (and can be told to fail them), to watch the runner's reward lookup. */
class CountingStore extends MemoryStore {
  spanQueries = 0;
  failSpanQueries = false;

  override async querySpans(query: SpanQuery): Promise<Page<Span>> {
    this.spanQueries++;
    if (this.failSpanQueries) throw new StoreUnavailableError("the store is down for span queries");
    return super.querySpans(query);
  }
}

const run = promisify(execFile);

/**
 * What an agent in another language does: a child process that knows its attempt only from the
 * environment and records rewards with curl (no tracetrain code on its side). Posts each body in turn.
 */
function postRewards(ctx: AgentContext, storeUrl: string, bodies: string[]): Promise<unknown> {
  const script = bodies
    .map((_, i) => `curl -sS --fail-with-body -X POST "$STORE_URL/v1/rollouts/$ROLLOUT_ID/attempts/$ATTEMPT_ID/rewards" -H 'content-type: application/json' -d "$BODY_${i}"`)
    .join(" && ");
  const env: Record<string, string> = { PATH: process.env.PATH ?? "/usr/bin:/bin", STORE_URL: storeUrl, ROLLOUT_ID: ctx.rollout.rolloutId, ATTEMPT_ID: ctx.rollout.attemptId };
  bodies.forEach((body, i) => (env[`BODY_${i}`] = body));
  return run("/bin/sh", ["-c", script], { env, signal: ctx.signal });
}

describe("Runner: rewards recorded outside the process", () => {
  const servers: StoreServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });
  async function serve(store: Store): Promise<string> {
    const server = await startStoreServer({ store, port: 0, logger: quiet });
    servers.push(server);
    return server.url;
  }
  function countingStore(): CountingStore {
    const store = new CountingStore({ watchdogIntervalMs: 20 });
    stores.push(store);
    return store;
  }

  it("uses the last final reward a child process posted over HTTP when the agent returns nothing", async () => {
    const store = countingStore();
    const url = await serve(store);
    const external = agent(async (_task: string, ctx: AgentContext) => {
      // A first final reward, a later final one (which counts), then one for a single call (which does not).
      await postRewards(ctx, url, ['{"value": 0.1}', '{"value": {"pass": 0.625, "style": 1}}', '{"value": 0.9, "callId": "0123456789abcdef"}']);
    });
    const rollout = await store.enqueue({ input: "external" });
    const [ended] = await drain(store, new Runner({ store, agent: external, logger: quiet }) as Runner<never>, [rollout.rolloutId]);
    expect(ended).toMatchObject({ status: "succeeded", finalReward: 0.625 });
    expect(ended!.attempts[0]).toMatchObject({ status: "succeeded", finalReward: 0.625 });
    expect(store.spanQueries).toBe(1);
    const rewards = await store.querySpans({ rolloutId: rollout.rolloutId, name: "tracetrain.reward" });
    expect(rewards.items.map((s) => [s.attributes["tracetrain.layer"], s.attributes["tracetrain.reward.final"]])).toEqual([
      ["external", true],
      ["external", true],
      ["external", false],
    ]);
    expect(quiet.warn.mock.calls.map((c) => String(c[0])).join("\n")).not.toMatch(/could not read its spans back/);
  });

  it("pages through every reward span to find the last final one", async () => {
    const store = countingStore();
    const many = agent(async (_task: string, ctx: AgentContext) => {
      // More reward spans than one page holds (1000), as a chatty external scorer might record.
      const spans = Array.from({ length: 2100 }, (_, i) =>
        makeSpan(ctx.rollout, { name: "tracetrain.reward", attributes: { "tracetrain.reward.value": i, "tracetrain.reward.final": i % 7 === 3 } }),
      );
      await store.addSpans(spans);
    });
    const rollout = await store.enqueue({ input: "many" });
    const [ended] = await drain(store, new Runner({ store, agent: many, logger: quiet }) as Runner<never>, [rollout.rolloutId]);
    const lastFinal = Array.from({ length: 2100 }, (_, i) => i).filter((i) => i % 7 === 3).at(-1);
    expect(ended!.finalReward).toBe(lastFinal);
    expect(store.spanQueries).toBe(3);
  });

  it("lets an in-process final reward win over one posted over HTTP, reading the store back once per attempt", async () => {
    const store = countingStore();
    const url = await serve(store);
    const both = agent(async (_task: string, ctx: AgentContext) => {
      await postRewards(ctx, url, ['{"value": 0.9}']);
      emitReward(0.3);
    });
    const returns = agent(async (_task: string, ctx: AgentContext) => {
      await postRewards(ctx, url, ['{"value": 0.9}']);
      return 0.4;
    });
    const first = await store.enqueue({ input: "emits" });
    const [emitted] = await drain(store, new Runner({ store, agent: both, logger: quiet }) as Runner<never>, [first.rolloutId]);
    const second = await store.enqueue({ input: "returns" });
    const [returned] = await drain(store, new Runner({ store, agent: returns, logger: quiet }) as Runner<never>, [second.rolloutId]);
    expect([emitted!.finalReward, returned!.finalReward]).toEqual([0.3, 0.4]);
    expect(store.spanQueries).toBe(2);
  });

  it("completes the attempt without a reward, and warns, when the store cannot be read back", async () => {
    const store = countingStore();
    store.failSpanQueries = true;
    const rollout = await store.enqueue({ input: "silent" });
    const [ended] = await drain(store, new Runner({ store, agent: agent(async () => {}), logger: quiet }) as Runner<never>, [rollout.rolloutId]);
    expect(ended).toMatchObject({ status: "succeeded", finalReward: null });
    expect(store.spanQueries).toBe(1);
    expect(quiet.warn.mock.calls.map((c) => String(c[0])).join("\n")).toMatch(/could not read its spans back from the store \(StoreUnavailableError: the store is down for span queries\); .*no reward recorded from outside the process was looked up/);
  });
});

describe("Runner: at-least-once delivery", () => {
  it("runs the agent again when the runner died after the agent returned, with the same rollout id and the next attempt number", async () => {
    const store = newStore();
    // The first completion never reaches the store, as when a runner dies right after its agent returned.
    const complete = store.completeAttempt.bind(store);
    let completions = 0;
    store.completeAttempt = async (...args: Parameters<typeof complete>) => {
      if (completions++ === 0) throw new StoreUnavailableError("the runner died before its completion was stored");
      return complete(...args);
    };
    const runs: Array<AgentContext["rollout"]> = [];
    const sideEffect = agent(async (_task: string, ctx: AgentContext) => {
      runs.push({ ...ctx.rollout });
      return 1;
    });
    // The attempt goes silent once its runner is gone: the watchdog marks it and the store retries the rollout.
    const rollout = await store.enqueue({ input: "send the email", config: { heartbeatTimeoutMs: 100, maxAttempts: 2, retryOn: ["unresponsive"] } });
    const [ended] = await drain(store, new Runner({ store, agent: sideEffect, logger: quiet, heartbeatIntervalMs: 20 }) as Runner<never>, [rollout.rolloutId]);
    expect(runs.map((r) => [r.rolloutId, r.attempt, r.mode])).toEqual([
      [rollout.rolloutId, 1, "train"],
      [rollout.rolloutId, 2, "train"],
    ]);
    expect(runs[1]!.attemptId).not.toBe(runs[0]!.attemptId);
    expect(ended!.status).toBe("succeeded");
    // The store keeps one succeeded attempt; the lost one is marked, not counted twice.
    expect(ended!.attempts.map((a) => [a.sequence, a.attemptId, a.status])).toEqual([
      [1, runs[0]!.attemptId, "unresponsive"],
      [2, runs[1]!.attemptId, "succeeded"],
    ]);
  });
});
