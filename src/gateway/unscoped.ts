/**
 * Calls made without a rollout prefix, when the gateway records them (`recordUnscoped`): each
 * becomes an online rollout of its own, started before the call and completed after it.
 */
import type { ActiveSpan } from "../tracer/index.js";
import type { Store } from "../store/index.js";
import type { CallRecorder } from "./recorder.js";
import type { Scope } from "./scope.js";

export async function startUnscopedRollout(store: Store, path: string): Promise<Scope> {
  const started = await store.startRollout({ input: { gateway: path }, mode: "test", metadata: { source: "gateway", unscoped: true } });
  return { rolloutId: started.rollout.rolloutId, attemptId: started.attempt.attemptId };
}

/** Completes the call's rollout once its span is in the store: failed if the call failed. */
export async function finishUnscopedRollout(store: Store, recorder: CallRecorder, scope: Scope, span: ActiveSpan | undefined): Promise<void> {
  await recorder.flush();
  const failed = span?.toSpanInput().status?.code === "error";
  await store.completeAttempt(scope.rolloutId, scope.attemptId, failed ? { status: "failed", error: { kind: "agent_error", message: "the proxied call failed" } } : { status: "succeeded" });
}
