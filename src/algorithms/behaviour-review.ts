/**
 * The one call an algorithm makes on its ended rollouts to honour the behaviour filter
 * (`AlgorithmContext.behaviour`): {@link reviewRollouts} runs the detectors over each rollout's
 * trace and over each task group, writes every new finding as a span of its attempt's trace, and
 * returns per rollout the reward to train on and whether to train on it at all.
 *
 * The reward: a rollout's stored outcome reward (`finalReward`) is never rewritten — it is what
 * the agent's evaluator said, and evaluation reads it. The penalty is recorded on the finding spans
 * (`tracetrain.behaviour.penalty`, one share per penalizing finding), and the reward an algorithm
 * trains on is the outcome plus those shares: the trace alone tells both numbers and their
 * difference, whoever reads it.
 */
import { createHash } from "node:crypto";
import { type BehaviourDecision, type GroupMember, type RecordedFinding, type ScopedFinding, type BehaviourFilter, adaptAttempt, contextFromRollout, findingSpan, findingsOf, groupIdOf, isFindingSpan } from "../adapters/index.js";
import type { AdapterSpan, AdaptedAttempt } from "../adapters/index.js";
import { spansOf, type Store } from "../store/index.js";
import { Attr, type BehaviourCounts, type BehaviourStop, type Rollout, type SpanInput, SpanTypes } from "../types/index.js";
import { mapLimited } from "../util/index.js";
import type { AlgorithmContext } from "./algorithm.js";
import { rewardOrZero } from "./evaluate.js";

/** Finding spans per store write: well under any store's batch and an HTTP store's body limits. */
const WRITE_CHUNK = 1000;

/** What a review decided about one rollout. */
export interface RolloutVerdict {
  rolloutId: string;
  /** The attempt reviewed (the rollout's latest); undefined when it never started. */
  attemptId: string | undefined;
  /** The reward the algorithm would use without a filter (the outcome reward; 0 for a failed rollout). */
  outcome: number;
  /** The behaviour penalty, 0 or negative (the sum of its findings' shares). */
  penalty: number;
  /** What to train and compare on: `outcome + penalty`. */
  reward: number;
  /** Leave it out of training data (it still counts as run, and stays in the store). */
  excluded: boolean;
  /** Its findings, with the action and penalty share of each. */
  findings: RecordedFinding[];
}

/** What {@link reviewRollouts} returns. */
export interface BehaviourReview {
  /** One per rollout reviewed, by rollout id. */
  verdicts: Map<string, RolloutVerdict>;
  counts: BehaviourCounts;
  /** The first finding whose action is `stop`: the run ends after its current step or round. */
  stop: RecordedFinding | undefined;
  /** Finding spans this review wrote (findings a live hook had written already are not written again). */
  written: number;
  /**
   * The spans of each reviewed rollout's latest attempt as the review read them (before its own
   * finding spans, which adapters ignore): what the algorithm adapts next, so no trace is read twice.
   */
  spans: ReadonlyMap<string, readonly ReviewSpan[]>;
}

/** The spans a review reads: adapter spans that also carry their trace id. */
export type ReviewSpan = AdapterSpan & Pick<SpanInput, "traceId">;

/**
 * Reviews ended rollouts under `ctx.behaviour`. Without a filter every verdict is the outcome
 * reward, not excluded, and nothing is read or written.
 */
