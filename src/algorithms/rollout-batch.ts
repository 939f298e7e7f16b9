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
export async function runBatch(ctx: AlgorithmContext, tasks: readonly Task[], options: BatchOptions): Promise<Rollout[]> {
  const requests: EnqueueRequest[] = tasks.map((input) => ({
    input,
    mode: options.mode,
    config: ctx.rolloutConfig,
    ...(options.resourcesId === undefined ? {} : { resourcesId: options.resourcesId }),
    ...(options.metadata === undefined ? {} : { metadata: options.metadata }),
  }));
  const wanted = new Set<string>();
  const onEnd = (event: RolloutStatusEvent) => {
    if (!isRolloutTerminal(event.status) || !wanted.delete(event.rolloutId)) return;
    ctx.progress.rolloutEnded(event.status as "succeeded" | "failed" | "cancelled", event.finalReward);
  };
  ctx.store.events.on("rollout", onEnd);
  try {
    const enqueued = await ctx.store.enqueueMany(requests);
    for (const r of enqueued) if (!isRolloutTerminal(r.status)) wanted.add(r.rolloutId);
    const ended = await ctx.store.waitForRollouts(
      enqueued.map((r) => r.rolloutId),
      { signal: ctx.signal },
    );
    // Rollouts that ended before we started listening (a fast remote runner) are counted here.
    for (const rollout of ended) if (wanted.has(rollout.rolloutId)) onEnd({ type: "rollout", rolloutId: rollout.rolloutId, status: rollout.status, previous: null, finalReward: rollout.finalReward, at: rollout.endedAt ?? 0 });
    return ended;
  } finally {
    ctx.store.events.off("rollout", onEnd);
  }
}
