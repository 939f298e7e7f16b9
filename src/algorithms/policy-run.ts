/**
 * What the algorithms that train weights through a backend (RL, SFT) share around their loop: the
 * run recorded from start to end, the seeded order training tasks are taken in, scoring the current
 * policy on a split, and the `evaluation` entry of such a pass.
 */
import type { JsonObject, Task } from "../types/index.js";
import { randomFor } from "../util/index.js";
import type { AlgorithmContext } from "./algorithm.js";
import { rewardOrZero } from "./evaluate.js";
import { runRollouts } from "./rollout-batch.js";
import { type EntryData, finiteOrNull, interval, RunLog, type RunRecordStats, runStatusOf } from "./run-log.js";
import { estimate } from "./stats.js";

/**
 * Opens the run's record, runs it, and ends the record with the outcome's status and summary (or
 * marks it failed, rethrowing); the result carries what became of the record.
 */
export async function recordedRun<R extends { stoppedBecause: string }>(
  ctx: AlgorithmContext,
  run: { runId: string; algorithm: string; options: Record<string, unknown> },
  execute: (log: RunLog) => Promise<R>,
  summary: (outcome: R) => Record<string, unknown>,
): Promise<R & { record: RunRecordStats }> {
  const log = await RunLog.open(ctx, run.runId, run.algorithm, run.options);
  try {
    const outcome = await execute(log);
    const record = await log.end(runStatusOf(outcome.stoppedBecause), summary(outcome));
    return { ...outcome, record };
  } catch (error) {
    await log.fail(error);
    throw error;
  }
}

/** The k-th training task of a run: the training set in a seeded order, epoch after epoch. */
export function seededTask(train: readonly Task[], seed: number, k: number): Task {
  const epoch = Math.floor(k / train.length);
  const order = randomFor(seed, `epoch.${epoch}`).shuffle(train.map((_, i) => i));
  return train[order[k % train.length]!]!;
}

/**
 * The policy's reward on one rollout per task, in task order: `idOf(i)` names task i's rollout (a
 * resumed run finds it), and a failed or unfinished rollout (an interruption) scores 0.
 */
export async function scoreTasks(
  ctx: AlgorithmContext,
  tasks: readonly Task[],
  rollouts: { idOf: (i: number) => string; mode: "val" | "test"; resourcesId: string; metadata: JsonObject },
): Promise<number[]> {
  const { idOf, mode, resourcesId, metadata } = rollouts;
  const ended = await runRollouts(
    ctx,
    tasks.map((input, i) => ({ rolloutId: idOf(i), input, mode, resourcesId, metadata: { ...metadata, purpose: "evaluate" } })),
  );
  const rewards = new Map(ended.map((r) => [r.rolloutId, rewardOrZero(r)]));
  return tasks.map((_, i) => rewards.get(idOf(i)) ?? 0);
}

/** An `evaluation` entry for one pass over a split (per-task rewards, in task order). */
export function evaluationEntry(label: string, split: "val" | "test", rewards: readonly number[]): EntryData<"evaluation"> {
  const scored = estimate(rewards);
  return { label, split, mean: finiteOrNull(scored.mean), n: scored.n, ci95: interval(scored) };
}

/** Seconds since a `performance.now()` reading, to the millisecond. */
export function secondsSince(since: number): number {
  return Math.round(performance.now() - since) / 1000;
}
