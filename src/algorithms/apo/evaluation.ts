/**
 * Scoring candidates on validation tasks, as a bandit: candidates are arms and every rollout is a
 * pull. Successive halving (the default) runs every candidate on the first few tasks of the
 * round's order (the run's seeded order, rotated each round), keeps the better half, doubles the
 * tasks, and so on — clearly bad candidates stop early, and the survivors are always compared on
 * the same tasks (paired). Scores are kept per
 * (candidate, task), so a beam member carried into the next round is never re-run on a task it
 * has already done. `full` instead runs every candidate on a fresh batch of tasks each round, as
 * Agent Lightning's APO does — kept as the reference the benchmark compares against.
 */
import type { EnqueueRequest, Task, TokenFigures } from "../../types/index.js";
import type { BudgetLimit } from "../budget.js";
import type { MeteredRollouts } from "../metered-rollouts.js";
import { estimate } from "./stats.js";
import type { Candidate } from "./candidates.js";

export interface EvaluationOptions {
  /** `successive-halving` (default) or `full`. */
  strategy: "successive-halving" | "full";
  /** Successive halving: tasks every candidate runs first (default 4). */
  startTasks: number;
  /** Successive halving: how much of the field each rung keeps (default 2, the half). */
  eta: number;
  /** The most validation tasks a candidate runs (default: all the search may use); for `full`, the batch each round. */
  maxTasks: number;
}

export interface RoundEvaluation {
  /** Every arm, best first. */
  ranking: Candidate[];
  /** New rollouts this evaluation ran. */
  rollouts: number;
  /** What evaluating every arm on every task the leaders were judged on would have cost in new rollouts. */
  fullCost: number;
  /** The task count of each rung (successive halving) or of the batch (full). */
  rungs: number[];
  /** Where the scoreboard keeps this evaluation's rewards (see {@link Scoreboard.rewardsOf}). */
  namespace: string;
  stoppedBy?: BudgetLimit;
}

/** Runs evaluation rollouts and remembers each (candidate, validation task) reward. */
export class Scoreboard {
  private readonly rewards = new Map<string, Map<number, number>>();
  /** The rollout behind each reward, same keys. */
  private readonly rolloutIds = new Map<string, Map<number, string>>();

  constructor(
    private readonly rollouts: MeteredRollouts,
    private readonly runId: string,
    private readonly val: readonly Task[],
  ) {}

  /**
   * The candidate's rewards on these tasks, in order (NaN where not run). Rewards live in
   * namespaces: the search shares one across rounds; a fresh measurement (the reference
   * strategy's per-round batches) uses its own, so nothing earlier is reused.
   */
  rewardsOf(candidate: Candidate, tasks: readonly number[], namespace = ""): number[] {
    const known = this.rewards.get(`${namespace}|${candidate.id}`);
    return tasks.map((t) => known?.get(t) ?? Number.NaN);
  }

  mean(candidate: Candidate, tasks: readonly number[], namespace = ""): number {
    return estimate(this.rewardsOf(candidate, tasks, namespace).filter((v) => !Number.isNaN(v))).mean;
  }

  /** What the candidate's rollouts on these tasks spent (those it has a reward for), and Σ tokens / Σ reward. */
  tokensOf(candidate: Candidate, tasks: readonly number[], namespace = ""): { tokens: TokenFigures; tokensPerReward: number | null } {
    const ids = this.rolloutIds.get(`${namespace}|${candidate.id}`);
    return this.rollouts.tokensOfMany(tasks.flatMap((t) => ids?.get(t) ?? []));
  }

  /** Tasks (validation indices) this candidate has a reward for. */
  tasksOf(candidate: Candidate, namespace = ""): number[] {
    return [...(this.rewards.get(`${namespace}|${candidate.id}`)?.keys() ?? [])];
  }

  /**
   * Runs each candidate on each task it has no reward for yet. `key` names the rollouts (stable
   * ids make a resumed run find them). Returns how many rollouts that took, or the limit that
   * stopped it before starting.
   */
  async ensure(
    candidates: readonly Candidate[],
    tasks: readonly number[],
    key: (candidate: Candidate, task: number) => string,
    namespace = "",
  ): Promise<{ rollouts: number; stoppedBy?: BudgetLimit }> {
    const missing: Array<{ candidate: Candidate; task: number; request: EnqueueRequest & { rolloutId: string } }> = [];
    for (const candidate of candidates) {
      const known = this.rewards.get(`${namespace}|${candidate.id}`);
      for (const task of tasks) {
        if (known?.has(task)) continue;
        const rolloutId = this.rollouts.idFor(key(candidate, task));
        missing.push({ candidate, task, request: { rolloutId, input: this.val[task]!, mode: "val", resourcesId: candidate.resourcesId, metadata: { apo: this.runId, candidate: candidate.id, purpose: "evaluate" } } });
      }
    }
    const ran = await this.rollouts.run(missing.map((m) => m.request));
    if (ran.stoppedBy) return { rollouts: 0, stoppedBy: ran.stoppedBy };
    const byId = new Map(ran.ended.map((r) => [r.rolloutId, r]));
    for (const { candidate, task, request } of missing) {
      const rollout = byId.get(request.rolloutId);
      if (!rollout) continue; // interrupted before it ended
      let known = this.rewards.get(`${namespace}|${candidate.id}`);
      if (!known) this.rewards.set(`${namespace}|${candidate.id}`, (known = new Map()));
      // The behaviour penalty counts: a candidate that scores by misbehaving is not the better one.
      known.set(task, this.rollouts.rewardOf(rollout));
      let ids = this.rolloutIds.get(`${namespace}|${candidate.id}`);
      if (!ids) this.rolloutIds.set(`${namespace}|${candidate.id}`, (ids = new Map()));
      ids.set(task, rollout.rolloutId);
    }
    return { rollouts: missing.length };
  }
}

