import type { Logger, ResourcesSnapshot, RolloutConfigInput, Task } from "../types/index.js";
import type { Store } from "../store/index.js";
import type { BehaviourFilter, TraceAdapter } from "../adapters/index.js";

/** How an algorithm reports progress; the trainer shows it as a bar or as log lines. */
export interface ProgressReporter {
  /** Starts (or restarts) a phase, e.g. "round 2: evaluating 40 candidates". `total` rollouts expected. */
  phase(label: string, total: number): void;
  /**
   * Adds `count` rollouts to the current phase's total, for a phase that learns its size as it
   * goes (APO's evaluation runs rung after rung, each known only when the last one ends).
   */
  expect(count: number): void;
  /** Counts one rollout that ended, with its reward if any. */
  rolloutEnded(status: "succeeded" | "failed" | "cancelled", reward: number | null): void;
  /** Free-form note (a new best score, a published resource). */
  note(message: string): void;
}

/** Everything an algorithm may use. Algorithms and runners meet only at the store. */
export interface AlgorithmContext {
  store: Store;
  train: readonly Task[];
  val: readonly Task[];
  /**
   * Held-out tasks (`fit(agent, { test })`; empty when none were given). APO measures its final
   * verdict on them, never searching on them; the other algorithms ignore them.
   */
  test: readonly Task[];
  /** The snapshot published from the trainer's `initialResources` (undefined if none were given). */
  initialResources: ResourcesSnapshot | undefined;
  /** How spans become training data (the trainer's `adapter` option): use it to read trajectories. */
  adapter: TraceAdapter;
  /** Config applied to every rollout the algorithm enqueues unless it says otherwise. */
  rolloutConfig: RolloutConfigInput;
  logger: Logger;
  progress: ProgressReporter;
  /**
   * The trainer's behaviour filter (`Trainer({ behaviour })`), if any: an algorithm honours it by
   * passing its ended rollouts to `reviewRollouts(ctx, rollouts)` and training on what that says.
   */
  behaviour?: BehaviourFilter | undefined;
  /** Fires when the run is interrupted (Ctrl-C); stop enqueuing and return. */
  signal: AbortSignal;
}

/**
 * An optimizer, or any procedure that drives rollouts: it enqueues rollouts, waits for them
 * (`store.waitForRollouts`, never sleep-polling), reads their spans, and may publish new resources.
 */
export interface Algorithm<R = unknown> {
  readonly name: string;
  run(ctx: AlgorithmContext): Promise<R>;
}
