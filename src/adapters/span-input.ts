/**
 * What adapters read: the span fields they need, typed loosely enough that both stored spans
 * (`Span`, with the store's `sequence`) and the tracer's own output (`SpanInput`, before a store
 * numbered it) fit without conversion.
 */
import { createHash } from "node:crypto";
import { type AttemptRef, canonicalJson, type Rollout } from "../types/index.js";

/** A span as adapters read it. `Span` and `SpanInput` both satisfy this. */
export interface AdapterSpan {
  readonly rolloutId: string;
  readonly attemptId: string;
  readonly spanId: string;
  readonly parentId?: string | null | undefined;
  readonly name: string;
  readonly startTime: number;
  readonly endTime: number;
  /** Store-assigned, 1, 2, 3, … per attempt, in the order spans ended. Absent before storage. */
  readonly sequence?: number | undefined;
  readonly status?: { readonly code: string; readonly message?: string | undefined } | undefined;
  readonly attributes?: Readonly<Record<string, unknown>> | undefined;
  /** Span events: older GenAI instrumentations put each message in one (`gen_ai.user.message`, …). */
  readonly events?: ReadonlyArray<{ readonly name: string; readonly attributes?: Readonly<Record<string, unknown>> | undefined }> | undefined;
}

/**
 * What the spans alone cannot tell about an attempt, supplied by whoever read them from the store.
 */
export interface AttemptContext {
  /**
   * The attempt's outcome reward as the store recorded it (`completeAttempt`'s `finalReward`).
   * When it is a number it wins over reward spans (it is what the runner settled on); `null` or
   * absent means "look at the spans".
   */
  finalReward?: number | null | undefined;
  /** The task group of the rollout (rollouts of one task are compared with each other). */
  groupId?: string | undefined;
}

/** One context for every attempt, or a lookup per attempt. */
export type AttemptContextSource = AttemptContext | ((attempt: AttemptRef) => AttemptContext | undefined);

/** The spans of one attempt, in input order. */
export interface AttemptSpans extends AttemptRef {
  /** The attempt's spans, in input order. */
  spans: AdapterSpan[];
}

/**
 * Splits a span set by attempt, keeping the order in which attempts first appear (and the input
 * order of spans within each): adapters work attempt by attempt, since an attempt is a trajectory.
 */
export function groupByAttempt(spans: readonly AdapterSpan[]): AttemptSpans[] {
  const groups = new Map<string, AttemptSpans>();
  for (const span of spans) {
    const key = `${span.rolloutId}\u0000${span.attemptId}`;
    let group = groups.get(key);
    if (group === undefined) {
      group = { rolloutId: span.rolloutId, attemptId: span.attemptId, spans: [] };
      groups.set(key, group);
    }
    group.spans.push(span);
  }
  return [...groups.values()];
}

/** Resolves a {@link AttemptContextSource} for one attempt. */
export function contextFor(source: AttemptContextSource | undefined, attempt: AttemptRef): AttemptContext {
  if (source === undefined) return {};
  return (typeof source === "function" ? source(attempt) : source) ?? {};
}

/**
 * The group a rollout belongs to: `metadata.groupId` when the algorithm set one (a string or a
 * number), otherwise a digest of the task itself — so rollouts of the same task land in one group
 * without anyone having to name it.
 */
export function groupIdOf(rollout: Pick<Rollout, "input" | "metadata">): string {
  const given = rollout.metadata.groupId;
  if (typeof given === "string" && given.length > 0) return given;
  if (typeof given === "number" && Number.isFinite(given)) return String(given);
  return `task-${createHash("sha256").update(canonicalJson(rollout.input)).digest("hex").slice(0, 16)}`;
}

/**
 * The context of a rollout's trajectory (its latest attempt): the reward that attempt ended with
 * and the rollout's group.
 */
export function contextFromRollout(rollout: Pick<Rollout, "input" | "metadata" | "attempts" | "finalReward">): AttemptContext {
  const latest = rollout.attempts.at(-1);
  const finalReward = latest?.finalReward ?? rollout.finalReward;
  return { groupId: groupIdOf(rollout), ...(finalReward === null || finalReward === undefined ? {} : { finalReward }) };
}
