/**
 * What the training-run pages draw, worked out without a browser from run logs that parse with
 * the store's schemas: the RL curves (gaps where a step reported nothing, the initial validation
 * as step 0, a re-recorded step counted once), the lineage tree (merges under each parent, a
 * rejected candidate kept, a cycle not followed), the latest scores, front and spend, the words
 * changed within a line, and the chart's ticks.
 */
import { describe, expect, it } from "vitest";
import type { RunEntry } from "../../src/dashboard/records.js";
import { type LineageNode, frontMembers, headline, lineage, promptRun, readable, rlCharts, sftCharts, spendBars, wordDiff } from "../../src/dashboard/run-model.js";
import { integerTicks, niceTicks } from "../../src/dashboard/ticks.js";
import { GEPA_CANDIDATES, GEPA_FRONT, GEPA_SPEND, INITIAL_VAL, RL_STEPS, entry, rlStepData, rlStepEntry, sftRound } from "./run-fixtures.js";
import { RunEntryKinds } from "tracetrain/schemas";

/** Input entries as the store returns them: numbered in order. */
function logOf(inputs: ReadonlyArray<{ kind: string; key?: string | undefined; data: object }>): RunEntry[] {
  return inputs.map((input, i) => ({ runId: "r", sequence: i + 1, kind: input.kind, key: input.key ?? null, at: 1_000 + i, data: input.data as Record<string, unknown> }));
}

const steps = Array.from({ length: RL_STEPS }, (_, i) => rlStepData(i + 1));
const rlLog = logOf([entry(RunEntryKinds.evaluation, { ...INITIAL_VAL, ci95: [...INITIAL_VAL.ci95] }), ...steps.map((_, i) => rlStepEntry(i + 1))]);

describe("RL curves", () => {
  const charts = new Map(rlCharts(rlLog).map((chart) => [chart.id, chart]));
  const series = (chart: string, name: string) => charts.get(chart)!.series.find((s) => s.name === name)!.points;

  it("has one chart per metric, seconds with a line per phase", () => {
    expect([...charts.keys()]).toEqual(["reward", "no-signal", "merge-ratio", "tokens-per-reward", "tokens", "cost", "length-penalty", "staleness", "seconds"]);
    expect(charts.get("seconds")!.series.map((s) => s.name)).toEqual(["rollouts", "adapt", "train", "eval"]);
    expect(series("seconds", "train")).toEqual(steps.map((s) => ({ x: s.step, y: s.seconds.train })));
  });

  it("puts the initial validation at step 0 of the val curve and leaves out what a step did not report", () => {
    const val = series("reward", "val");
    expect(val[0]).toEqual({ x: 0, y: INITIAL_VAL.mean });
    expect(val.slice(1)).toEqual(steps.filter((s) => s.valReward !== undefined).map((s) => ({ x: s.step, y: s.valReward })));
    expect(series("reward", "train")).toHaveLength(RL_STEPS);
    // Step 1 had no merge ratio and no tokens per reward (null): a gap, not a zero.
    expect(series("merge-ratio", "merge ratio").map((p) => p.x)).toEqual(steps.slice(1).map((s) => s.step));
    expect(series("tokens-per-reward", "sampled tokens per reward")).toHaveLength(RL_STEPS - 1);
    expect(series("tokens-per-reward", "all tokens per reward")).toHaveLength(RL_STEPS - 1);
    expect(series("tokens", "input")).toEqual(steps.map((s) => ({ x: s.step, y: s.tokens!.input })));
    expect(series("cost", "cost")[0]!.y).toBeCloseTo((94_000 * 0.4 + 17_100 * 1.6) / 1e6, 12);
    // The penalty began at step 6: no points before it.
    expect(series("length-penalty", "mean penalty").map((p) => p.x)).toEqual([6, 7, 8, 9, 10]);
  });

  it("counts a step recorded twice (a resumed run) once, with its later values", () => {
    const again = { ...rlStepData(3), trainReward: 0.99 };
    const log = logOf([...steps.map((_, i) => rlStepEntry(i + 1)), entry(RunEntryKinds.rlStep, again as unknown as Record<string, unknown>)]);
    const train = rlCharts(log)[0]!.series[0]!.points;
    expect(train).toHaveLength(RL_STEPS);
    expect(train.find((p) => p.x === 3)).toEqual({ x: 3, y: 0.99 });
  });
});

