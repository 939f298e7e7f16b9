/**
 * The final check an optimizer (APO, GEPA) ends with: the best candidate its search found and the
 * seed, run on tasks the search never saw and compared task by task. Measured on the tasks it was
 * selected on, the best looks better than it is — of many candidates scored on the same tasks,
 * the luckiest wins (the winner's curse) — so only held-out tasks can confirm a gain.
 *
 * Use: {@link planHeldOut} before the search (search only on `searchIndices`, log `note`, reserve
 * `rollouts` in the budget), then {@link heldOutCheck} after it.
 */
import type { EnqueueRequest, JsonObject, ResourcesMap, RolloutMode, Task } from "../types/index.js";
import { randomFor } from "../util/index.js";
import type { AlgorithmContext } from "./algorithm.js";
import type { BudgetLimit } from "./budget.js";
import { rewardOrZero } from "./evaluate.js";
import type { MeteredRollouts } from "./metered-rollouts.js";
import { finiteOrNull, interval, type RunLog, scoreEntry } from "./run-log.js";
import { type Estimate, estimate, indices, pairedDifference, signed } from "./stats.js";

/** With fewer validation tasks than this, none are held out: a third of them is too few to check on. */
export const MIN_VAL_TO_HOLD_OUT = 6;

/** Where the verdict is measured: the `test` split, validation tasks kept from the search, or nowhere. */
export type HeldOutSource = "test" | "val" | "none";

export interface HeldOutPlan {
  source: HeldOutSource;
  /** The validation tasks (indices into `val`, ascending) the search may use. */
  searchIndices: number[];
  /** The held-out tasks the final check runs on. */
  tasks: readonly Task[];
  /** Each held-out task's name in rollout ids: `test<i>` or `val<i>`, its index in its split. */
  keys: string[];
  /** The mode their rollouts are recorded under. */
  mode: RolloutMode;
  /** The most rollouts the check takes (the best and the seed on every task): reserve them before the search. */
  rollouts: number;
  /** Which source was chosen and why, to log before the run. */
  note: string;
}

/**
 * Chooses the held-out tasks: the `test` split when the trainer was given one (the search then
 * uses all of `val`); otherwise a seeded third (rounded up) of `val`, kept from the search, when
 * `val` has at least {@link MIN_VAL_TO_HOLD_OUT} tasks; otherwise none, and the verdict will be
 * "not checked".
 */
export function planHeldOut(ctx: Pick<AlgorithmContext, "val" | "test">, seed: number): HeldOutPlan {
  const all = indices(ctx.val.length);
  if (ctx.test.length > 0) {
    const n = ctx.test.length;
    return {
      source: "test",
      searchIndices: all,
      tasks: ctx.test,
      keys: indices(n).map((i) => `test${i}`),
      mode: "test",
      rollouts: 2 * n,
      note: `the final check runs on the ${n} test task(s); the search uses all ${ctx.val.length} validation tasks`,
    };
  }
  if (ctx.val.length < MIN_VAL_TO_HOLD_OUT) {
    return {
      source: "none",
      searchIndices: all,
      tasks: [],
      keys: [],
      mode: "val",
      rollouts: 0,
      note: `no held-out tasks: ${noCheckReason(ctx.val.length)}; the verdict will be "not checked"`,
    };
  }
  const held = randomFor(seed, "held-out").shuffle(all).slice(0, Math.ceil(ctx.val.length / 3));
  const kept = new Set(held);
  return {
    source: "val",
    searchIndices: all.filter((i) => !kept.has(i)),
    tasks: held.map((i) => ctx.val[i]!),
    keys: held.map((i) => `val${i}`),
    mode: "val",
    rollouts: 2 * held.length,
    note: `no test split given: ${held.length} of the ${ctx.val.length} validation tasks are held out for the final check and never shown to the search`,
  };
}

function noCheckReason(valTasks: number): string {
  return `no test split was given, and ${valTasks} validation task(s) are too few to hold some out (it takes ${MIN_VAL_TO_HOLD_OUT}); pass test tasks to fit, or more validation tasks`;
}

/** A candidate as the check needs it (APO's and GEPA's candidates both fit). */
export interface CheckedCandidate {
  id: string;
  resourcesId: string;
  resources: ResourcesMap;
}

export interface HeldOutOutcome<C extends CheckedCandidate> {
  verdict: "improved" | "no significant improvement" | "not checked";
  /** best − seed per held-out task; null when the best is the seed or no check ran. */
  improvement: (Estimate & { significant: boolean }) | null;
  /** Each arm's mean reward on the held-out tasks, with its 95% interval (n 0 when it did not run there). */
  best: Estimate;
  seed: Estimate;
  /** What to publish: the best when it improved, else the seed; null when the check was cut short (nothing is published then). */
  winner: C | null;
  /** Where the verdict was measured, and on how many tasks. */
  heldOut: { source: HeldOutSource; n: number };
  /** The verdict in a sentence. */
  summary: string;
  /** Set when a budget or an interruption cut the check short. */
  stoppedBy?: BudgetLimit | "interrupted";
}

export interface HeldOutRun<C extends CheckedCandidate> {
  ctx: Pick<AlgorithmContext, "signal" | "progress">;
  /** The run's metered rollouts: stable ids, so a resumed run finds the check's rollouts. */
  rollouts: MeteredRollouts;
  plan: HeldOutPlan;
  best: C;
  seed: C;
  /** Set on every rollout of the check, besides `candidate` and `purpose`, e.g. `{ apo: runId }`. */
  metadata: JsonObject;
}