export async function reviewRollouts(ctx: Pick<AlgorithmContext, "store" | "adapter" | "behaviour">, rollouts: readonly Rollout[]): Promise<BehaviourReview> {
  const filter = ctx.behaviour;
  // Run detectors alone (observeSteps) never look at a trace, and live hooks write only what `inspect` finds.
  if (filter === undefined || !filter.inspectsTraces) {
    const verdicts = new Map(rollouts.map((r) => [r.rolloutId, cleanVerdict(r)]));
    return { verdicts, counts: countVerdicts([...verdicts.values()]), stop: undefined, written: 0, spans: new Map() };
  }
  const read = await mapLimited(rollouts, 8, async (rollout) => readAttempt(ctx, filter, rollout));
  const groupFindings = filter.inspectsGroups ? inspectGroups(filter, read) : new Map<string, ScopedFinding[]>();
  const verdicts = new Map<string, RolloutVerdict>();
  const toWrite: SpanInput[] = [];
  let stop: RecordedFinding | undefined;
  for (const item of read) {
    if (item.attempt === undefined) {
      verdicts.set(item.rollout.rolloutId, cleanVerdict(item.rollout));
      continue;
    }
    const found = [...item.found, ...(groupFindings.get(item.rollout.rolloutId) ?? [])];
    const { decision, spans } = judgeFindings(filter, item.spans, found);
    toWrite.push(...spans);
    const outcome = rewardOrZero(item.rollout);
    verdicts.set(item.rollout.rolloutId, {
      rolloutId: item.rollout.rolloutId,
      attemptId: item.attempt.attemptId,
      outcome,
      penalty: decision.penalty,
      reward: outcome + decision.penalty,
      excluded: decision.excluded,
      findings: decision.findings,
    });
    stop ??= decision.stop;
  }
  // One write for the whole review: a store transaction per rollout cost more than the review itself.
  let written = 0;
  for (let i = 0; i < toWrite.length; i += WRITE_CHUNK) written += (await ctx.store.addSpans(toWrite.slice(i, i + WRITE_CHUNK))).added;
  const spans = new Map(read.flatMap((item) => (item.attempt === undefined ? [] : [[item.rollout.rolloutId, item.spans] as const])));
  return { verdicts, counts: countVerdicts([...verdicts.values()]), stop, written, spans };
}

/**
 * Judges `found` against the findings `spans` already hold and writes the new ones as spans of the
 * attempt: the shared step of a review and of the live hooks. Returns the decision and how many
 * spans were written (the store skips a finding span it has, so a race between two writers still
 * stores each finding once).
 */
export async function recordFindings(
  store: Pick<Store, "addSpans">,
  filter: BehaviourFilter,
  spans: readonly ReviewSpan[],
  found: readonly ScopedFinding[],
): Promise<{ decision: BehaviourDecision; written: number }> {
  const { decision, spans: added } = judgeFindings(filter, spans, found);
  if (added.length === 0) return { decision, written: 0 };
  return { decision, written: (await store.addSpans(added)).added };
}

/** The decision on one attempt's findings, and the spans of the findings it adds (placed in the attempt's trace). */
function judgeFindings(filter: BehaviourFilter, spans: readonly ReviewSpan[], found: readonly ScopedFinding[]): { decision: BehaviourDecision; spans: SpanInput[] } {
  const decision = filter.judge(findingsOf(spans), found);
  if (decision.added.length === 0) return { decision, spans: [] };
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  // The rollout's own span when the tracer recorded one; else the first root (a gateway's call has no parent).
  const root = spans.find((s) => s.attributes?.[Attr.spanType] === SpanTypes.rollout) ?? spans.find((s) => (s.parentId ?? null) === null && !isFindingSpan(s));
  return { decision, spans: decision.added.map((f) => findingSpan(f, placementOf(f, byId, root))) };
}

/** A finding hangs under the span it points at, else under the attempt's root span. */
function placementOf(finding: RecordedFinding, byId: ReadonlyMap<string, ReviewSpan>, root: ReviewSpan | undefined) {
  const target = finding.spanId === undefined ? undefined : byId.get(finding.spanId);
  const anchor = target ?? root;
  if (anchor !== undefined) return { traceId: anchor.traceId, parentId: anchor.spanId, time: anchor.endTime };
  // An attempt with no span at all (it failed before its trace began) still gets a trace of its own.
  const traceId = createHash("sha256").update(`${finding.rolloutId}\u0000${finding.attemptId}`).digest("hex").slice(0, 32);
  return { traceId, parentId: null, time: Date.now() };
}

interface ReadAttempt {
  rollout: Rollout;
  attempt: AdaptedAttempt | undefined;
  spans: ReviewSpan[];
  found: ScopedFinding[];
}