/** Ranks `arms` by mean reward on `tasks`; ties keep the given order (older candidates first). */
function rank(board: Scoreboard, arms: readonly Candidate[], tasks: readonly number[], namespace = ""): Candidate[] {
  return arms
    .map((arm, order) => ({ arm, order, mean: board.mean(arm, tasks, namespace) }))
    .sort((a, b) => (Number.isNaN(b.mean) ? -1 : Number.isNaN(a.mean) ? 1 : b.mean - a.mean) || a.order - b.order)
    .map((entry) => entry.arm);
}

/**
 * The rungs of successive halving for `arms` candidates: every arm runs the first `startTasks`
 * tasks; the better 1/eta (never fewer than two) go on to eta× as many, and so on up to `limit`
 * tasks or a single arm. Each rung: how many tasks its arms have run, and how many arms it has.
 */
export function halvingSchedule(arms: number, options: Pick<EvaluationOptions, "startTasks" | "eta">, limit: number): Array<{ tasks: number; arms: number }> {
  const rungs: Array<{ tasks: number; arms: number }> = [];
  let tasks = Math.min(options.startTasks, limit);
  let alive = arms;
  for (;;) {
    rungs.push({ tasks, arms: alive });
    if (alive <= 1 || tasks >= limit) return rungs;
    alive = Math.max(2, Math.ceil(alive / options.eta));
    tasks = Math.min(limit, Math.ceil(tasks * options.eta));
  }
}

/**
 * The task order successive halving uses in `round`: the run's order rotated by
 * (round − 1) · `startTasks`, so each round's first rung screens on other tasks than the last
 * one's — a candidate lucky on one fixed handful of tasks cannot win every round. Within a round
 * every arm still runs the same tasks (paired); beam members keep the rewards they already have.
 */
export function rotateOrder(order: readonly number[], round: number, startTasks: number): number[] {
  if (order.length === 0) return [];
  const shift = ((round - 1) * startTasks) % order.length;
  return [...order.slice(shift), ...order.slice(0, shift)];
}

/**
 * Successive halving over `order` (validation task indices in the run's seeded order), rung by
 * rung of {@link halvingSchedule}. The ranking puts the last rung's arms first, then those
 * dropped at each earlier rung, latest first.
 */
export async function successiveHalving(board: Scoreboard, arms: readonly Candidate[], order: readonly number[], options: EvaluationOptions): Promise<RoundEvaluation> {
  const before = knownTasks(board, arms);
  const schedule = halvingSchedule(arms.length, options, Math.min(options.maxTasks, order.length));
  let survivors = [...arms];
  const eliminated: Candidate[][] = [];
  let rollouts = 0;
  for (let i = 0; ; i++) {
    const tasks = order.slice(0, schedule[i]!.tasks);
    const ran = await board.ensure(survivors, tasks, (c, t) => `e.${c.id}.${t}`);
    rollouts += ran.rollouts;
    const ranked = rank(board, survivors, tasks);
    const next = schedule[i + 1];
    if (ran.stoppedBy !== undefined || next === undefined) {
      const ranking = [...ranked, ...eliminated.reverse().flat()];
      const rungs = schedule.slice(0, i + 1).map((rung) => rung.tasks);
      return { ranking, rollouts, fullCost: fullCost(before, arms, tasks), rungs, namespace: "", ...(ran.stoppedBy ? { stoppedBy: ran.stoppedBy } : {}) };
    }
    eliminated.push(ranked.slice(next.arms));
    survivors = ranked.slice(0, next.arms);
  }
}

/** Every arm on one batch of tasks (the reference strategy). */
export async function evaluateAll(board: Scoreboard, arms: readonly Candidate[], batch: readonly number[], round: number): Promise<RoundEvaluation> {
  const namespace = `round${round}`;
  const ran = await board.ensure(arms, batch, (c, t) => `e${round}.${c.id}.${t}`, namespace);
  return { ranking: rank(board, arms, batch, namespace), rollouts: ran.rollouts, fullCost: ran.rollouts, rungs: [batch.length], namespace, ...(ran.stoppedBy ? { stoppedBy: ran.stoppedBy } : {}) };
}

function knownTasks(board: Scoreboard, arms: readonly Candidate[]): Map<string, Set<number>> {
  return new Map(arms.map((arm) => [arm.id, new Set(board.tasksOf(arm))]));
}

/** Rollouts that running every arm on every one of `tasks` would have needed, from what was known before. */
function fullCost(before: Map<string, Set<number>>, arms: readonly Candidate[], tasks: readonly number[]): number {
  return arms.reduce((sum, arm) => sum + tasks.filter((t) => !before.get(arm.id)?.has(t)).length, 0);
}