/**
 * Runs the best and the seed on the held-out tasks and compares them per task. "improved" only
 * when the whole 95% interval of the gain lies above zero; ties and anything less go to the seed.
 * When the best is the seed it runs once, and there is nothing to compare.
 */
export async function heldOutCheck<C extends CheckedCandidate>(run: HeldOutRun<C>): Promise<HeldOutOutcome<C>> {
  const { ctx, plan, best, seed } = run;
  const heldOut = { source: plan.source, n: plan.tasks.length };
  const none = estimate([]);
  const cut = (stoppedBy: BudgetLimit | "interrupted", summary: string): HeldOutOutcome<C> => ({ verdict: "not checked", improvement: null, best: none, seed: none, winner: null, heldOut, summary, stoppedBy });
  if (ctx.signal.aborted) return cut("interrupted", "interrupted before the final check: nothing was published");
  if (plan.source === "none") {
    const which = best.id === seed.id ? "no candidate beat the seed in the search" : `the search's best, ${best.id}, is not published`;
    return { verdict: "not checked", improvement: null, best: none, seed: none, winner: seed, heldOut, summary: `not checked: ${noCheckReason(plan.searchIndices.length)}. ${which}; the seed is published` };
  }
  const arms = best.id === seed.id ? [seed] : [best, seed];
  const where = `${plan.tasks.length} held-out ${plan.source === "test" ? "test" : "validation"} task(s)`;
  ctx.progress.phase(`final check: ${arms.length === 1 ? "the seed" : "the best and the seed"} on ${where}`, 0);
  const rewards = await runArms(run, arms);
  if ("stoppedBy" in rewards) return cut(rewards.stoppedBy, `the ${rewards.stoppedBy} budget left no room for the final check: nothing was published`);
  if (ctx.signal.aborted) return cut("interrupted", "interrupted during the final check: nothing was published");
  const seedRewards = rewards.get(seed.id)!;
  const bestRewards = rewards.get(best.id)!;
  const improvement = best.id === seed.id ? null : pairedDifference(seedRewards, bestRewards);
  const improved = improvement?.significant === true;
  return {
    verdict: improved ? "improved" : "no significant improvement",
    improvement,
    best: estimate(bestRewards),
    seed: estimate(seedRewards),
    winner: improved ? best : seed,
    heldOut,
    summary: verdictSentence(best.id, improvement, where),
  };
}

/** Each arm's rewards on the held-out tasks, in task order. */
async function runArms<C extends CheckedCandidate>(run: HeldOutRun<C>, arms: readonly C[]): Promise<Map<string, number[]> | { stoppedBy: BudgetLimit }> {
  const { plan, rollouts, metadata } = run;
  const requests = arms.flatMap((arm) =>
    plan.tasks.map(
      (input, i): EnqueueRequest & { rolloutId: string } => ({
        rolloutId: rollouts.idFor(`f.${arm.id}.${plan.keys[i]}`),
        input,
        mode: plan.mode,
        resourcesId: arm.resourcesId,
        metadata: { ...metadata, candidate: arm.id, purpose: "held-out check" },
      }),
    ),
  );
  const ran = await rollouts.run(requests);
  if (ran.stoppedBy) return { stoppedBy: ran.stoppedBy };
  const byId = new Map(ran.ended.map((r) => [r.rolloutId, r]));
  const n = plan.tasks.length;
  // A rollout missing here was cut by an interruption, which the caller checks for.
  return new Map(arms.map((arm, a) => [arm.id, requests.slice(a * n, (a + 1) * n).flatMap((r) => { const rollout = byId.get(r.rolloutId); return rollout ? [rewardOrZero(rollout)] : []; })]));
}

/**
 * Records the check in the run's log: each arm's held-out score (a `score` entry on `held-out`)
 * and the same as an `evaluation` entry labelled with the candidate id.
 */
export function recordHeldOut(log: RunLog, plan: HeldOutPlan, outcome: HeldOutOutcome<CheckedCandidate>, arms: { best: CheckedCandidate; seed: CheckedCandidate }): void {
  const split = plan.mode;
  const scoredArms = arms.best.id === arms.seed.id ? ([[arms.seed, outcome.seed]] as const) : ([[arms.seed, outcome.seed], [arms.best, outcome.best]] as const);
  for (const [arm, scored] of scoredArms) {
    if (scored.n === 0) continue;
    log.add("score", `score-${arm.id}-held-out-${scored.n}`, scoreEntry(arm.id, "held-out", scored));
    log.add("evaluation", `evaluation-held-out-${arm.id}`, { label: arm.id, split, mean: finiteOrNull(scored.mean), n: scored.n, ci95: interval(scored) });
  }
}

function verdictSentence(bestId: string, improvement: Estimate & { significant: boolean } | null, where: string): string {
  if (improvement === null) return `no significant improvement: no candidate beat the seed in the search (final check of the seed on ${where})`;
  const gain = `${signed(improvement.mean)} ± ${improvement.ci95.toFixed(3)} (95% CI, paired over ${where})`;
  return improvement.significant ? `improved: ${bestId} beats the seed by ${gain}` : `no significant improvement: ${bestId} vs the seed is ${gain}, within the noise`;
}


