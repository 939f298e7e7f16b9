/**
 * What the training-run pages show, worked out from a run's log: the RL curves, and for APO/GEPA
 * the candidates with their latest scores, the lineage tree, the front and the spend. No DOM here,
 * so the unit tests run it under Node.
 */
import { lineDiff } from "./diff.js";
import type { CandidateData, EvaluationData, FrontData, RLStepData, RunEntry, ScoreData, SFTRoundData, SpendData } from "./records.js";

/** The entry kinds the built-in algorithms write (src/types/training-run.ts `RunEntryKinds`). */
export const KINDS = { rlStep: "rl.step", sftRound: "sft.round", evaluation: "evaluation", candidate: "candidate", score: "score", front: "front", spend: "spend" } as const;

// ---- entries the pages can read ---------------------------------------------------------------

/** An entry of a known kind whose data lacks what the pages read (a custom writer, an older version). */
export interface Unreadable {
  sequence: number;
  kind: string;
  problem: string;
}

type Check = (data: Readonly<Record<string, unknown>>) => string | undefined;
const isNumber = (v: unknown) => typeof v === "number" && Number.isFinite(v);
const isString = (v: unknown) => typeof v === "string";
const isObject = (v: unknown) => typeof v === "object" && v !== null && !Array.isArray(v);
const isStrings = (v: unknown) => Array.isArray(v) && v.every(isString);
const isInterval = (v: unknown) => v === null || v === undefined || (Array.isArray(v) && v.length === 2 && v.every(isNumber));
const isEdits = (v: unknown) => Array.isArray(v) && v.every((e) => isObject(e) && isString(e.component) && isString(e.before) && isString(e.after));
const isCounts = (v: unknown) => v === undefined || (isObject(v) && Object.values(v as object).every(isNumber));
const isLimits = (v: unknown) => isObject(v) && ["maxRollouts", "maxOptimizerTokens", "maxUsd"].every((k) => (v as Record<string, unknown>)[k] === null || isNumber((v as Record<string, unknown>)[k]));
const field =
  (name: string, test: (v: unknown) => boolean, expected: string): Check =>
  (data) =>
    test(data[name]) ? undefined : `${name} is not ${expected}`;

/** What each kind must hold for the pages to draw it (the rest is read as optional). */
const CHECKS: Record<string, Check[]> = {
  "rl.step": [field("step", Number.isInteger, "a whole number"), field("seconds", isObject, "an object of seconds per phase")],
  "sft.round": [
    field("round", Number.isInteger, "a whole number"),
    field("filter", (v) => isCounts(v) && v !== undefined, "counts per filter"),
    field("stats", isObject, "an object of round figures"),
    field("seconds", isObject, "an object of seconds per phase"),
  ],
  evaluation: [field("label", isString, "a string"), field("split", isString, "a split name"), field("ci95", isInterval, "a [low, high] interval")],
  candidate: [
    field("candidateId", isString, "a string"),
    field("origin", isString, "a string"),
    field("parents", isStrings, "a list of candidate ids"),
    field("edits", isEdits, "a list of {component, before, after} texts"),
    field("rationale", (v) => v === null || isString(v), "a string or null"),
    field("iteration", isNumber, "a number"),
    field("accepted", (v) => typeof v === "boolean", "true or false"),
  ],
  score: [field("candidateId", isString, "a string"), field("on", isString, "a string"), field("mean", (v) => v === null || isNumber(v), "a number or null"), field("n", isNumber, "a number"), field("ci95", isInterval, "a [low, high] interval")],
  front: [field("iteration", isNumber, "a number"), field("candidateIds", isStrings, "a list of candidate ids"), field("wins", isCounts, "counts per candidate")],
  spend: [field("rollouts", isNumber, "a number"), field("optimizerTokens", isNumber, "a number"), field("usd", (v) => v === null || isNumber(v), "a number or null"), field("limits", isLimits, "{maxRollouts, maxOptimizerTokens, maxUsd}, each a number or null")],
};

/**
 * The entries the pages can draw, and those of a known kind they cannot (said on the page rather
 * than breaking it). Kinds the dashboard does not know pass through untouched.
 */
export function readable(entries: readonly RunEntry[]): { entries: RunEntry[]; unreadable: Unreadable[] } {
  const ok: RunEntry[] = [];
  const unreadable: Unreadable[] = [];
  for (const entry of entries) {
    const problem = (CHECKS[entry.kind] ?? []).map((check) => check(entry.data)).find((p) => p !== undefined);
    if (problem === undefined) ok.push(entry);
    else unreadable.push({ sequence: entry.sequence, kind: entry.kind, problem });
  }
  return { entries: ok, unreadable };
}

// ---- RL -------------------------------------------------------------------------------------

export interface Point {
  x: number;
  y: number;
}

export interface Series {
  name: string;
  points: Point[];
}

