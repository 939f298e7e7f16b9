/** The pieces APO is built from, one by one: reply parsing, edit checks, statistics, budgets, seeded choices. */
import { describe, expect, it } from "vitest";
import { ConflictError, TracetrainError } from "tracetrain";
import { MemoryStore } from "tracetrain/store";
import { findCandidate, templateOf } from "../../src/algorithms/apo/candidates.js";
import { snapshotId } from "../../src/algorithms/snapshots.js";
import { Budget, countTokens } from "../../src/algorithms/budget.js";
import { splitBlame } from "../../src/algorithms/apo/children.js";
import { randomFor, SeededRandom } from "../../src/util/random.js";
import { estimate, pairedDifference } from "../../src/algorithms/apo/stats.js";
import { checkEdit, describeProblem, extractTemplate, repairAddedPlaceholders } from "../../src/algorithms/template-check.js";

const mustache = { kind: "prompt_template", template: "Book {{room}} on {{date}}.", engine: "mustache" } as const;
const fstring = { kind: "prompt_template", template: "Book {room} on {date}; literal {{braces}}.", engine: "fstring" } as const;

describe("reading the optimizer's reply", () => {
  it("takes the template from tags, a code fence, or the reply without its preamble", () => {
    expect(extractTemplate("Sure!\n<template>\nBook {{room}}.\n</template>\nDone.")).toBe("Book {{room}}.");
    expect(extractTemplate("<TEMPLATE>Book {{room}}.</TEMPLATE>")).toBe("Book {{room}}.");
    expect(extractTemplate("Here is the revised template:\n\n```text\nLine one\nLine two\n```\nIt is better.")).toBe("Line one\nLine two");
    expect(extractTemplate("Here's the revised prompt:\nBook {{room}}.")).toBe("Book {{room}}.");
    expect(extractTemplate("   ")).toBe("");
  });

  it("finds the blamed template and removes that line from the critique", () => {
    expect(splitBlame("- state the capacity rule\nTARGET: system")).toEqual({ critique: "- state the capacity rule", blamed: "system" });
    expect(splitBlame("**TARGET:** `tool_hint`.\n- fix it")).toEqual({ critique: "- fix it", blamed: "tool_hint" });
    expect(splitBlame("TARGET: a\nmore\nTARGET: b").blamed).toBe("b");
    expect(splitBlame("no blame here")).toEqual({ critique: "no blame here", blamed: undefined });
  });
});

describe("checking an edit", () => {
  it("accepts an edit with exactly the parent's placeholders", () => {
    expect(checkEdit(mustache, "Please book {{ room }} for {{date}}, carefully.", 100)).toBeUndefined();
    expect(checkEdit(fstring, "Book {room} on {date}. {{not a placeholder}}", 100)).toBeUndefined();
  });

  it("names dropped and invented placeholders, empty replies and long ones", () => {
    const problem = checkEdit(mustache, "Book {{room}} at {{time}}.", 100);
    expect(problem).toEqual({ kind: "placeholders", missing: ["date"], added: ["time"] });
    expect(describeProblem(problem!)).toBe("it dropped the placeholder(s) date; it added the placeholder(s) time, which the agent does not fill");
    expect(checkEdit(mustache, "  ", 100)).toEqual({ kind: "empty" });
    expect(checkEdit(mustache, `{{room}}{{date}}${"x".repeat(200)}`, 100)).toEqual({ kind: "too_long", length: 216, limit: 100 });
  });

  it("repairs invented placeholders into literal text, in either engine", () => {
    expect(repairAddedPlaceholders(mustache, "Book {{room}} on {{date}} ({{weekday}}).")).toBe("Book {{room}} on {{date}} (weekday).");
    const repaired = repairAddedPlaceholders(fstring, "Book {room} on {date} ({weekday}); {{x}}.");
    expect(repaired).toBe("Book {room} on {date} ({{weekday}}); {{x}}.");
    expect(checkEdit(fstring, repaired, 100)).toBeUndefined();
  });
});

describe("statistics", () => {
  it("gives a mean with a Student-t 95% interval", () => {
    expect(estimate([])).toEqual({ mean: Number.NaN, ci95: Number.NaN, n: 0 });
    expect(estimate([1])).toEqual({ mean: 1, ci95: 0, n: 1 });
    const e = estimate([0, 1, 0, 1]);
    expect(e.mean).toBe(0.5);
    expect(e.ci95).toBeCloseTo(3.182 * Math.sqrt(1 / 3 / 4), 6);
  });

  it("calls a paired difference significant only when its interval lies above zero", () => {
    expect(pairedDifference([0, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 0]).significant).toBe(true);
    expect(pairedDifference([0, 1, 0, 1], [1, 0, 1, 0]).significant).toBe(false);
    expect(pairedDifference([0], [1]).significant).toBe(false);
    expect(pairedDifference([1, 1, 1], [0, 0, 0]).mean).toBe(-1);
  });
});

