import type { Attempt, Logger, Rollout, SpanInput, TraceReport } from "../types/index.js";

/** Called around every rollout a runner executes. A hook that throws is reported, never fatal. */
export interface RunnerHooks {
  /** Before the agent starts (resources resolved). */
  onRolloutStart?(event: { rollout: Rollout; attempt: Attempt }): void | Promise<void>;
  /** When the agent has finished and its trace is complete, before the attempt is completed. */
  onTraceEnd?(event: { rollout: Rollout; attempt: Attempt; spans: SpanInput[]; report: TraceReport }): void | Promise<void>;
  /** After the attempt was completed in the store (`rollout` is the stored result). */
  onRolloutEnd?(event: { rollout: Rollout; attempt: Attempt }): void | Promise<void>;
}

/** Runs one hook, reporting (not propagating) its failure. */
export async function callHook<K extends keyof RunnerHooks>(
  hooks: RunnerHooks,
  name: K,
  event: Parameters<NonNullable<RunnerHooks[K]>>[0],
  logger: Logger,
): Promise<void> {
  const hook = hooks[name] as ((e: typeof event) => void | Promise<void>) | undefined;
  if (!hook) return;
  try {
    await hook.call(hooks, event);
  } catch (error) {
    logger.error(`the ${name} hook threw; the rollout goes on`, { error, rolloutId: event.rollout.rolloutId });
  }
}
