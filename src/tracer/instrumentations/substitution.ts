import type { ActiveSpan } from "../active-span.js";
import type { TraceState } from "../trace-state.js";
import { Attr } from "../../types/index.js";
import { RecordingGuard } from "./recording-guard.js";

const guard = new RecordingGuard("substituting a candidate's prompt texts in an LLM request");

/**
 * The request body a rollout's in-flight substitutions make of `body` — a copy with the seed texts
 * replaced — or undefined when the rollout has none or none matched. A failure here sends the
 * agent's own body (and is logged once): the call must go out either way.
 */
export function substitutedBody(trace: TraceState, body: unknown): { body: Record<string, unknown>; substituted: string[] } | undefined {
  const substituter = trace.substituter;
  if (substituter === undefined) return undefined;
  return guard.run(() => substituter.substituteBody(body));
}

/** Runs more of the substitution's work (rebuilding a request around the new body) under the same guard. */
export function guardSubstitution<T>(fn: () => T): T | undefined {
  return guard.run(fn);
}

/** Records on a call's span which components it carried the candidate's text for. */
export function recordSubstituted(span: ActiveSpan | undefined, substituted: readonly string[] | undefined): void {
  if (span !== undefined && substituted !== undefined && substituted.length > 0) span.setAttribute(Attr.substituted, [...substituted]);
}
