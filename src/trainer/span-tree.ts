import type { SpanInput, TraceReport } from "../types/index.js";
import { Attr, SpanTypes } from "../types/index.js";
import { type AdapterSpan, type SpanNode, buildSpanTree } from "../adapters/index.js";

/**
 * A trace as an indented tree, for reading in a terminal: one line per span with its type,
 * duration and the few attributes that matter (model, agent, tokens, reward), then the report's
 * counts and warnings. The tree and its order are the adapters' ({@link buildSpanTree}): what is
 * shown is what training will read.
 */
export function formatSpanTree(spans: readonly SpanInput[], report: TraceReport): string {
  const lines = [`rollout ${report.rolloutId} · attempt ${report.attemptId}`];
  const walk = (nodes: readonly SpanNode[], indent: string) => {
    for (const node of nodes) {
      lines.push(`${indent}${node.span ? describe(node.span) : `(missing parent span ${node.spanId})`}`);
      walk(node.children, `${indent}  `);
    }
  };
  walk(buildSpanTree(spans).roots, "  ");
  lines.push(
    `  ${report.spans} spans · ${report.llmCalls} LLM calls (${report.llmCallsWithTokenIds} with token ids) · ${report.rewards} rewards · final reward ${report.finalReward ?? "none"}${report.countedFrom === "store" ? " (counted in the store)" : ""}`,
  );
  for (const warning of report.warnings) lines.push(`  ! ${warning}`);
  if (report.agentError) lines.push(`  ✗ agent error: ${report.agentError}`);
  return lines.join("\n");
}

function describe(span: AdapterSpan): string {
  const a = span.attributes ?? {};
  const type = String(a[Attr.spanType] ?? "span");
  const ms = (span.endTime - span.startTime).toFixed(1);
  const parts = [`${span.name} [${type}${a[Attr.layer] ? `/${String(a[Attr.layer])}` : ""}] ${ms} ms`];
  const add = (label: string, value: unknown) => {
    if (value !== undefined && value !== null) parts.push(`${label}=${typeof value === "string" ? value : JSON.stringify(value)}`);
  };
  add("agent", a[Attr.agentName]);
  if (type === SpanTypes.llm || type === SpanTypes.llmRun) {
    add("in", a[Attr.usageInputTokens]);
    add("out", a[Attr.usageOutputTokens]);
    if (a[Attr.responseTokenIds] !== undefined) parts.push("token-ids");
  }
  if (type === SpanTypes.reward) add("reward", a[Attr.rewardValue]);
  if (span.status?.code === "error") parts.push(`ERROR ${span.status.message ?? ""}`.trim());
  return parts.join(" ");
}
