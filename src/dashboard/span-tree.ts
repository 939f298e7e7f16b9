/** Spans in tree order: each span followed by its children (by start time), with its depth. */
import type { Span } from "./records.js";

export interface TreeRow {
  span: Span;
  depth: number;
}

export function treeOrder(spans: readonly Span[]): TreeRow[] {
  const ids = new Set(spans.map((s) => s.spanId));
  const children = new Map<string | null, Span[]>();
  for (const span of spans) {
    // A span whose parent is not in this attempt (a remote parent, a lost span) is shown as a root.
    const parent = span.parentId !== null && ids.has(span.parentId) ? span.parentId : null;
    const list = children.get(parent) ?? [];
    list.push(span);
    children.set(parent, list);
  }
  for (const list of children.values()) list.sort((a, b) => a.startTime - b.startTime || a.sequence - b.sequence);
  const rows: TreeRow[] = [];
  const visit = (parent: string | null, depth: number) => {
    for (const span of children.get(parent) ?? []) {
      rows.push({ span, depth });
      visit(span.spanId, depth + 1);
    }
  };
  visit(null, 0);
  return rows;
}
