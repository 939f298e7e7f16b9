/**
 * DAPO-style dynamic sampling and collapse detection. A group whose rollouts all scored alike has
 * zero advantage everywhere: it teaches nothing. When a step has too few groups with signal, it
 * runs further groups — other training tasks, in a seeded order of its own, so a resumed run asks
 * for the same rollouts — instead of skipping the update; and a run whose steps stay without
 * signal even so is told it has collapsed, with what to try.
 */
import type { EnqueueRequest, Task } from "../../types/index.js";
import { randomFor } from "../../util/index.js";

/** The refill groups of one round: `count` tasks of the step's own seeded order, continuing where the last round stopped. */
export function refillRequests(options: {
  train: readonly Task[];
  seed: number;
  runId: string;
  step: number;
  round: number;
  /** Refill groups run so far this step (earlier rounds). */
  offset: number;
  count: number;
  groupSize: number;
  resourcesId: string;
}): EnqueueRequest[] {
  const { train, seed, runId, step, round, offset, count, groupSize, resourcesId } = options;
  const order = randomFor(seed, `refill.s${step}`).shuffle(train.map((_, i) => i));
  return Array.from({ length: count }, (_, i) => offset + i).flatMap((position) => {
    const groupId = `${runId}.s${step}.r${round}.${position}`;
    return Array.from({ length: groupSize }, (_, j) => ({
      rolloutId: `${groupId}.${j}`,
      input: train[order[position % train.length]!]!,
      mode: "train" as const,
      resourcesId,
      metadata: { rl: runId, step, groupId, refill: round },
    }));
  });
}

/**
 * The lowest and highest reward the run has seen. A group whose rollouts all scored the highest,
 * once lower scores have been seen, is solved rather than silent: refilling it would spend
 * rollouts to confirm what the policy already does — at convergence every group is like that.
 */
export class RewardRange {
  private best = Number.NEGATIVE_INFINITY;
  private worst = Number.POSITIVE_INFINITY;

  observe(rewards: Iterable<number>): void {
    for (const reward of rewards) {
      if (reward > this.best) this.best = reward;
      if (reward < this.worst) this.worst = reward;
    }
  }

  isSolved(reward: number): boolean {
    return this.best > this.worst && reward >= this.best;
  }
}

/** Warns once per streak when `limit` consecutive steps had no group with signal. */
export class CollapseWatch {
  private streak = 0;

  constructor(private readonly limit: number) {}

  /**
   * Records a step; returns the warning when this step completes a streak of `limit`. A step whose
   * silent groups all scored the run's best reward (`solved`) has converged: it ends a streak.
   */
  observe(signalGroups: number, solved: boolean, refilling: boolean, meanReward: number | null): string | undefined {
    this.streak = signalGroups > 0 || solved ? 0 : this.streak + 1;
    if (this.streak !== this.limit) return undefined;
    return (
      `RL: the run has collapsed: ${this.limit} consecutive steps without a single group whose rollouts scored differently${refilling ? ", even after refilling" : ""}, so nothing is learned ` +
      `(mean train reward ${meanReward === null ? "n/a" : meanReward.toFixed(3)}; if no better score is possible, the run has converged instead). ` +
      "Try a higher sampling temperature (sampling.train), larger groups (groupSize), more refill rounds (dynamicSampling.maxExtraRounds), " +
      "an entropy bonus or a lower learning rate in the backend, or restarting from an earlier checkpoint (restore)."
    );
  }
}