describe("budget", () => {
  it("counts calls under way, so concurrent calls cannot pass a token limit together", () => {
    const budget = new Budget({ maxOptimizerTokens: 1000 }, {});
    expect(budget.beginOptimizerCall("m", 300, 200)).toBeUndefined();
    expect(budget.beginOptimizerCall("m", 300, 200)).toBeUndefined();
    expect(budget.beginOptimizerCall("m", 1, 1)).toBe("maxOptimizerTokens");
    budget.endOptimizerCall({ model: "m", inputTokens: 300, maxOutput: 200 }, { model: "m", inputTokens: 300, outputTokens: 10 });
    expect(budget.beginOptimizerCall("m", 150, 30)).toBeUndefined();
    expect(budget.spend().optimizerTokens).toEqual({ input: 300, output: 10 });
  });

  it("keeps reserved rollouts, and their likely cost, out of the search's reach", () => {
    const budget = new Budget({ maxRollouts: 10 }, {});
    budget.reserve(4);
    expect(budget.wouldExceedRollouts(6)).toBeUndefined();
    expect(budget.wouldExceedRollouts(7)).toBe("maxRollouts");
    budget.release();
    expect(budget.wouldExceedRollouts(10)).toBeUndefined();

    const dollars = new Budget({ maxUsd: 1 }, { agent: { input: 1, output: 0 } }); // $1 per million tokens
    dollars.reserve(4);
    dollars.addRollouts(1);
    dollars.addRolloutUsage([{ model: "agent", inputTokens: 100_000, outputTokens: 0 }]); // $0.10 a rollout
    expect(dollars.wouldExceedRollouts(4)).toBeUndefined(); // 0.1 + 0.1 × (4 reserved + 4)
    expect(dollars.wouldExceedRollouts(6)).toBe("maxUsd");
    expect(dollars.beginOptimizerCall("agent", 600_000, 0)).toBe("maxUsd"); // 0.1 + 0.4 reserved + 0.6
  });

  it("prices dated model snapshots like their family and reports unknown models", () => {
    const budget = new Budget({}, { "gpt-4.1-mini": { input: 0.4, output: 1.6 } });
    budget.addOptimizerCall({ model: "gpt-4.1-mini-2025-04-14", inputTokens: 1_000_000, outputTokens: 1_000_000 });
    budget.addOptimizerCall({ model: "house-model", inputTokens: 5, outputTokens: 5 });
    expect(budget.spend().usd.optimizer).toBeCloseTo(2.0, 9);
    expect(budget.spend().unpricedModels).toEqual(["house-model"]);
  });

  it("counts tokens with the o200k tokenizer", () => {
    expect(countTokens("hello world")).toBe(2);
  });
});

describe("seeded choices", () => {
  it("repeat for the same seed and label, and differ between labels", () => {
    const a = randomFor(1, "minibatch.1.seed").shuffle([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(randomFor(1, "minibatch.1.seed").shuffle([1, 2, 3, 4, 5, 6, 7, 8])).toEqual(a);
    expect(randomFor(1, "minibatch.2.seed").shuffle([1, 2, 3, 4, 5, 6, 7, 8])).not.toEqual(a);
    expect([...a].sort()).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const r = new SeededRandom(42);
    for (let i = 0; i < 1000; i++) {
      const x = r.next();
      expect(x >= 0 && x < 1).toBe(true);
    }
  });
});

describe("candidates in the store", () => {
  it("refuses, as a conflict, resources under a candidate's id that this APO run did not write", async () => {
    const store = new MemoryStore();
    try {
      await store.addResources({ system: { kind: "prompt_template", template: "Hi" } }, { resourcesId: snapshotId("run-1", "r1.0") });
      const error = await findCandidate(store, "run-1", "r1.0").then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ConflictError);
      expect((error as ConflictError).details).toEqual({ runId: "run-1", resourcesId: "run-1.r1.0" });
      expect((error as ConflictError).message).toMatch(/exist but were not written by APO run 'run-1': choose another runId/);
      expect(await findCandidate(store, "run-1", "r1.1")).toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it("reports a candidate without the template asked for as an internal error, not a plain Error", () => {
    const candidate = { id: "seed", resourcesId: "x", resources: { cfg: { kind: "json" as const, value: 1 } }, parentId: null, round: 0, target: null, critique: null, calls: [] };
    const error = (() => {
      try {
        templateOf(candidate, "cfg");
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(TracetrainError);
    expect((error as TracetrainError).code).toBe("internal");
  });
});
