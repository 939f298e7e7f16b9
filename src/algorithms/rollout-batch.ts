import type { EnqueueRequest, Rollout, RolloutMode, RolloutStatusEvent, Task } from "../types/index.js";
import { isRolloutTerminal } from "../store/index.js";
import type { AlgorithmContext } from "./algorithm.js";

export interface BatchOptions {
  mode: RolloutMode;
  /** The resources snapshot to run with (default: the store's latest). */
  resourcesId?: string;
  /** Metadata stored on every rollout of the batch. */
  metadata?: Record<string, string | number | boolean>;
}

/**
 * Enqueues one rollout per task and waits for all of them — event-driven, reporting each one to
 * the progress reporter the moment it ends. Returns the ended rollouts in task order; if the run
 * is interrupted, only those that had ended.
 */
export function runBatch(ctx: AlgorithmContext, tasks: readonly Task[], options: BatchOptions): Promise<Rollout[]> {
  return runRollouts(
    ctx,
    tasks.map((input) => ({
      input,
      mode: options.mode,
      ...(options.resourcesId === undefined ? {} : { resourcesId: options.resourcesId }),
      ...(options.metadata === undefined ? {} : { metadata: options.metadata }),
    })),
  );
}

/**
 * Enqueues these rollouts (each with the context's rollout config unless it names its own) and
 * waits for all of them, like {@link runBatch}. A request with a `rolloutId` the store already has
 * is not run again: its stored rollout is waited for and returned — which is what lets an
 * algorithm resume a run after a crash.
 */
export async function runRollouts(ctx: AlgorithmContext, requests: readonly EnqueueRequest[]): Promise<Rollout[]> {
  const withConfig = requests.map((request) => (request.config === undefined ? { ...request, config: ctx.rolloutConfig } : request));
  const wanted = new Set<string>();
  const onEnd = (event: RolloutStatusEvent) => {
    if (!isRolloutTerminal(event.status) || !wanted.delete(event.rolloutId)) return;
    ctx.progress.rolloutEnded(event.status as "succeeded" | "failed" | "cancelled", event.finalReward);
  };
  ctx.store.events.on("rollout", onEnd);
  try {
    const enqueued: Rollout[] = [];
    for (const chunk of chunks(withConfig)) enqueued.push(...(await ctx.store.enqueueMany(chunk)));
    for (const r of enqueued) if (!isRolloutTerminal(r.status)) wanted.add(r.rolloutId);
    // Waiting chunk by chunk changes nothing about when rollouts run: they all are queued already.
    const ended: Rollout[] = [];
    for (const chunk of chunks(enqueued)) {
      ended.push(...(await ctx.store.waitForRollouts(chunk.map((r) => r.rolloutId), { signal: ctx.signal })));
      if (ctx.signal.aborted) break;
    }
    // Rollouts that ended before we started listening (a fast remote runner) are counted here.
    for (const rollout of ended) if (wanted.has(rollout.rolloutId)) onEnd({ type: "rollout", rolloutId: rollout.rolloutId, status: rollout.status, previous: null, finalReward: rollout.finalReward, at: rollout.endedAt ?? 0 });
    return ended;
  } finally {
    ctx.store.events.off("rollout", onEnd);
  }
}

/** The store takes at most 10,000 ids per wait (and bounded batches per enqueue): split large datasets. */
function chunks<T>(items: readonly T[], size = 10_000): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
