import type { CaptureIssue, CaptureIssueInput, Span, SpanInput, TraceReport } from "../types/index.js";
import type { ActiveSpan } from "./active-span.js";
import { Attr } from "../types/index.js";
import { newTraceId, nowMs } from "../types/index.js";
import type { SpanBuffer } from "./span-buffer.js";
import { SpanCounts, lastStoredFinalReward } from "./span-counts.js";
import { describeErrorChain } from "../util/index.js";
import type { Substituter } from "./substitute.js";

/** The rollout attempt a trace records. */
export interface TraceTarget {
  rolloutId: string;
  attemptId: string;
}

/** What the sink held for the attempt once the trace was delivered (see `TraceOptions.readBack`): its spans, or why they could not be read. */
export type ReadBack = { spans: readonly Span[] } | { error: unknown };

/**
 * Everything one traced rollout attempt accumulates: its open spans, its buffer to the sink, the
 * counts behind its report, and (optionally) a copy of its spans for `lastTrace()`.
 */
export class TraceState {
  readonly startedAt = nowMs();
  private readonly open = new Set<ActiveSpan>();
  readonly spans: SpanInput[] | undefined;
  private readonly counts = new SpanCounts();
  private finalRewards = 0;
  private incomplete = 0;
  private late = 0;
  private readonly issues = new Map<string, CaptureIssue>();
  finalReward: number | null = null;
  ended = false;
  /** The candidate texts this rollout's LLM requests carry in place of seed texts (in-flight substitution), if any. */
  substituter: Substituter | undefined;
  /** The prompt templates the agent read through `ctx.prompt()`, recorded on the root span when the trace ends. */
  readonly promptsRead = new Set<string>();

  constructor(
    readonly target: TraceTarget,
    readonly buffer: SpanBuffer,
    keepSpans: boolean,
    /** Given when the trace continues one started elsewhere (a W3C `traceparent`). */
    readonly traceId: string = newTraceId(),
  ) {
    this.spans = keepSpans ? [] : undefined;
  }

  spanStarted(span: ActiveSpan): void {
    this.open.add(span);
  }

  spanEnded(span: ActiveSpan): void {
    this.open.delete(span);
    const input = span.toSpanInput();
    this.counts.add(input);
    this.spans?.push(input);
    if (this.ended) this.late++;
    this.buffer.add(input);
  }

  recordFinalReward(value: number): void {
    this.finalReward = value;
    this.finalRewards++;
  }

  /** Whether this process recorded both a final reward and an LLM call: all a report needs without the store's spans. */
  get complete(): boolean {
    return this.finalReward !== null && this.counts.llmCalls > 0;
  }

  /** Notes what an instrumentation could not capture here; the same issue met again only counts up. */
  noteIssue(issue: CaptureIssueInput): void {
    const key = issueKey(issue);
    const known = this.issues.get(key);
    if (known) known.count++;
    else this.issues.set(key, { ...issue, count: 1 });
  }

  /** Closes spans the agent left open (marking them incomplete); the root span stays for the caller. */
  closeOpenSpans(root: ActiveSpan): void {
    for (const span of [...this.open]) {
      if (span === root) continue;
      this.incomplete++;
      span.setAttribute(Attr.incomplete, true).end();
    }
  }

  /**
   * The report; `installIssues` are what the tracer's instrumentations knew they would miss when
   * installed. With `readBack` spans, the counts are the store's — every span it holds for the
   * attempt, whoever recorded it — and the outcome reward falls back to the last final reward stored.
   */
  report(agentError: unknown, installIssues: readonly CaptureIssueInput[], readBack?: ReadBack): TraceReport {
    const stats = this.buffer.stats;
    const stored = readBack && "spans" in readBack ? readBack.spans : undefined;
    const counted = stored ? SpanCounts.of(stored).toReport() : this.counts.toReport();
    const finalReward = this.finalReward ?? (stored ? lastStoredFinalReward(stored) : null);
    const issues = [...installIssues.filter((issue) => !this.issues.has(issueKey(issue))).map((issue) => ({ ...issue, count: 1 })), ...this.issues.values()];
    const id = this.target.rolloutId;
    const all = issues.map((issue) => `rollout ${id}: ${issue.message}${issue.count > 1 ? ` (${issue.count} times)` : ""}`);
    if (readBack && "error" in readBack) {
      all.push(`rollout ${id}: could not read its spans back from the store (${describeErrorChain(readBack.error)}); the report counts only what this process recorded, and no reward recorded from outside the process was looked up`);
    }
    if (counted.llmCalls === 0) all.push(noCallWarning(id, agentError !== undefined, stored !== undefined));
    if (this.finalRewards > 1) all.push(`rollout ${id} emitted ${this.finalRewards} final rewards; the last one (${this.finalReward}) counts`);
    if (this.incomplete > 0) all.push(`rollout ${id} left ${this.incomplete} span(s) open; they were closed when the trace ended`);
    if (stats.dropped > 0) all.push(`rollout ${id}: ${stats.dropped} span(s) could not be delivered (${stats.errors.join("; ")})`);
    if (this.late > 0) all.push(`rollout ${id}: ${this.late} span(s) ended after the trace had finished`);
    return {
      rolloutId: id,
      attemptId: this.target.attemptId,
      traceId: this.traceId,
      durationMs: nowMs() - this.startedAt,
      countedFrom: stored ? "store" : "process",
      ...counted,
      finalReward,
      incompleteSpans: this.incomplete,
      delivery: { ...stats, errors: [...stats.errors] },
      agentError: agentError === undefined ? null : agentError instanceof Error ? `${agentError.name}: ${agentError.message}` : String(agentError),
      captureIssues: issues,
      warnings: all,
    };
  }
}

/**
 * Why a rollout may show no LLM call. The agent's own error is left out (it is in the report and
 * the attempt), so the warning stays one kind, logged once.
 */
function noCallWarning(rolloutId: string, agentFailed: boolean, fromStore: boolean): string {
  const where = fromStore ? "recorded no LLM call (none in the store for this attempt)" : "recorded no LLM call in this process";
  if (agentFailed) return `rollout ${rolloutId} ${where}: the agent threw before a single call was recorded — see report.agentError and the attempt's error`;
  const elsewhere = fromStore ? "its calls go to a gateway or OTLP collector that records into another store" : "its calls are recorded by a gateway or over OTLP, which this process does not count";
  return `rollout ${rolloutId} ${where}. Likely reasons: the agent's LLM client is not one the tracer hooks (check tracer.instrument()'s results, or route the calls through the gateway); ${elsewhere}; or the agent made no call`;
}

function issueKey(issue: CaptureIssueInput): string {
  return `${issue.instrumentation}\u0000${issue.code}\u0000${issue.package ?? ""}\u0000${issue.version ?? ""}`;
}
