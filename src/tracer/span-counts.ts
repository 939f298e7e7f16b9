import type { Span, TraceReport } from "../types/index.js";
import { Attr, SpanNames, SpanTypes } from "../types/index.js";
import { type OtelAttributes, classifySpan } from "../llm/index.js";

type Counted = Pick<TraceReport, "spans" | "llmCalls" | "llmCallsWithTokenIds" | "layers" | "rewards">;

/**
 * The counts behind a trace report, over whatever spans it is given: those one process recorded,
 * or all the store holds for the attempt. One call recorded by two layers — the SDK in the agent's
 * process and the gateway it called through — carries one response id and counts once, with token
 * ids if either record has them.
 */
export class SpanCounts {
  private spans = 0;
  private rewards = 0;
  private readonly layers = new Map<string, { spans: number; llmCalls: number }>();
  /** Response id → whether some record of that call has token ids. */
  private readonly identified = new Map<string, boolean>();
  private unidentified = 0;
  private unidentifiedWithTokenIds = 0;

  static of(spans: ReadonlyArray<Pick<Span, "name" | "attributes">>): SpanCounts {
    const counts = new SpanCounts();
    for (const span of spans) counts.add(span);
    return counts;
  }

  add(span: { name: string; attributes?: Readonly<Record<string, unknown>> | undefined }): void {
    const a = span.attributes ?? {};
    const layer = String(a[Attr.layer] ?? "unknown");
    const counts = this.layers.get(layer) ?? { spans: 0, llmCalls: 0 };
    this.layers.set(layer, counts);
    counts.spans++;
    this.spans++;
    if (isReward(span.name, a)) this.rewards++;
    // A call recorded by another tool has no tracetrain type: known by its GenAI, OpenInference or AI SDK attributes.
    const type = a[Attr.spanType] ?? classifySpan(span.name, a as OtelAttributes).type;
    if (type !== SpanTypes.llm) return;
    counts.llmCalls++;
    const withTokenIds = a[Attr.responseTokenIds] !== undefined || a[Attr.promptTokenIds] !== undefined;
    const responseId = a[Attr.responseId];
    if (typeof responseId === "string" && responseId !== "") {
      this.identified.set(responseId, (this.identified.get(responseId) ?? false) || withTokenIds);
    } else {
      this.unidentified++;
      if (withTokenIds) this.unidentifiedWithTokenIds++;
    }
  }

  get llmCalls(): number {
    return this.identified.size + this.unidentified;
  }

  toReport(): Counted {
    let withTokenIds = this.unidentifiedWithTokenIds;
    for (const has of this.identified.values()) if (has) withTokenIds++;
    return {
      spans: this.spans,
      llmCalls: this.llmCalls,
      llmCallsWithTokenIds: withTokenIds,
      layers: Object.fromEntries([...this.layers].map(([name, counts]) => [name, { ...counts }])),
      rewards: this.rewards,
    };
  }
}

/** The value of the last (highest sequence) final reward span stored, or null: the outcome reward recorded from outside the process. */
export function lastStoredFinalReward(spans: ReadonlyArray<Pick<Span, "name" | "attributes" | "sequence">>): number | null {
  let last: { sequence: number; value: number } | null = null;
  for (const span of spans) {
    const value = span.attributes[Attr.rewardValue];
    if (!isReward(span.name, span.attributes) || span.attributes[Attr.rewardFinal] !== true || typeof value !== "number" || !Number.isFinite(value)) continue;
    if (last === null || span.sequence > last.sequence) last = { sequence: span.sequence, value };
  }
  return last?.value ?? null;
}

/** A reward span: typed by the tracetrain SDK, or named so by code without it (an OTLP exporter in another language). */
function isReward(name: string, attributes: Readonly<Record<string, unknown>>): boolean {
  return attributes[Attr.spanType] === SpanTypes.reward || name === SpanNames.reward;
}