/** One chart: a metric (or a few that share an axis) over steps. */
export interface ChartSpec {
  id: string;
  title: string;
  yLabel: string;
  series: Series[];
}

/** The steps of an RL run in step order (a step recorded twice, by a resumed run, counts once: the later entry). */
export function rlSteps(entries: readonly RunEntry[]): RLStepData[] {
  const byStep = new Map<number, RLStepData>();
  for (const entry of entries) if (entry.kind === KINDS.rlStep) byStep.set((entry.data as unknown as RLStepData).step, entry.data as unknown as RLStepData);
  return [...byStep.values()].sort((a, b) => a.step - b.step);
}

/** Every evaluation outside the steps, in the order recorded. */
export function evaluations(entries: readonly RunEntry[]): EvaluationData[] {
  return entries.filter((entry) => entry.kind === KINDS.evaluation).map((entry) => entry.data as unknown as EvaluationData);
}

/** The validation before the first step (`evaluation` labelled `initial` on val): the val curve's step 0. */
export function initialEvaluation(entries: readonly RunEntry[]): EvaluationData | undefined {
  return evaluations(entries)
    .filter((e) => e.label === "initial" && e.split === "val")
    .at(-1);
}

const PHASES = ["rollouts", "adapt", "train", "eval"] as const;

/**
 * The RL page's charts, one per metric; a value the step did not report (null, absent) leaves a
 * gap. The token, cost and length-penalty charts are drawn only when some step reported them (a
 * run recorded before tokens were counted, or without a penalty, has none).
 */
export function rlCharts(entries: readonly RunEntry[]): ChartSpec[] {
  const steps = rlSteps(entries);
  const initial = initialEvaluation(entries);
  const series = (name: string, value: (step: RLStepData) => number | null | undefined, start: Point[] = []): Series => ({
    name,
    points: [...start, ...steps.flatMap((step) => pointOf(step.step, value(step)))],
  });
  const optional = (spec: ChartSpec): ChartSpec[] => (spec.series.some((s) => s.points.length > 0) ? [spec] : []);
  return [
    {
      id: "reward",
      title: "Reward",
      yLabel: "mean reward",
      series: [series("train", (s) => s.trainReward), series("val", (s) => s.valReward, initial ? pointOf(0, initial.mean) : [])],
    },
    { id: "no-signal", title: "No-signal share", yLabel: "share of groups", series: [series("no-signal share", (s) => s.zeroAdvantageShare)] },
    { id: "merge-ratio", title: "Merge ratio", yLabel: "samples per call", series: [series("merge ratio", (s) => s.mergeRatio)] },
    {
      id: "tokens-per-reward",
      title: "Tokens per unit reward",
      yLabel: "tokens",
      series: [series("sampled tokens per reward", (s) => s.tokensPerReward), series("all tokens per reward", (s) => s.totalTokensPerReward)],
    },
    ...optional({ id: "tokens", title: "Tokens per step", yLabel: "tokens", series: [series("input", (s) => s.tokens?.input), series("output", (s) => s.tokens?.output)] }),
    ...optional({ id: "cost", title: "Cost per step", yLabel: "USD", series: [series("cost", (s) => s.tokens?.costUsd)] }),
    ...optional({ id: "length-penalty", title: "Length penalty", yLabel: "reward change / share", series: [series("mean penalty", (s) => s.lengthPenalty?.mean), series("share penalized", (s) => s.lengthPenalty?.penalizedShare)] }),
    { id: "staleness", title: "Staleness", yLabel: "policy versions behind", series: [series("staleness", (s) => s.staleness)] },
    { id: "seconds", title: "Seconds per phase", yLabel: "seconds", series: PHASES.map((phase) => series(phase, (s) => s.seconds[phase])) },
  ];
}

// ---- SFT ------------------------------------------------------------------------------------

/** The rounds of an SFT run in round order (a round recorded twice, by a resumed run, counts once: the later entry). */
export function sftRounds(entries: readonly RunEntry[]): SFTRoundData[] {
  const byRound = new Map<number, SFTRoundData>();
  for (const entry of entries) if (entry.kind === KINDS.sftRound) byRound.set((entry.data as unknown as SFTRoundData).round, entry.data as unknown as SFTRoundData);
  return [...byRound.values()].sort((a, b) => a.round - b.round);
}

/** What the filters left out each round, in the order they run (the record's `filter` counts). */
const FILTERS = [
  ["failed", "failed"],
  ["noReward", "no reward"],
  ["excludedByBehaviour", "excluded by behaviour"],
  ["noSelectedCalls", "no selected call"],
  ["belowThreshold", "below threshold"],
  ["beyondTopK", "beyond top-k"],
] as const;

