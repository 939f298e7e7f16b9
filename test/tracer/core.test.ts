import { EventEmitter } from "node:events";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Attr, SpanTypes } from "tracetrain/instrumentations";
import { MemoryStore } from "tracetrain/store";
import { Tracer, ValidationError, emitException, emitMessage, emitObject, emitReward, operation, withAgent } from "tracetrain";
import type { SpanInput } from "tracetrain";
import type { SpanSink } from "tracetrain/otel";

/** A sink that keeps what it receives (and can be told to fail). */
class RecordingSink implements SpanSink {
  spans: SpanInput[] = [];
  batches = 0;
  failuresLeft = 0;
  async addSpans(spans: SpanInput[]): Promise<void> {
    if (this.failuresLeft > 0) {
      this.failuresLeft--;
      throw new Error("sink down");
    }
    this.batches++;
    this.spans.push(...spans);
  }
}

const quietLogger = { debug() {}, info() {}, warn: vi.fn(), error: vi.fn() };
const attr = (span: SpanInput, key: string) => span.attributes?.[key];
const byName = (spans: SpanInput[], name: string) => spans.filter((s) => s.name === name);

afterEach(() => vi.clearAllMocks());

describe("Tracer core", () => {
  it("keeps 200 concurrent rollouts apart across awaits, timers and event emitters", async () => {
    const sink = new RecordingSink();
    const tracer = new Tracer({ sink, logger: quietLogger });
    const emitter = new EventEmitter();
    const runs = Array.from({ length: 200 }, (_, i) =>
      tracer.trace({ rolloutId: `ro-${i}`, attemptId: `at-${i}` }, async () => {
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 5));
        emitMessage(`hello from ${i}`);
        await new Promise<void>((resolve) =>
          setImmediate(() => {
            emitObject({ i });
            resolve();
          }),
        );
        // A listener registered inside the rollout runs in the emitting context: emit from here.
        await new Promise<void>((resolve) => {
          emitter.once(`go-${i}`, () => {
            emitReward(i / 200);
            resolve();
          });
          setTimeout(() => emitter.emit(`go-${i}`), Math.random() * 5);
        });
        return i;
      }),
    );
    expect(await Promise.all(runs)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(sink.spans).toHaveLength(200 * 4);
    for (const span of sink.spans) {
      const i = Number(span.rolloutId.slice(3));
      expect(span.attemptId).toBe(`at-${i}`);
      if (span.name === "tracetrain.message") expect(attr(span, Attr.messageBody)).toBe(`hello from ${i}`);
      if (span.name === "tracetrain.object") expect(attr(span, Attr.objectJson)).toEqual({ i });
      if (span.name === "tracetrain.reward") expect(attr(span, Attr.rewardValue)).toBe(i / 200);
    }
    const traceIds = new Set(sink.spans.map((s) => s.traceId));
    expect(traceIds.size).toBe(200);
  });

  it("builds a span tree: rollout root, agents, operations, emitters", async () => {
    const sink = new RecordingSink();
    const tracer = new Tracer({ sink, logger: quietLogger });
    const result = await tracer.trace({ rolloutId: "ro-1", attemptId: "at-1" }, async () =>
      withAgent("planner", async () => {
        const plan = await operation("make-plan", async () => "plan A", { input: { goal: "x" } });
        await withAgent("critic", async () => emitMessage("looks fine"));
        emitReward({ accuracy: 0.5, brevity: 1 }, { primary: "brevity" });
        return plan;
      }),
    );
    expect(result).toBe("plan A");
    const spans = sink.spans;
    const root = spans.find((s) => s.name === "tracetrain.rollout")!;
    expect(root.parentId).toBeNull();
    expect(attr(root, Attr.spanType)).toBe(SpanTypes.rollout);
    const planner = spans.find((s) => s.name === "invoke_agent planner")!;
    const critic = spans.find((s) => s.name === "invoke_agent critic")!;
    const op = spans.find((s) => s.name === "make-plan")!;
    const message = spans.find((s) => s.name === "tracetrain.message")!;
    const reward = spans.find((s) => s.name === "tracetrain.reward")!;
    expect(planner.parentId).toBe(root.spanId);
    expect(op.parentId).toBe(planner.spanId);
    expect(critic.parentId).toBe(planner.spanId);
    expect(message.parentId).toBe(critic.spanId);
    expect(reward.parentId).toBe(planner.spanId);
    expect(attr(op, Attr.operationInput)).toEqual({ goal: "x" });
    expect(attr(op, Attr.operationOutput)).toBe("plan A");
    expect(attr(op, Attr.agentName)).toBe("planner");
    expect(attr(message, Attr.agentName)).toBe("critic");
    expect(attr(reward, Attr.agentName)).toBe("planner");
    expect(attr(reward, Attr.rewardValue)).toBe(1);
    expect(attr(reward, Attr.rewardName)).toBe("brevity");
    expect(attr(reward, Attr.rewardValues)).toEqual({ accuracy: 0.5, brevity: 1 });
    expect(attr(reward, Attr.rewardFinal)).toBe(true);
    expect(reward.events?.[0]).toMatchObject({ name: "gen_ai.evaluation.result", attributes: { "gen_ai.evaluation.score.value": 1 } });
    for (const span of spans) {
      expect(span.traceId).toBe(root.traceId);
      expect(span.endTime).toBeGreaterThanOrEqual(span.startTime);
    }
    expect(tracer.lastTrace()?.report).toMatchObject({ spans: 6, rewards: 1, finalReward: 1, llmCalls: 0 });
  });

  it("records a thrown error on the operation and the root, and rethrows it unchanged", async () => {
    const sink = new RecordingSink();
    const tracer = new Tracer({ sink, logger: quietLogger });
    const boom = new TypeError("bad tool input");
    const outcome = await tracer.capture({ rolloutId: "ro-1", attemptId: "at-1" }, () =>
      operation("tool", () => {
        throw boom;
      }),
    );
    expect(outcome.ok).toBe(false);
    expect(!outcome.ok && outcome.error).toBe(boom);
    expect(outcome.report.agentError).toBe("TypeError: bad tool input");
    const tool = byName(outcome.spans, "tool")[0]!;
    expect(tool.status).toEqual({ code: "error", message: "bad tool input" });
    expect(tool.events?.[0]).toMatchObject({ name: "exception", attributes: { "exception.type": "TypeError", "exception.message": "bad tool input" } });
    expect(byName(outcome.spans, "tracetrain.rollout")[0]!.status).toMatchObject({ code: "error" });
    await expect(tracer.trace({ rolloutId: "ro-2", attemptId: "at-2" }, () => Promise.reject(boom))).rejects.toBe(boom);
  });

  it("records handled exceptions and hostile objects without throwing", async () => {
    const sink = new RecordingSink();
    const tracer = new Tracer({ sink, logger: quietLogger });
    const circular: Record<string, unknown> = { n: 1n, when: new Date(0), map: new Map([["k", 1]]), fn: () => 1 };
    circular.self = circular;
    const outcome = await tracer.capture({ rolloutId: "ro-1", attemptId: "at-1" }, () => {
      emitException(new RangeError("retrying"));
      emitObject(circular);
    });
    const object = byName(outcome.spans, "tracetrain.object")[0]!;
    expect(attr(object, Attr.objectJson)).toEqual({ n: "1", when: "1970-01-01T00:00:00.000Z", map: { k: 1 }, self: "[Circular]" });
    const exception = byName(outcome.spans, "tracetrain.exception")[0]!;
    expect(attr(exception, Attr.errorType)).toBe("RangeError");
    expect(exception.status).toEqual({ code: "error", message: "retrying" });
  });

  it("validates rewards and keeps the last final reward, warning about several", async () => {
    const tracer = new Tracer({ sink: new RecordingSink(), logger: quietLogger });
    const outcome = await tracer.capture({ rolloutId: "ro-1", attemptId: "at-1" }, () => {
      emitReward(0.2, { callId: "0123456789abcdef" });
      emitReward(0.5);
      emitReward(0.9);
      expect(() => emitReward(Number.NaN)).toThrow(ValidationError);
      expect(() => emitReward({})).toThrow(ValidationError);
      expect(() => emitReward({ a: 1 }, { primary: "b" })).toThrow(/primary 'b'/);
    });
    expect(outcome.report).toMatchObject({ rewards: 3, finalReward: 0.9 });
    const intermediate = outcome.spans.find((s) => s.attributes?.[Attr.rewardCallId] !== undefined)!;
    expect(attr(intermediate, Attr.rewardFinal)).toBe(false);
    expect(outcome.report.warnings.join("\n")).toMatch(/2 final rewards; the last one \(0.9\) counts/);
  });

  it("is a no-op outside a trace, saying so once", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    emitMessage("nobody listens");
    emitMessage("still nobody");
    expect(operation("plain", () => 41 + 1)).toBe(42);
    expect(await withAgent("a", async () => "ok")).toBe("ok");
    expect(warn.mock.calls.filter((c) => String(c[0]).includes("emitMessage()"))).toHaveLength(1);
    warn.mockRestore();
  });

  it("batches spans to the sink and writes them into a real store", async () => {
    const store = new MemoryStore({ watchdogIntervalMs: false });
    await store.enqueue({ input: 1, rolloutId: "ro-store" });
    const [claimed] = await store.dequeue();
    const tracer = new Tracer({ sink: store, batchSize: 4, logger: quietLogger });
    await tracer.trace({ rolloutId: "ro-store", attemptId: claimed!.attempt.attemptId }, async () => {
      for (let i = 0; i < 9; i++) emitMessage(`m${i}`);
    });
    const page = await store.querySpans({ rolloutId: "ro-store" });
    expect(page.items.map((s) => s.name)).toEqual([...Array(9).fill("tracetrain.message"), "tracetrain.rollout"]);
    expect(page.items.map((s) => s.sequence)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    await store.close();
  });

  it("retries a failing sink, then drops and reports what it could not deliver, never failing the agent", async () => {
    const sink = new RecordingSink();
    sink.failuresLeft = 1;
    const tracer = new Tracer({ sink, retryDelaysMs: [5], logger: quietLogger });
    const recovered = await tracer.capture({ rolloutId: "ro-1", attemptId: "at-1" }, () => emitMessage("x"));
    expect(recovered.ok).toBe(true);
    expect(recovered.report.delivery).toEqual({ sent: 2, dropped: 0, retries: 1, errors: [] });

    sink.failuresLeft = 100;
    const lost = await tracer.capture({ rolloutId: "ro-2", attemptId: "at-2" }, () => "agent result");
    expect(lost).toMatchObject({ ok: true, value: "agent result" });
    expect(lost.report.delivery).toMatchObject({ sent: 0, dropped: 1, retries: 1, errors: ["Error: sink down"] });
    expect(lost.report.warnings.join("\n")).toMatch(/1 span\(s\) could not be delivered \(Error: sink down\)/);
    expect(quietLogger.warn).toHaveBeenCalled();
  });

  it("salvages the valid spans of a batch the store rejects, dropping only the bad ones", async () => {
    const store = new MemoryStore({ watchdogIntervalMs: false });
    await store.enqueue({ input: 1, rolloutId: "ro-v" });
    const [claimed] = await store.dequeue();
    const tracer = new Tracer({ sink: store, logger: quietLogger });
    const outcome = await tracer.capture({ rolloutId: "ro-v", attemptId: claimed!.attempt.attemptId }, () => {
      emitMessage("fine");
      operation("x".repeat(2000), () => "a span name longer than the store accepts");
      emitMessage("also fine");
    });
    expect(outcome.report.delivery).toMatchObject({ sent: 3, dropped: 1 });
    expect(outcome.report.delivery.errors[0]).toMatch(/ValidationError: invalid spans: \[0\]\.name/);
    const stored = await store.querySpans({ rolloutId: "ro-v" });
    expect(stored.items.map((s) => s.name)).toEqual(["tracetrain.message", "tracetrain.message", "tracetrain.rollout"]);
    // An attempt the store does not know is a permanent error: dropped at once, not retried.
    const orphan = await tracer.capture({ rolloutId: "ro-v", attemptId: "at-unknown" }, () => emitMessage("lost"));
    expect(orphan.report.delivery).toMatchObject({ dropped: 2, retries: 0 });
    expect(orphan.report.delivery.errors[0]).toMatch(/NotFoundError/);
    await store.close();
  });

  it("closes spans the agent left open and reports a rollout without LLM calls", async () => {
    const tracer = new Tracer({ sink: new RecordingSink(), logger: quietLogger });
    let release: () => void = () => {};
    const outcome = await tracer.capture({ rolloutId: "ro-1", attemptId: "at-1" }, () => {
      // An operation whose promise the agent never awaits: still open when the agent returns.
      void operation("forgotten", () => new Promise<void>((resolve) => (release = resolve)));
    });
    const forgotten = byName(outcome.spans, "forgotten")[0]!;
    expect(attr(forgotten, Attr.incomplete)).toBe(true);
    expect(outcome.report.incompleteSpans).toBe(1);
    expect(outcome.report.warnings.join("\n")).toMatch(/recorded no LLM call/);
    expect(outcome.report.warnings.join("\n")).toMatch(/left 1 span\(s\) open/);
    release();
  });

  it("requires a sink", async () => {
    await expect(new Tracer({ logger: quietLogger }).trace({ rolloutId: "r", attemptId: "a" }, () => 1)).rejects.toThrow(/no sink/);
  });

  it("checks its options, naming the field at fault", async () => {
    const bad: Array<[options: unknown, field: RegExp]> = [
      [{ batchSize: 0 }, /batchSize/],
      [{ batchSize: 1.5 }, /batchSize/],
      [{ flushIntervalMs: -1 }, /flushIntervalMs/],
      [{ retryDelaysMs: [100, "1s"] }, /retryDelaysMs\[1\]/],
      [{ keepSpans: "yes" }, /keepSpans/],
      [{ sink: { send() {} } }, /sink: expected a SpanSink/],
      [{ logger: console.log }, /logger: expected a Logger/],
      [{ batchsize: 10 }, /batchsize/],
    ];
    for (const [options, field] of bad) {
      expect(() => new Tracer(options as never), JSON.stringify(options)).toThrow(ValidationError);
      expect(() => new Tracer(options as never)).toThrow(field);
    }
    // Defaults are filled in: a tracer with no options works with a sink per trace.
    const sink = new RecordingSink();
    expect(await new Tracer({ logger: quietLogger, retryDelaysMs: Object.freeze([1, 2]) }).trace({ rolloutId: "r", attemptId: "a", sink }, () => 7)).toBe(7);
    const tracer = new Tracer({ sink, logger: quietLogger });
    await expect(tracer.trace({ rolloutId: "r 1", attemptId: "a" }, () => 1)).rejects.toThrow(/trace options: rolloutId/);
    await expect(tracer.trace({ rolloutId: "r", attemptId: "a", agentname: "x" } as never, () => 1)).rejects.toThrow(/agentname/);
    await expect(tracer.instrument({ openai: "yes" } as never)).rejects.toThrow(/instrument options: openai/);
  });
});