describe("SFT curves", () => {
  const rounds = [1, 2, 3, 4].map(sftRound);
  const log = logOf([entry(RunEntryKinds.evaluation, { ...INITIAL_VAL, ci95: [...INITIAL_VAL.ci95] }), ...rounds.map((r) => entry("sft.round", r as unknown as Record<string, unknown>, `round-${r.round}`))]);
  const charts = new Map(sftCharts(log).map((chart) => [chart.id, chart]));
  const series = (chart: string, name: string) => charts.get(chart)!.series.find((s) => s.name === name)?.points;

  it("reads every round the store's schema accepts, and draws one chart per figure", () => {
    expect(readable(log).unreadable).toEqual([]);
    expect([...charts.keys()]).toEqual(["reward", "filters", "loss", "tokens", "tokens-per-reward", "seconds"]);
  });

  it("draws validation from round 0, what was kept and why the rest was not, and leaves gaps where a round reported nothing", () => {
    expect(series("reward", "val")).toEqual([{ x: 0, y: INITIAL_VAL.mean }, { x: 2, y: 0.5 }, { x: 4, y: 1 }]);
    expect(series("filters", "kept")).toEqual(rounds.map((r) => ({ x: r.round, y: r.filter.kept })));
    expect(series("filters", "excluded by behaviour")).toEqual(rounds.map((r) => ({ x: r.round, y: r.filter.excludedByBehaviour })));
    // A filter that never left anything out is not drawn.
    expect(series("filters", "beyond top-k")).toBeUndefined();
    expect(series("loss", "loss")!.map((p) => p.y)).toEqual([2, 1, 2 / 3, 0.5]);
    expect(series("tokens-per-reward", "tokens per reward")!.map((p) => p.x)).toEqual([2, 3, 4]);
  });
});

describe("APO/GEPA lineage", () => {
  const inputs = GEPA_CANDIDATES.map((c) => entry(RunEntryKinds.candidate, c as unknown as Record<string, unknown>));
  /** The tree as `id(children…)`, a repeated merge as `id→parent`. */
  const shape = (nodes: readonly LineageNode[]): string =>
    nodes.map((n) => (n.shownUnder !== undefined ? `${n.candidate.candidateId}→${n.shownUnder}` : n.children.length === 0 ? n.candidate.candidateId : `${n.candidate.candidateId}(${shape(n.children)})`)).join(" ");

  it("hangs children under their parents, lists a merge under both, and keeps the rejected candidate", () => {
    const run = promptRun(logOf(inputs));
    expect(shape(lineage(run.candidates))).toBe("c0(c1(c2(c4 m5)) c3(m5→c2))");
    expect(run.candidates.get("c4")!.accepted).toBe(false);
  });

  it("does not loop on a log that names a candidate its own ancestor, and still lists every candidate", () => {
    const a = { ...GEPA_CANDIDATES[1]!, candidateId: "a", parents: ["b"] };
    const b = { ...GEPA_CANDIDATES[1]!, candidateId: "b", parents: ["a"] };
    const tree = lineage(promptRun(logOf([...inputs.slice(0, 1), entry(RunEntryKinds.candidate, a), entry(RunEntryKinds.candidate, b)])).candidates);
    expect(shape(tree)).toBe("c0 a(b)");
  });

  it("names a parent the log has no entry for, and makes its child a root", () => {
    const orphan = { ...GEPA_CANDIDATES[1]!, candidateId: "x", parents: ["gone"] };
    const [node] = lineage(promptRun(logOf([entry(RunEntryKinds.candidate, orphan)])).candidates);
    expect(node!.missingParents).toEqual(["gone"]);
  });

  it("keeps the latest score per candidate and set of tasks, the latest front and the latest spend", () => {
    const run = promptRun(
      logOf([
        entry(RunEntryKinds.score, { candidateId: "c1", on: "minibatch", mean: 0.3, n: 3, ci95: null }),
        entry(RunEntryKinds.score, { candidateId: "c1", on: "pareto", mean: 0.5, n: 12, ci95: [0.2, 0.8] }),
        entry(RunEntryKinds.score, { candidateId: "c1", on: "minibatch", mean: 0.6, n: 3, ci95: null }),
        entry(RunEntryKinds.front, { iteration: 1, candidateIds: ["c0"] }),
        entry(RunEntryKinds.front, GEPA_FRONT),
        entry(RunEntryKinds.spend, { ...GEPA_SPEND, rollouts: 10 }),
        entry(RunEntryKinds.spend, GEPA_SPEND),
      ]),
    );
    expect(run.scores.get("c1")!.map((s) => `${s.on}=${s.mean}`)).toEqual(["minibatch=0.6", "pareto=0.5"]);
    expect(run.front).toEqual(GEPA_FRONT);
    expect(run.spend).toEqual(GEPA_SPEND);
  });
});

