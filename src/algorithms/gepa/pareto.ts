/**
 * The Pareto frontier of per-task best scores, and parent selection from it (GEPA, arXiv
 * 2507.19457, §3.3). A candidate stays a possible parent while it is best — alone or tied — on at
 * least one validation task that no better-placed candidate covers, so a candidate that wins a
 * subset of tasks is kept even when its mean is lower. Pure functions: the loop passes scores in.
 *
 * With tokens as a second objective (a candidate's `tokens` given), "best on a task" becomes "not
 * dominated on it": no other candidate scores at least as well with at most as many tokens, and
 * strictly better on one. A cheaper candidate with an equal score then wins the task too; one
 * worse on both does not. Without `tokens` this is the plain rule (the top score wins).
 */
import { randomFor } from "../../util/index.js";
import { mean } from "../stats.js";

/** A candidate's score on each Pareto validation task, by task index (every candidate on every task). */
export interface ScoredCandidate {
  id: string;
  /** Rewards in task order; a task not run is NaN and counts for nobody. */
  scores: readonly number[];
  /**
   * Tokens its rollout spent on each task, in task order: given, they are the second objective.
   * NaN where unknown: that pair of candidates is then compared on the score alone.
   */
  tokens?: readonly number[];
}

export interface Frontier {
  /** The best score on each task. */
  best: number[];
  /** Who is not dominated on each task (one objective: who reaches the best score; ties: all of them, in candidate order). */
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
    winners.push(scored.filter((c) => !scored.some((d) => d !== c && dominates(d, c, t))).map((c) => c.id));
  }
  return { best, winners };
}

/** Whether `d` dominates `c` on task `t`: at least as good on both objectives, better on one. */
function dominates(d: ScoredCandidate, c: ScoredCandidate, t: number): boolean {
  const ds = d.scores[t]!;
  const cs = c.scores[t]!;
  const dt = d.tokens?.[t];
  const ct = c.tokens?.[t];
  if (dt === undefined || ct === undefined || !Number.isFinite(dt) || !Number.isFinite(ct)) return ds > cs;
  return ds >= cs && dt <= ct && (ds > cs || dt < ct);
}

/** Whether two candidates reached the same result on task `t` (tokens compared only where both are known). */
function samePoint(a: ScoredCandidate, b: ScoredCandidate, t: number): boolean {
  const at = a.tokens?.[t];
  const bt = b.tokens?.[t];
  const tokensKnown = at !== undefined && bt !== undefined && Number.isFinite(at) && Number.isFinite(bt);
  return a.scores[t] === b.scores[t] && (!tokensKnown || at === bt);
}

/** Mean over the tasks run (NaN when none). */
export function meanScore(candidate: ScoredCandidate): number {
  return mean(candidate.scores.filter(Number.isFinite));
}

/**
 * The frontier's candidates after removing the dominated ones: a candidate is dominated when every
 * task it wins is also won by another candidate still kept, with the same result there (the same
 * score, and with tokens the same count: a co-winner that trades score for tokens is no substitute).
 * Candidates are examined weakest first (lowest mean, then oldest), so of two that win exactly the
 * same tasks the stronger — or, at equal means, the newer — stays: an evolved candidate that ties
 * its ancestor is not silently replaced by it.
 */
export function nonDominated(candidates: readonly ScoredCandidate[], front: Frontier = frontier(candidates)): string[] {
  const order = candidates.map((c, i) => ({ id: c.id, i, mean: meanScore(c) }));
  const byId = new Map(candidates.map((c) => [c.id, c]));
  const kept = new Set(front.winners.flat());
  const weakestFirst = order.filter((c) => kept.has(c.id)).sort((a, b) => nanLow(a.mean) - nanLow(b.mean) || a.i - b.i);
  for (const { id } of weakestFirst) {
    const self = byId.get(id)!;
    const covered = front.winners.every((w, t) => !w.includes(id) || w.some((other) => other !== id && kept.has(other) && samePoint(byId.get(other)!, self, t)));
    if (covered) kept.delete(id);
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

/** Mean tokens over the tasks where they are known (NaN when nowhere). */
export function meanTokens(candidate: ScoredCandidate): number {
  return mean((candidate.tokens ?? []).filter(Number.isFinite));
}

/**
 * The final pick with tokens as a second objective. With `tokenWeight` (reward given up per 1000
 * tokens), the highest mean reward − tokenWeight × mean tokens / 1000. Without it, the best mean
 * reward, ties by fewer mean tokens, then the newer candidate (as {@link bestByMean}).
 */
export function bestByRewardAndTokens(candidates: readonly ScoredCandidate[], tokenWeight: number | undefined): ScoredCandidate {
  const tokensOf = (c: ScoredCandidate) => {
    const t = meanTokens(c);
    return Number.isNaN(t) ? Number.POSITIVE_INFINITY : t;
  };
  if (tokenWeight !== undefined) {
    // A weight of 0 ignores tokens, even unknown ones (0 × ∞ would be NaN).
    const value = (c: ScoredCandidate) => nanLow(meanScore(c)) - (tokenWeight === 0 ? 0 : (tokenWeight * tokensOf(c)) / 1000);
    return candidates.reduce((best, c) => (value(c) >= value(best) ? c : best));
  }
  return candidates.reduce((best, c) => {
    const byScore = nanLow(meanScore(c)) - nanLow(meanScore(best));
    if (byScore !== 0) return byScore > 0 ? c : best;
    return tokensOf(c) <= tokensOf(best) ? c : best;
  });
}

function nanLow(x: number): number {
  return Number.isNaN(x) ? Number.NEGATIVE_INFINITY : x;
}
