import type { ActiveSpan } from "./active-span.js";
import type { TraceState } from "./trace-state.js";

/** A parent span known to a framework's own context (a LangChain run, an Agents SDK span). */
export interface BridgedParent {
  span: ActiveSpan;
  agentName: string | undefined;
}

/**
 * Frameworks keep their own notion of "the current run" (LangChain and the Agents SDK each have
 * an AsyncLocalStorage of their own). A bridge reads it, so a model call made deep inside a
 * LangGraph node still gets that node as its parent and its name as agent, even though our own
 * context never saw the node start.
 */
export type Bridge = (trace: TraceState) => BridgedParent | undefined;

const bridges = new Set<Bridge>();

/** Registers a bridge; returns the function that removes it. */
export function addBridge(bridge: Bridge): () => void {
  bridges.add(bridge);
  return () => bridges.delete(bridge);
}

/**
 * The innermost open framework span of this trace, if any. Spans nest in time, so among the
 * candidates the one that started last is the innermost.
 */
export function resolveBridgedParent(trace: TraceState): BridgedParent | undefined {
  let best: BridgedParent | undefined;
  for (const bridge of bridges) {
    const candidate = bridge(trace);
    if (!candidate || candidate.span.trace !== trace || candidate.span.ended) continue;
    if (!best || candidate.span.startTime >= best.span.startTime) best = candidate;
  }
  return best;
}

export function hasBridges(): boolean {
  return bridges.size > 0;
}