describe("entries the pages cannot read", () => {
  it("are set aside with the field at fault, while the rest, and kinds the dashboard does not know, pass", () => {
    const log = logOf([
      rlStepEntry(1),
      { kind: RunEntryKinds.rlStep, data: { step: "two", seconds: {} } },
      { kind: RunEntryKinds.candidate, data: { ...GEPA_CANDIDATES[1]!, parents: "c0" } },
      { kind: RunEntryKinds.score, data: { candidateId: "c1", on: "pareto", mean: 0.5, n: 3, ci95: [0.1] } },
      { kind: RunEntryKinds.spend, data: { rollouts: 1, optimizerTokens: 2, usd: null, limits: { maxRollouts: "many" } } },
      { kind: "custom.note", data: { anything: true } },
    ]);
    const { entries, unreadable } = readable(log);
    expect(entries.map((e) => e.sequence)).toEqual([1, 6]);
    expect(unreadable).toEqual([
      { sequence: 2, kind: "rl.step", problem: "step is not a whole number" },
      { sequence: 3, kind: "candidate", problem: "parents is not a list of candidate ids" },
      { sequence: 4, kind: "score", problem: "ci95 is not a [low, high] interval" },
      { sequence: 5, kind: "spend", problem: "limits is not {maxRollouts, maxOptimizerTokens, maxUsd}, each a number or null" },
    ]);
  });

  it("include none of what the fixtures (checked by the store's schemas) write", () => {
    const all = logOf([...rlLog.map((e) => ({ kind: e.kind, data: e.data })), ...GEPA_CANDIDATES.map((c) => entry(RunEntryKinds.candidate, c as unknown as Record<string, unknown>))]);
    expect(readable(all).unreadable).toEqual([]);
  });
});

describe("the front", () => {
  it("ranks a Pareto front by wins and badges each member with them; a beam (no wins) keeps its order and says beam", () => {
    expect(frontMembers(GEPA_FRONT, "front").map((m) => [m.candidateId, m.badge])).toEqual([
      ["m5", "front · 7 wins"],
      ["c3", "front · 3 wins"],
      ["c2", "front · 2 wins"],
    ]);
    expect(frontMembers({ iteration: 2, candidateIds: ["b", "a"] }, "beam")).toEqual([
      { candidateId: "b", wins: undefined, badge: "beam" },
      { candidateId: "a", wins: undefined, badge: "beam" },
    ]);
    expect(frontMembers({ iteration: 1, candidateIds: ["x"], wins: {} }, "front")[0]!.badge).toBe("front · 0 wins");
    expect(frontMembers(undefined, "front")).toEqual([]);
  });
});

describe("spend bars", () => {
  it("measures each resource against its limit, says when there is none, and shows USD only when priced", () => {
    expect(spendBars(GEPA_SPEND).map((b) => [b.label, b.used, b.limit, b.share])).toEqual([
      ["Rollouts", 412, 600, 412 / 600],
      ["Optimizer tokens", 38_500, null, undefined],
      ["USD", 1.37, 5, 1.37 / 5],
    ]);
    const unpriced = { ...GEPA_SPEND, usd: null, limits: { ...GEPA_SPEND.limits, maxUsd: null } };
    expect(spendBars(unpriced).map((b) => b.label)).toEqual(["Rollouts", "Optimizer tokens"]);
  });
});

describe("words changed within a line", () => {
  const marked = (words: ReadonlyArray<{ text: string; changed: boolean }>) => words.map((w) => (w.changed ? `[${w.text}]` : w.text)).join("");

  it("marks only the words that differ, on both sides, and loses no text", () => {
    const before = "Read the request and list the rooms that are free.";
    const after = "Read the request and list the rooms that are free at the requested time.";
    const diff = wordDiff(before, after);
    expect(marked(diff.before)).toBe("Read the request and list the rooms that are free.");
    expect(marked(diff.after)).toBe("Read the request and list the rooms that are free[ at the requested time].");
    const swapped = wordDiff("Answer with the room id only.", "Reply with the room name only.");
    expect(marked(swapped.before)).toBe("[Answer] with the room [id] only.");
    expect(marked(swapped.after)).toBe("[Reply] with the room [name] only.");
  });

  it("keeps quotes, backslashes and carriage returns in tokens as they are", () => {
    const diff = wordDiff('say "hi"\\n\r now', 'say "bye"\\n\r now');
    expect(diff.before.map((w) => w.text).join("")).toBe('say "hi"\\n\r now');
    expect(marked(diff.after)).toBe('say "[bye]"\\n\r now');
  });
});

describe("chart ticks and the runs list's headline", () => {
  it("covers the data with round ticks", () => {
    expect(niceTicks(0.2, 0.8)).toEqual([0.2, 0.4, 0.6, 0.8]);
    expect(niceTicks(0.21, 0.75)).toEqual([0.2, 0.4, 0.6, 0.8]);
    expect(niceTicks(-3, 47)).toEqual([-10, 0, 10, 20, 30, 40, 50]);
    // A flat series gets room above and below its value.
    expect(niceTicks(5, 5)).toEqual([4.4, 4.6, 4.8, 5, 5.2, 5.4, 5.6]);
    expect(integerTicks(0, 10)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(integerTicks(1, 1)).toEqual([1, 2]);
    expect(integerTicks(0, 40)).toEqual([0, 5, 10, 15, 20, 25, 30, 35, 40]);
  });

  it("sums a run up in its first scalar fields", () => {
    expect(headline({ best: "m5", bestScore: 0.73999, nested: { a: 1 }, candidates: 6, extra: 1 })).toBe("best: m5 · bestScore: 0.74 · candidates: 6");
    expect(headline(null)).toBe("");
  });
});