/** The SFT page's charts: rewards (validation from round 0), what was kept and why the rest was not, the update's loss, tokens, seconds. */
export function sftCharts(entries: readonly RunEntry[]): ChartSpec[] {
  const rounds = sftRounds(entries);
  const initial = initialEvaluation(entries);
  const series = (name: string, value: (round: SFTRoundData) => number | null | undefined, start: Point[] = []): Series => ({
    name,
    points: [...start, ...rounds.flatMap((r) => pointOf(r.round, value(r)))],
  });
  const optional = (spec: ChartSpec): ChartSpec[] => (spec.series.some((s) => s.points.length > 0) ? [spec] : []);
  return [
    {
      id: "reward",
      title: "Reward",
      yLabel: "mean reward",
      series: [series("sampled", (r) => r.stats.trainReward), series("kept", (r) => r.stats.keptReward), series("val", (r) => r.stats.valReward, initial ? pointOf(0, initial.mean) : [])],
    },
    {
      id: "filters",
      title: "Rollouts kept and left out",
      yLabel: "rollouts",
      series: [series("kept", (r) => r.filter.kept), ...FILTERS.map(([key, name]) => series(name, (r) => r.filter[key])).filter((s) => s.points.some((p) => p.y > 0))],
    },
    ...optional({ id: "loss", title: "Supervised loss", yLabel: "loss", series: [series("loss", (r) => r.metrics.loss)] }),
    ...optional({ id: "tokens", title: "Tokens per round", yLabel: "tokens", series: [series("input", (r) => r.tokens?.input), series("output", (r) => r.tokens?.output)] }),
    ...optional({ id: "tokens-per-reward", title: "Tokens per unit reward", yLabel: "tokens", series: [series("tokens per reward", (r) => r.tokensPerReward)] }),
    { id: "seconds", title: "Seconds per phase", yLabel: "seconds", series: PHASES.map((phase) => series(phase, (r) => r.seconds[phase])) },
  ];
}

function pointOf(x: number, y: number | null | undefined): Point[] {
  return typeof y === "number" && Number.isFinite(y) ? [{ x, y }] : [];
}

// ---- APO / GEPA -----------------------------------------------------------------------------

export interface PromptRun {
  /** Candidates by id, in the order they were first recorded; a later entry for the same id replaces it. */
  candidates: Map<string, CandidateData>;
  /** Per candidate, its latest score on each set of tasks, in the order the sets first appeared. */
  scores: Map<string, ScoreData[]>;
  front: FrontData | undefined;
  spend: SpendData | undefined;
}

/** Reads an APO/GEPA run's log: the latest of everything. */
export function promptRun(entries: readonly RunEntry[]): PromptRun {
  const run: PromptRun = { candidates: new Map(), scores: new Map(), front: undefined, spend: undefined };
  for (const entry of entries) {
    if (entry.kind === KINDS.candidate) {
      const candidate = entry.data as unknown as CandidateData;
      run.candidates.set(candidate.candidateId, candidate);
    } else if (entry.kind === KINDS.score) {
      const score = entry.data as unknown as ScoreData;
      const list = run.scores.get(score.candidateId) ?? [];
      const at = list.findIndex((s) => s.on === score.on);
      if (at >= 0) list[at] = score;
      else list.push(score);
      run.scores.set(score.candidateId, list);
    } else if (entry.kind === KINDS.front) run.front = entry.data as unknown as FrontData;
    else if (entry.kind === KINDS.spend) run.spend = entry.data as unknown as SpendData;
  }
  return run;
}

/**
 * A node of the lineage tree. A merge has several parents, so it is listed under each; only its
 * first place (in the order candidates were recorded) holds its children, the others point there.
 */
export interface LineageNode {
  candidate: CandidateData;
  children: LineageNode[];
  /** Set where the candidate is listed again: the parent under which its children are shown. */
  shownUnder: string | undefined;
  /** Parents named by the candidate that the log has no entry for. */
  missingParents: string[];
}

/** The candidates as a forest: roots are those without a recorded parent (the seed), children in recording order. */
export function lineage(candidates: ReadonlyMap<string, CandidateData>): LineageNode[] {
  const children = new Map<string, CandidateData[]>();
  const roots: CandidateData[] = [];
  for (const candidate of candidates.values()) {
    const known = candidate.parents.filter((p) => candidates.has(p) && p !== candidate.candidateId);
    if (known.length === 0) roots.push(candidate);
    for (const parent of new Set(known)) children.set(parent, [...(children.get(parent) ?? []), candidate]);
  }
  const placed = new Map<string, string>();
  const build = (candidate: CandidateData, parent: string | undefined, path: ReadonlySet<string>): LineageNode => {
    const missingParents = candidate.parents.filter((p) => !candidates.has(p));
    const first = placed.get(candidate.candidateId);
    if (first !== undefined) return { candidate, children: [], shownUnder: first, missingParents };
    placed.set(candidate.candidateId, parent ?? "");
    const inner = new Set(path).add(candidate.candidateId);
    // A log that names a candidate its own ancestor would loop forever: such an edge is not followed.
    const kids = (children.get(candidate.candidateId) ?? []).filter((child) => !inner.has(child.candidateId));
    return { candidate, children: kids.map((child) => build(child, candidate.candidateId, inner)), shownUnder: undefined, missingParents };
  };
  const forest = roots.map((root) => build(root, undefined, new Set()));
  // Candidates only reachable through a cycle have no root: list them at the top so none is hidden.
  for (const candidate of candidates.values()) if (!placed.has(candidate.candidateId)) forest.push(build(candidate, undefined, new Set()));
  return forest;
}

