/**
 * The span tree of one attempt. Spans are put in one order — the store's `sequence` when every
 * span has one (it numbers spans in the order they ended, independently of clocks), otherwise by
 * end time then start time — and linked to their parents. A parent that is referenced but missing
 * becomes a virtual node, so its children keep their siblings; a parent chain that loops is cut.
 * Nothing is re-parented by guessing from timestamps: the tracer records true parents, so a tree
 * never needs "repair" for agent selection to work.
 */
import { Attr } from "../types/index.js";
import { DiagnosticsCollector } from "./diagnostics.js";
import type { AdapterSpan } from "./span-input.js";

/** A node: a span, or a virtual stand-in for a missing parent. */
export interface SpanNode {
  readonly spanId: string;
  /** Undefined for a virtual node. */
  readonly span: AdapterSpan | undefined;
  parent: SpanNode | undefined;
  readonly children: SpanNode[];
  /** The span's place in the attempt's order (0-based); -1 for virtual nodes. */
  readonly order: number;
  /** The tracer's `tracetrain.span.type`, when it is a string. */
  readonly type: string | undefined;
}

/** One attempt's spans as a tree, plus the order every adapter step uses. */
export interface SpanTree {
  readonly rolloutId: string;
  readonly attemptId: string;
  /** Top-level nodes (spans without a parent, cut cycles, and virtual nodes), in order. */
  readonly roots: SpanNode[];
  /** Every real span's node, in order. */
  readonly nodes: SpanNode[];
  readonly byId: ReadonlyMap<string, SpanNode>;
  readonly ordering: "sequence" | "time";
  readonly virtualParents: number;
}

/**
 * Builds the tree of one attempt's spans (give it the spans of a single attempt). Never throws:
 * duplicate span ids (the first is kept) and parent cycles are reported to `diagnostics`.
 */
export function buildSpanTree(spans: readonly AdapterSpan[], diagnostics: DiagnosticsCollector = new DiagnosticsCollector()): SpanTree {
  const first = spans[0];
  const ordering = spans.every(hasSequence) ? "sequence" : "time";
  const sorted = sortSpans(spans, ordering);
  const byId = new Map<string, SpanNode>();
  const nodes: SpanNode[] = [];
  for (const span of sorted) {
    if (byId.has(span.spanId)) {
      diagnostics.drop(span.spanId, "duplicate_span_id", "another span of this attempt has the same id; the first one is kept");
      continue;
    }
    const type = span.attributes?.[Attr.spanType];
    const node: SpanNode = { spanId: span.spanId, span, parent: undefined, children: [], order: nodes.length, type: typeof type === "string" ? type : undefined };
    byId.set(span.spanId, node);
    nodes.push(node);
  }

  const roots: SpanNode[] = [];
  const virtual: SpanNode[] = [];
  for (const node of nodes) {
    const parentId = node.span?.parentId;
    if (parentId === undefined || parentId === null || parentId === "") {
      roots.push(node);
      continue;
    }
    let parent = byId.get(parentId);
    if (parent === undefined) {
      parent = { spanId: parentId, span: undefined, parent: undefined, children: [], order: -1, type: undefined };
      byId.set(parentId, parent);
      virtual.push(parent);
    }
    node.parent = parent;
    parent.children.push(node);
  }
  cutCycles(nodes, roots, diagnostics);
  // Virtual roots go where their first child would be: trees read in order.
  const allRoots = virtual.length === 0 ? roots : [...roots, ...virtual].sort((a, b) => firstOrder(a) - firstOrder(b));
  return {
    rolloutId: first?.rolloutId ?? "",
    attemptId: first?.attemptId ?? "",
    roots: allRoots,
    nodes,
    byId,
    ordering,
    virtualParents: virtual.length,
  };
}

function hasSequence(span: AdapterSpan): boolean {
  return typeof span.sequence === "number" && Number.isFinite(span.sequence);
}

/** Sorted copy: by sequence (or end time), then start time, then input position — a total order, so output is deterministic. */
function sortSpans(spans: readonly AdapterSpan[], ordering: "sequence" | "time"): AdapterSpan[] {
  const indexed = spans.map((span, index) => ({ span, index, key: ordering === "sequence" ? (span.sequence as number) : span.endTime }));
  indexed.sort((a, b) => compare(a.key, b.key) || compare(a.span.endTime, b.span.endTime) || compare(a.span.startTime, b.span.startTime) || a.index - b.index);
  return indexed.map((x) => x.span);
}

/** Numeric comparison that stays consistent when a value is not a number. */
function compare(a: number, b: number): number {
  if (a < b) return -1;
  if (a > b) return 1;
  return 0;
}

function firstOrder(node: SpanNode): number {
  return node.order >= 0 ? node.order : (node.children[0]?.order ?? Number.MAX_SAFE_INTEGER);
}

/**
 * Detaches the node at which a parent chain loops back on itself, making it a root. Iterative
 * (no recursion: a hostile span set could be deep), linear in the number of nodes.
 */
function cutCycles(nodes: readonly SpanNode[], roots: SpanNode[], diagnostics: DiagnosticsCollector): void {
  const state = new Map<SpanNode, 1 | 2>(); // 1: on the current path, 2: known to reach a root
  for (const start of nodes) {
    if (state.has(start)) continue;
    const path: SpanNode[] = [];
    let node: SpanNode | undefined = start;
    while (node !== undefined && !state.has(node)) {
      state.set(node, 1);
      path.push(node);
      node = node.parent;
    }
    if (node !== undefined && state.get(node) === 1) {
      // `node` is on this path: the edge from the last node of the path back to it closes a loop.
      const last = path[path.length - 1]!;
      const parent = last.parent!;
      parent.children.splice(parent.children.indexOf(last), 1);
      last.parent = undefined;
      roots.push(last);
      roots.sort((a, b) => a.order - b.order);
      diagnostics.drop(last.spanId, "parent_cycle", `its parent chain loops back to it through ${parent.spanId}; it is treated as a root`);
    }
    for (const n of path) state.set(n, 2);
  }
}

/** Whether `ancestor` is a proper ancestor of `node`. */
export function isDescendant(node: SpanNode, ancestor: SpanNode): boolean {
  for (let p = node.parent; p !== undefined; p = p.parent) if (p === ancestor) return true;
  return false;
}
