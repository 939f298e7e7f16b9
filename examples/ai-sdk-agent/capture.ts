/**
 * Proof of capture: what the store holds for each rollout of an evaluation — its LLM calls and
 * tool executions, and which instrumentation layers recorded them — read back through the public
 * Store interface, not from the agent.
 */
import type { Store } from "tracetrain";
import { Attr, SpanTypes } from "tracetrain/instrumentations";

export interface RolloutCapture {
  rolloutId: string;
  llmCalls: number;
  toolCalls: number;
  layers: string[];
}

export async function captureOf(store: Store, rolloutId: string): Promise<RolloutCapture> {
  let llmCalls = 0;
  let toolCalls = 0;
  const layers = new Set<string>();
  let cursor: string | undefined;
  do {
    const page = await store.querySpans({ rolloutId, attemptId: "latest", ...(cursor === undefined ? {} : { cursor }) });
    for (const span of page.items) {
      const type = span.attributes[Attr.spanType];
      // One model call counts once: a framework's wrapper of a call a lower layer recorded is `llm_run`, not `llm`.
      if (type === SpanTypes.llm) llmCalls++;
      if (type === SpanTypes.tool) toolCalls++;
      const layer = span.attributes[Attr.layer];
      if ((type === SpanTypes.llm || type === SpanTypes.tool) && typeof layer === "string") layers.add(layer);
    }
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return { rolloutId, llmCalls, toolCalls, layers: [...layers].sort() };
}

export interface CaptureSummary {
  rollouts: number;
  llmCalls: { total: number; min: number; max: number };
  toolCalls: { total: number; min: number; max: number };
  layers: string[];
}

export function summarizeCapture(captures: readonly RolloutCapture[]): CaptureSummary {
  const stats = (values: number[]) => ({ total: values.reduce((a, b) => a + b, 0), min: Math.min(...values), max: Math.max(...values) });
  return {
    rollouts: captures.length,
    llmCalls: stats(captures.map((c) => c.llmCalls)),
    toolCalls: stats(captures.map((c) => c.toolCalls)),
    layers: [...new Set(captures.flatMap((c) => c.layers))].sort(),
  };
}