/** A candidate in the current front (or beam), as the page labels it. */
export interface FrontMember {
  candidateId: string;
  /** Tasks it wins among the front; undefined when the front does not count wins (APO's beam). */
  wins: number | undefined;
  /** `front · 7 wins`, or just `beam` / `front` without wins. */
  badge: string;
}

/** The front's members, most wins first (a beam keeps its own order). */
export function frontMembers(front: FrontData | undefined, name: "front" | "beam"): FrontMember[] {
  const members = (front?.candidateIds ?? []).map((candidateId) => {
    const wins = front?.wins === undefined ? undefined : (front.wins[candidateId] ?? 0);
    return { candidateId, wins, badge: wins === undefined ? name : `${name} · ${wins} win${wins === 1 ? "" : "s"}` };
  });
  return members.sort((a, b) => (b.wins ?? 0) - (a.wins ?? 0));
}

// ---- spend ----------------------------------------------------------------------------------

export interface SpendBar {
  label: string;
  used: number;
  limit: number | null;
  /** used / limit, 0…1 (over 1 when a limit was passed); undefined without a limit. */
  share: number | undefined;
  unit: "count" | "usd";
}

/** Rollouts, optimizer tokens and USD against their limits (USD only when the run priced its calls). */
export function spendBars(spend: SpendData): SpendBar[] {
  const bar = (label: string, used: number, limit: number | null, unit: SpendBar["unit"] = "count"): SpendBar => ({
    label,
    used,
    limit,
    share: limit === null || limit <= 0 ? undefined : used / limit,
    unit,
  });
  return [
    bar("Rollouts", spend.rollouts, spend.limits.maxRollouts),
    bar("Optimizer tokens", spend.optimizerTokens, spend.limits.maxOptimizerTokens),
    ...(spend.usd === null && spend.limits.maxUsd === null ? [] : [bar("USD", spend.usd ?? 0, spend.limits.maxUsd, "usd")]),
  ];
}

// ---- words changed within a line -------------------------------------------------------------

export interface Word {
  text: string;
  changed: boolean;
}

/**
 * The words of two versions of a line, each marked changed or not (longest common subsequence
 * over words, spaces and punctuation). Reuses the line diff: one token per line, JSON-quoted so a
 * token can hold no line break of its own.
 */
export function wordDiff(before: string, after: string): { before: Word[]; after: Word[] } {
  const a = tokens(before);
  const b = tokens(after);
  const left: Word[] = [];
  const right: Word[] = [];
  for (const row of lineDiff(a.map(quote).join("\n"), b.map(quote).join("\n"))) {
    if (row.kind !== "added") left.push({ text: a[row.left.n - 1] ?? "", changed: row.kind !== "same" });
    if (row.kind !== "removed") right.push({ text: b[row.right.n - 1] ?? "", changed: row.kind !== "same" });
  }
  return { before: merged(left), after: merged(right) };
}

function tokens(text: string): string[] {
  return text.match(/\s+|[\p{L}\p{N}_]+|[^\s\p{L}\p{N}_]/gu) ?? [];
}

const quote = (token: string) => JSON.stringify(token);

/** Neighbouring words with the same mark joined, so a changed phrase reads as one mark. */
function merged(words: readonly Word[]): Word[] {
  const out: Word[] = [];
  for (const word of words) {
    const last = out.at(-1);
    if (last !== undefined && last.changed === word.changed) last.text += word.text;
    else out.push({ ...word });
  }
  return out;
}

// ---- the runs list --------------------------------------------------------------------------

/** A run's summary in a few words: its first scalar fields (`best: 0.82 · steps: 10`). */
export function headline(summary: Readonly<Record<string, unknown>> | null, max = 3): string {
  if (summary === null) return "";
  const parts: string[] = [];
  for (const [key, value] of Object.entries(summary)) {
    if (parts.length === max) break;
    if (typeof value === "number") parts.push(`${key}: ${Number.isInteger(value) ? value : Math.round(value * 1000) / 1000}`);
    else if (typeof value === "string" || typeof value === "boolean") parts.push(`${key}: ${String(value)}`);
  }
  return parts.join(" · ");
}
