import type { CaptureIssue, CaptureIssueInput, SpanInput, TraceReport } from "../types/index.js";
import type { ActiveSpan } from "./active-span.js";
import { Attr, SpanTypes } from "../types/index.js";
import { newTraceId, nowMs } from "../types/index.js";
import type { SpanBuffer } from "./span-buffer.js";

/** The rollout attempt a trace records. */
export interface TraceTarget {
  rolloutId: string;
  attemptId: string;
}

interface LayerCounts {
  spans: number;
  llmCalls: number;
}

/**
 * Everything one traced rollout attempt accumulates: its open spans, its buffer to the sink, the
 * counts behind its report, and (optionally) a copy of its spans for `lastTrace()`.
 */
export class TraceState {
  readonly startedAt = nowMs();
  private readonly open = new Set<ActiveSpan>();
  readonly spans: SpanInput[] | undefined;
  private readonly layers = new Map<string, LayerCounts>();
  private spanCount = 0;
  private llmCalls = 0;
  private llmCallsWithTokenIds = 0;
  private rewards = 0;
  private finalRewards = 0;
  private incomplete = 0;
  private late = 0;
  private readonly issues = new Map<string, CaptureIssue>();
  finalReward: number | null = null;
  ended = false;

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
    this.count(input);
    this.spans?.push(input);
    if (this.ended) this.late++;
    this.buffer.add(input);
  }

  private count(span: SpanInput): void {
    const attributes = span.attributes ?? {};
    const layer = String(attributes[Attr.layer] ?? "unknown");
    const counts = this.layers.get(layer) ?? { spans: 0, llmCalls: 0 };
    this.layers.set(layer, counts);
    counts.spans++;
    this.spanCount++;
    const type = attributes[Attr.spanType];
    if (type === SpanTypes.llm) {
      counts.llmCalls++;
      this.llmCalls++;
      if (attributes[Attr.responseTokenIds] !== undefined || attributes[Attr.promptTokenIds] !== undefined) this.llmCallsWithTokenIds++;
    } else if (type === SpanTypes.reward) {
      this.rewards++;
    }
  }

  recordFinalReward(value: number): void {
    this.finalReward = value;
    this.finalRewards++;
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

  /** The report; `installIssues` are what the tracer's instrumentations knew they would miss when installed. */
  report(agentError: unknown, installIssues: readonly CaptureIssueInput[]): TraceReport {
    const stats = this.buffer.stats;
    const issues = [...installIssues.filter((issue) => !this.issues.has(issueKey(issue))).map((issue) => ({ ...issue, count: 1 })), ...this.issues.values()];
    const all = issues.map((issue) => `rollout ${this.target.rolloutId}: ${issue.message}${issue.count > 1 ? ` (${issue.count} times)` : ""}`);
    if (this.llmCalls === 0) all.push(`rollout ${this.target.rolloutId} recorded no LLM call`);
    if (this.finalRewards > 1) all.push(`rollout ${this.target.rolloutId} emitted ${this.finalRewards} final rewards; the last one (${this.finalReward}) counts`);
    if (this.incomplete > 0) all.push(`rollout ${this.target.rolloutId} left ${this.incomplete} span(s) open; they were closed when the trace ended`);
    if (stats.dropped > 0) all.push(`rollout ${this.target.rolloutId}: ${stats.dropped} span(s) could not be delivered (${stats.errors.join("; ")})`);
    if (this.late > 0) all.push(`rollout ${this.target.rolloutId}: ${this.late} span(s) ended after the trace had finished`);
    return {
      rolloutId: this.target.rolloutId,
      attemptId: this.target.attemptId,
      traceId: this.traceId,
      durationMs: nowMs() - this.startedAt,
      spans: this.spanCount,
      llmCalls: this.llmCalls,
      llmCallsWithTokenIds: this.llmCallsWithTokenIds,
      layers: Object.fromEntries(this.layers),
      rewards: this.rewards,
      finalReward: this.finalReward,
      incompleteSpans: this.incomplete,
      delivery: { ...stats, errors: [...stats.errors] },
      agentError: agentError === undefined ? null : agentError instanceof Error ? `${agentError.name}: ${agentError.message}` : String(agentError),
      captureIssues: issues,
      warnings: all,
    };
  }
}

function issueKey(issue: CaptureIssueInput): string {
  return `${issue.instrumentation}\u0000${issue.code}\u0000${issue.package ?? ""}\u0000${issue.version ?? ""}`;
}