async function readAttempt(ctx: Pick<AlgorithmContext, "store" | "adapter">, filter: BehaviourFilter, rollout: Rollout): Promise<ReadAttempt> {
  const latest = rollout.attempts.at(-1);
  if (latest === undefined) return { rollout, attempt: undefined, spans: [], found: [] };
  const spans = await spansOf(ctx.store, rollout.rolloutId, latest.attemptId);
  const context = contextFromRollout(rollout);
  // An attempt that recorded no span is still reviewed: a group detector may name it.
  const attempt = ctx.adapter.attempts(spans, context)[0] ?? adaptAttempt({ rolloutId: rollout.rolloutId, attemptId: latest.attemptId, spans: [] }, { context });
  return { rollout, attempt, spans, found: filter.inspect(attempt) };
}

/** Group detectors over the rollouts of each task. */
function inspectGroups(filter: BehaviourFilter, read: readonly ReadAttempt[]): Map<string, ScopedFinding[]> {
  const groups = new Map<string, GroupMember[]>();
  for (const item of read) {
    if (item.attempt === undefined) continue;
    const id = groupIdOf(item.rollout);
    const members = groups.get(id) ?? [];
    members.push({ attempt: item.attempt, reward: item.rollout.status === "succeeded" ? item.rollout.finalReward : null });
    groups.set(id, members);
  }
  const byRollout = new Map<string, ScopedFinding[]>();
  for (const members of groups.values()) {
    for (const finding of filter.inspectGroup(members)) {
      const list = byRollout.get(finding.rolloutId) ?? [];
      list.push(finding);
      byRollout.set(finding.rolloutId, list);
    }
  }
  return byRollout;
}

function cleanVerdict(rollout: Rollout): RolloutVerdict {
  const outcome = rewardOrZero(rollout);
  return { rolloutId: rollout.rolloutId, attemptId: rollout.attempts.at(-1)?.attemptId, outcome, penalty: 0, reward: outcome, excluded: false, findings: [] };
}

/** Counts of findings and decisions over some verdicts. */
export function countVerdicts(verdicts: readonly RolloutVerdict[]): BehaviourCounts {
  const counts = emptyCounts();
  for (const v of verdicts) {
    counts.rollouts++;
    if (v.penalty < 0) counts.penalized++;
    if (v.excluded) counts.excluded++;
    counts.penalty += v.penalty;
    for (const f of v.findings) {
      counts.findings++;
      bump(counts.byDetector, f.detector);
      bump(counts.bySeverity, f.severity);
      bump(counts.byAction, f.action);
    }
  }
  return counts;
}

export function emptyCounts(): BehaviourCounts {
  return { rollouts: 0, findings: 0, byDetector: {}, bySeverity: {}, byAction: {}, penalized: 0, excluded: 0, penalty: 0 };
}

/** `a` and `b` together. */
export function addCounts(a: BehaviourCounts, b: BehaviourCounts): BehaviourCounts {
  const merge = (x: Record<string, number>, y: Record<string, number>) => {
    const out = { ...x };
    for (const [k, n] of Object.entries(y)) out[k] = (out[k] ?? 0) + n;
    return out;
  };
  return {
    rollouts: a.rollouts + b.rollouts,
    findings: a.findings + b.findings,
    byDetector: merge(a.byDetector, b.byDetector),
    bySeverity: merge(a.bySeverity, b.bySeverity),
    byAction: merge(a.byAction, b.byAction),
    penalized: a.penalized + b.penalized,
    excluded: a.excluded + b.excluded,
    penalty: a.penalty + b.penalty,
  };
}

/** The finding that stopped a run, as run records and results name it. */
export function stopOf(finding: RecordedFinding | { detector: string; rule: string; severity: string; message: string }): BehaviourStop {
  const base = { detector: finding.detector, rule: finding.rule, severity: finding.severity, message: finding.message };
  return "findingSpanId" in finding ? { ...base, rolloutId: finding.rolloutId, attemptId: finding.attemptId, findingSpanId: finding.findingSpanId } : base;
}

function bump(record: Record<string, number>, key: string): void {
  record[key] = (record[key] ?? 0) + 1;
}
