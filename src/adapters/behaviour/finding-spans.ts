/**
 * Findings as spans of the trace they are about: a finding becomes a `tracetrain.behaviour.finding`
 * span (type `behaviour`) of its rollout attempt, a child of the span it points at, and reads back
 * with {@link findingsOf}. The span id is a digest of the finding, so writing the same finding
 * twice (a live hook, then a later review) stores it once: the store skips a span id it has.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import {
  Attr,
  BehaviourActionSchema,
  FindingSchema,
  type Finding,
  type SpanInput,
  SpanNames,
  SpanTypes,
  parseOrThrow,
} from "../../types/index.js";
import type { AdapterSpan } from "../span-input.js";

/** Where a finding was found: in one attempt's trace, or comparing the rollouts of one task. */
export const FindingScopeSchema = z.enum(["attempt", "group"]);
export type FindingScope = z.infer<typeof FindingScopeSchema>;

/** A finding with what the policy did about it, as its span records it. */
export const RecordedFindingSchema = FindingSchema.extend({
  attemptId: z.string().min(1),
  action: BehaviourActionSchema,
  /** The reward change this finding made: 0, or negative for `penalize`. */
  penalty: z.number().max(0),
  scope: FindingScopeSchema,
  /** The finding span's own id. */
  findingSpanId: z.string().min(1),
});
export type RecordedFinding = z.infer<typeof RecordedFindingSchema>;

/** A finding of one attempt, before it has a span. */
export type AttemptFinding = Finding & { attemptId: string };

/** The span id a finding is stored under: the same finding always gets the same one. */
export function findingSpanId(finding: AttemptFinding): string {
  const key = [finding.rolloutId, finding.attemptId, finding.detector, finding.rule, finding.spanId ?? "", finding.message, finding.evidence].join("\u0000");
  const hex = createHash("sha256").update(key).digest("hex").slice(0, 16);
  // OTel reserves the all-zero id; a digest hitting it is astronomically unlikely but not impossible.
  return /^0+$/.test(hex) ? "0000000000000001" : hex;
}

/** Where in the trace a finding span goes. */
export interface FindingPlacement {
  traceId: string;
  /** The span it hangs under: the one it points at when that is in the trace, else the rollout's root. */
  parentId: string | null;
  /** Its time on the trace's axis (the end of the span it points at). */
  time: number;
}

/** The span that records `finding` (its action and penalty included). */
export function findingSpan(finding: Omit<RecordedFinding, "findingSpanId">, placement: FindingPlacement): SpanInput {
  const attributes: Record<string, string | number> = {
    [Attr.spanType]: SpanTypes.behaviour,
    [Attr.rolloutId]: finding.rolloutId,
    [Attr.attemptId]: finding.attemptId,
    [Attr.behaviourDetector]: finding.detector,
    [Attr.behaviourRule]: finding.rule,
    [Attr.behaviourSeverity]: finding.severity,
    [Attr.behaviourMessage]: finding.message,
    [Attr.behaviourEvidence]: finding.evidence,
    [Attr.behaviourAction]: finding.action,
    [Attr.behaviourPenalty]: finding.penalty,
    [Attr.behaviourScope]: finding.scope,
  };
  if (finding.spanId !== undefined) attributes[Attr.behaviourTarget] = finding.spanId;
  return {
    rolloutId: finding.rolloutId,
    attemptId: finding.attemptId,
    traceId: placement.traceId,
    spanId: findingSpanId(finding),
    parentId: placement.parentId,
    name: SpanNames.behaviourFinding,
    kind: "internal",
    startTime: placement.time,
    endTime: placement.time,
    status: { code: "ok" },
    attributes,
  };
}

/** Whether a span is a behaviour finding. */
export function isFindingSpan(span: Pick<AdapterSpan, "name" | "attributes">): boolean {
  const type = span.attributes?.[Attr.spanType];
  return type === SpanTypes.behaviour || (type === undefined && span.name === SpanNames.behaviourFinding);
}

/**
 * The findings recorded in these spans, in span order. A finding span that does not read as one
 * (a field missing or of the wrong kind) is a ValidationError naming the span: only the behaviour
 * filter writes them, so such a span means a writer is broken, and guessing would miscount.
 */
export function findingsOf(spans: readonly AdapterSpan[]): RecordedFinding[] {
  const out: RecordedFinding[] = [];
  for (const span of spans) {
    if (!isFindingSpan(span)) continue;
    const a = span.attributes ?? {};
    const candidate = {
      detector: a[Attr.behaviourDetector],
      rule: a[Attr.behaviourRule],
      severity: a[Attr.behaviourSeverity],
      message: a[Attr.behaviourMessage],
      evidence: a[Attr.behaviourEvidence],
      rolloutId: span.rolloutId,
      attemptId: span.attemptId,
      ...(a[Attr.behaviourTarget] === undefined ? {} : { spanId: a[Attr.behaviourTarget] }),
      action: a[Attr.behaviourAction],
      penalty: a[Attr.behaviourPenalty],
      scope: a[Attr.behaviourScope],
      findingSpanId: span.spanId,
    };
    out.push(parseOrThrow(RecordedFindingSchema, candidate, `behaviour finding span ${span.spanId}`));
  }
  return out;
}
