import { z } from "zod";
import type { Attempt, Logger, Rollout, SpanInput, TraceReport } from "../types/index.js";

/** Called around every rollout a runner executes. A hook that throws is reported, never fatal. */
export interface RunnerHooks {
  /** Before the agent starts (resources resolved). */
  onRolloutStart?(event: { rollout: Rollout; attempt: Attempt }): void | Promise<void>;
  /**
   * When the agent has finished and its trace is complete, before the attempt is completed:
   * `spans` and `report` are what the store holds for the attempt (see `TraceOptions.readBack`).
   */
  onTraceEnd?(event: { rollout: Rollout; attempt: Attempt; spans: SpanInput[]; report: TraceReport }): void | Promise<void>;
  /** After the attempt was completed in the store (`rollout` is the stored result). */
  onRolloutEnd?(event: { rollout: Rollout; attempt: Attempt }): void | Promise<void>;
}

const HOOK_NAMES: ReadonlyArray<keyof RunnerHooks> = ["onRolloutStart", "onTraceEnd", "onRolloutEnd"];

/**
 * A `hooks` option: each hook given must be a function. An object literal may hold nothing else,
 * so a misspelt hook is an error rather than a hook that never runs; an instance of a class is
 * kept as it is (its hooks may live on its prototype, next to state of its own).
 */
export const HooksSchema = z
  .custom<RunnerHooks>((value) => typeof value === "object" && value !== null, "expected an object of hook functions")
  .superRefine((hooks, ctx) => {
    const record = hooks as Record<string, unknown>;
    for (const name of HOOK_NAMES) {
      if (record[name] !== undefined && typeof record[name] !== "function") ctx.addIssue({ code: "custom", path: [name], message: "expected a function" });
    }
    const prototype: unknown = Object.getPrototypeOf(hooks);
    if (prototype !== Object.prototype && prototype !== null) return;
    for (const key of Object.keys(record)) {
      if (!(HOOK_NAMES as readonly string[]).includes(key)) ctx.addIssue({ code: "custom", path: [key], message: `unknown hook; expected ${HOOK_NAMES.join(", ")}` });
    }
  });

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
