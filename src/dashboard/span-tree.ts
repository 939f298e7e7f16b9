/** Spans in tree order: each span followed by its children (by start time), with its depth. */

/** What ordering needs of a span (a full span and an outline both have it). */
export interface TreeSpan {
  spanId: string;
  parentId: string | null;
  startTime: number;
  sequence: number;
}

export interface TreeRow<S extends TreeSpan> {
  span: S;
  depth: number;
}

export function treeOrder<S extends TreeSpan>(spans: readonly S[]): Array<TreeRow<S>> {
  const ids = new Set(spans.map((s) => s.spanId));
  const children = new Map<string | null, S[]>();
  for (const span of spans) {
    // A span whose parent is not in this attempt (a remote parent, a lost span) is shown as a root.
    const parent = span.parentId !== null && ids.has(span.parentId) ? span.parentId : null;
    const list = children.get(parent) ?? [];
    list.push(span);
    children.set(parent, list);
  }
  for (const list of children.values()) list.sort((a, b) => a.startTime - b.startTime || a.sequence - b.sequence);
  const rows: Array<TreeRow<S>> = [];
  const seen = new Set<string>();
  // An explicit stack, not recursion: a deep trace must not overflow the call stack.
  const walk = (roots: readonly S[]) => {
    const stack = roots.map((span) => ({ span, depth: 0 })).reverse();
    while (stack.length > 0) {
      const row = stack.pop()!;
      if (seen.has(row.span.spanId)) continue; // two spans with one id: the first one's children are shown once
      seen.add(row.span.spanId);
      rows.push(row);
      const kids = children.get(row.span.spanId) ?? [];
      for (let i = kids.length - 1; i >= 0; i--) stack.push({ span: kids[i]!, depth: row.depth + 1 });
    }
  };
  walk(children.get(null) ?? []);
  // Spans whose parents form a loop are reached from no root: shown at the end, not lost.
  if (rows.length < ids.size) walk(spans.filter((s) => !seen.has(s.spanId)));
  return rows;
}
