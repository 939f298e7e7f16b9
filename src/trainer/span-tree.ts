import type { JsonValue, SpanInput, TraceReport } from "../types/index.js";
import { Attr, SpanTypes } from "../types/index.js";

/**
 * A trace as an indented tree, for reading in a terminal: one line per span with its type,
 * duration and the few attributes that matter (model, agent, tokens, reward), then the report's
 * counts and warnings.
 */
export function formatSpanTree(spans: readonly SpanInput[], report: TraceReport): string {
  const children = new Map<string | null, SpanInput[]>();
  const ids = new Set(spans.map((s) => s.spanId));
  for (const span of spans) {
    const parent = span.parentId !== undefined && span.parentId !== null && ids.has(span.parentId) ? span.parentId : null;
    const list = children.get(parent) ?? [];
    list.push(span);
    children.set(parent, list);
  }
  for (const list of children.values()) list.sort((a, b) => a.startTime - b.startTime);
  const lines = [`rollout ${report.rolloutId} · attempt ${report.attemptId}`];
  const walk = (parent: string | null, indent: string) => {
    for (const span of children.get(parent) ?? []) {
      lines.push(`${indent}${describe(span)}`);
      walk(span.spanId, `${indent}  `);
    }
  };
  walk(null, "  ");
  lines.push(
    `  ${report.spans} spans · ${report.llmCalls} LLM calls (${report.llmCallsWithTokenIds} with token ids) · ${report.rewards} rewards · final reward ${report.finalReward ?? "none"}`,
  );
  for (const warning of report.warnings) lines.push(`  ! ${warning}`);
  if (report.agentError) lines.push(`  ✗ agent error: ${report.agentError}`);
  return lines.join("\n");
}

function describe(span: SpanInput): string {
  const a = span.attributes ?? {};
  const type = String(a[Attr.spanType] ?? "span");
  const ms = (span.endTime - span.startTime).toFixed(1);
  const parts = [`${span.name} [${type}${a[Attr.layer] ? `/${String(a[Attr.layer])}` : ""}] ${ms} ms`];
  const add = (label: string, value: JsonValue | undefined) => {
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
