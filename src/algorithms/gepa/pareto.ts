/**
 * The Pareto frontier of per-task best scores, and parent selection from it (GEPA, arXiv
 * 2507.19457, §3.3). A candidate stays a possible parent while it is best — alone or tied — on at
 * least one validation task that no better-placed candidate covers, so a candidate that wins a
 * subset of tasks is kept even when its mean is lower. Pure functions: the loop passes scores in.
 */
import { randomFor } from "../../util/index.js";
import { mean } from "../stats.js";

/** A candidate's score on each Pareto validation task, by task index (every candidate on every task). */
export interface ScoredCandidate {
  id: string;
  /** Rewards in task order; a task not run is NaN and counts for nobody. */
  scores: readonly number[];
}

export interface Frontier {
  /** The best score on each task. */
  best: number[];
  /** Who reaches it on each task (ties: all of them, in candidate order). */
  winners: string[][];
}

/** The per-task best scores and who reaches them. */
export function frontier(candidates: readonly ScoredCandidate[]): Frontier {
  const tasks = Math.max(0, ...candidates.map((c) => c.scores.length));
  const best: number[] = [];
  const winners: string[][] = [];
  for (let t = 0; t < tasks; t++) {
    const scored = candidates.filter((c) => Number.isFinite(c.scores[t]));
    const top = Math.max(...scored.map((c) => c.scores[t]!));
    best.push(scored.length === 0 ? Number.NaN : top);
    winners.push(scored.filter((c) => c.scores[t] === top).map((c) => c.id));
  }
  return { best, winners };
}

/** Mean over the tasks run (NaN when none). */
export function meanScore(candidate: ScoredCandidate): number {
  return mean(candidate.scores.filter(Number.isFinite));
}

/**
 * The frontier's candidates after removing the dominated ones: a candidate is dominated when every
 * task it wins is also won by another candidate still kept. Candidates are examined weakest first
 * (lowest mean, then oldest), so of two that win exactly the same tasks the stronger — or, at equal
 * means, the newer — stays: an evolved candidate that ties its ancestor is not silently replaced by it.
 */
export function nonDominated(candidates: readonly ScoredCandidate[], front: Frontier = frontier(candidates)): string[] {
  const order = candidates.map((c, i) => ({ id: c.id, i, mean: meanScore(c) }));
  const kept = new Set(front.winners.flat());
  const weakestFirst = order.filter((c) => kept.has(c.id)).sort((a, b) => nanLow(a.mean) - nanLow(b.mean) || a.i - b.i);
  for (const { id } of weakestFirst) {
    const wins = front.winners.filter((w) => w.includes(id));
    if (wins.every((w) => w.some((other) => other !== id && kept.has(other)))) kept.delete(id);
  }
  return order.filter((c) => kept.has(c.id)).map((c) => c.id);
}

/**
 * How many tasks each kept candidate wins (alone or tied): its weight as a parent. A task every
 * kept candidate wins tells them apart in nothing, so it counts for none of them — otherwise, with
 * many tasks every candidate solves, a weak candidate that wins one task by luck would be drawn
 * about as often as one that wins several on its own. (When no task tells them apart, every task counts.)
 */
export function selectionWeights(candidates: readonly ScoredCandidate[]): Map<string, number> {
  const front = frontier(candidates);
  const kept = nonDominated(candidates, front);
  const telling = front.winners.filter((w) => !kept.every((id) => w.includes(id)));
  const tasks = telling.length > 0 ? telling : front.winners;
  return new Map(kept.map((id) => [id, tasks.filter((w) => w.includes(id)).length]));
}

/**
 * A parent drawn from the frontier with probability proportional to the tasks it wins. The draw
 * follows from `seed` and `label` alone, so a run is reproducible and a resumed run draws alike.
 */
export function selectParent(candidates: readonly ScoredCandidate[], seed: number, label: string): string {
  if (candidates.length === 0) throw new RangeError("selectParent needs at least one candidate");
  const weights = [...selectionWeights(candidates)];
  const total = weights.reduce((sum, [, w]) => sum + w, 0);
  // No task was scored yet: nothing to prefer, so the first (the seed).
  if (total === 0) return candidates[0]!.id;
  let draw = randomFor(seed, label).below(total);
  for (const [id, weight] of weights) {
    if (draw < weight) return id;
    draw -= weight;
  }
  return weights.at(-1)![0];
}

/**
 * The best candidate by mean score. Ties go to the newer candidate: every evolved one passed a
 * gate, and returning the seed on a tie would hide it (a complaint about other GEPA ports). The
 * held-out check then publishes it only on a significant gain over the seed.
 */
export function bestByMean(candidates: readonly ScoredCandidate[]): ScoredCandidate {
  return candidates.reduce((best, c) => (nanLow(meanScore(c)) >= nanLow(meanScore(best)) ? c : best));
}

function nanLow(x: number): number {
  return Number.isNaN(x) ? Number.NEGATIVE_INFINITY : x;
}
