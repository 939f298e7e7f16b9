/** Feedback text with rewards: what `emitReward` and `withReward` record (real tracer, real store), and what they refuse. */
import { describe, expect, it } from "vitest";
import { Attr } from "tracetrain/instrumentations";
import { MemoryStore } from "tracetrain/store";
import { type Span, Tracer, TraceAdapter, ValidationError, emitReward, withReward } from "tracetrain";
import { MAX_REWARD_FEEDBACK_CHARS } from "../../src/types/index.js";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** Runs `fn` as a traced attempt into a MemoryStore; returns the stored spans and how `fn` ended. */
async function traced(fn: () => Promise<unknown> | unknown): Promise<{ rewards: Span[]; spans: Span[]; error: unknown }> {
  const store = new MemoryStore({ watchdogIntervalMs: false });
  try {
    const tracer = new Tracer({ sink: store, logger: quiet });
    const { rollout, attempt } = await store.startRollout({ input: "task" });
    const outcome = await tracer.capture({ rolloutId: rollout.rolloutId, attemptId: attempt.attemptId }, fn);
    const spans = (await store.querySpans({ rolloutId: rollout.rolloutId, limit: 100 })).items;
    return { rewards: spans.filter((s) => s.name === "tracetrain.reward"), spans, error: outcome.ok ? undefined : outcome.error };
  } finally {
    await store.close();
  }
}

const explanation = (span: Span) => span.events.find((e) => e.name === "gen_ai.evaluation.result")?.attributes?.["gen_ai.evaluation.explanation"];

/** The ValidationError `fn` throws (or the promise rejects with). */
async function validationError(fn: () => unknown): Promise<ValidationError> {
  try {
    await fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return error as ValidationError;
  }
  throw new Error("expected a ValidationError");
}

describe("reward feedback", () => {
  it("emitReward records the feedback on the reward span and its evaluation event", async () => {
    const { rewards, spans } = await traced(() => {
      emitReward(0, { feedback: "The room has no projector." });
      emitReward({ accuracy: 1, brevity: 0.2 }, { primary: "brevity", final: false, feedback: "Too long: 400 words." });
      emitReward(1);
    });
    expect(rewards.map((s) => s.attributes[Attr.rewardFeedback])).toEqual(["The room has no projector.", "Too long: 400 words.", undefined]);
    expect(rewards.map(explanation)).toEqual(["The room has no projector.", "Too long: 400 words.", undefined]);
    // The adapters read it back with its reward.
    expect(new TraceAdapter().feedback(spans).map((f) => [f.name, f.value, f.final, f.feedback])).toEqual([
      ["reward", 0, true, "The room has no projector."],
      ["brevity", 0.2, false, "Too long: 400 words."],
    ]);
  });

  it("withReward records feedback given as an option, or returned with the value by the judge", async () => {
    const { rewards, spans } = await traced(async () => {
      expect(await withReward(async () => 0.5, { feedback: "Half the steps were right." })).toBe(0.5);
      const judged = await withReward(async () => ({ value: { correct: 0, style: 1 }, feedback: "Wrong total; nicely formatted." }), { primary: "correct", final: false });
      expect(judged).toEqual({ value: { correct: 0, style: 1 }, feedback: "Wrong total; nicely formatted." });
      // The judge's own feedback replaces the option's; `undefined` from the judge keeps the option's.
      await withReward(() => ({ value: 1, feedback: "From the judge." }), { feedback: "From the option.", final: false });
      await withReward(() => ({ value: 1, feedback: undefined }), { feedback: "From the option." });
    });
    expect(rewards.map((s) => [s.attributes[Attr.rewardValue], s.attributes[Attr.rewardFeedback]])).toEqual([
      [0.5, "Half the steps were right."],
      [0, "Wrong total; nicely formatted."],
      [1, "From the judge."],
      [1, "From the option."],
    ]);
    expect(rewards[1]!.attributes[Attr.rewardValues]).toEqual({ correct: 0, style: 1 });
    expect(new TraceAdapter().feedback(spans)).toHaveLength(4);
  });

  it("refuses feedback that is not text, or too long, with a typed error naming the field — in a trace or not", async () => {
    for (const bad of [42, null, { text: "x" }, ["x"]]) {
      const error = await validationError(() => emitReward(1, { feedback: bad as never }));
      expect(error.issues).toEqual([{ path: "feedback", message: expect.stringMatching(/^expected a string, got /) }]);
    }
    const huge = "x".repeat(MAX_REWARD_FEEDBACK_CHARS + 1);
    const tooLong = await validationError(() => emitReward(1, { feedback: huge }));
    expect(tooLong.message).toBe(`invalid reward: feedback: is ${MAX_REWARD_FEEDBACK_CHARS + 1} characters long; at most ${MAX_REWARD_FEEDBACK_CHARS} are recorded — have the evaluator summarize it`);
    expect((await validationError(() => emitReward(1, { feedback: "bad \ud800 text" }))).issues[0]!.path).toBe("feedback");

    const { rewards, error } = await traced(async () => {
      emitReward(1, { feedback: "x".repeat(MAX_REWARD_FEEDBACK_CHARS) });
      expect((await validationError(() => emitReward(1, { feedback: huge }))).issues[0]!.path).toBe("feedback");
      // A judge returning something that is not text as its feedback: the reward span records the error, and no reward.
      await withReward(async () => ({ value: 1, feedback: 7 as never }));
    });
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues).toEqual([{ path: "feedback", message: "expected a string, got number" }]);
    expect(rewards).toHaveLength(2);
    expect((rewards[0]!.attributes[Attr.rewardFeedback] as string).length).toBe(MAX_REWARD_FEEDBACK_CHARS);
    expect(rewards[1]!.attributes[Attr.rewardValue]).toBeUndefined();
    expect(rewards[1]!.events.some((e) => e.name === "exception")).toBe(true);
  });

  it("records no feedback for an empty text", async () => {
    const { rewards } = await traced(() => emitReward(1, { feedback: "  " }));
    expect(rewards[0]!.attributes[Attr.rewardFeedback]).toBeUndefined();
    expect(explanation(rewards[0]!)).toBeUndefined();
  });
});
