/**
 * Every rollout an optimizer run (APO, GEPA) makes goes through here: named by a stable id (so a resumed run finds
 * what it ran before instead of running it again), checked against the budget before it is
 * enqueued, priced after it ends from the token usage its LLM spans recorded, and reviewed by the
 * behaviour filter when the trainer has one — its verdicts are what {@link MeteredRollouts.rewardOf}
 * and {@link MeteredRollouts.trainable} answer with.
 */
import { DEFAULT_PRICES, type Price, type RecordedFinding, tokenFigures } from "../adapters/index.js";
import type { BehaviourCounts, BehaviourEntry, EnqueueRequest, Rollout, RolloutStatus, TokenFigures } from "../types/index.js";
import type { AlgorithmContext } from "./algorithm.js";
import type { Budget, BudgetLimit } from "./budget.js";
import { type RolloutVerdict, addCounts, emptyCounts, reviewRollouts, stopOf } from "./behaviour-review.js";
import { runRollouts } from "./rollout-batch.js";
import { rewardOrZero } from "./evaluate.js";
import { aggregateTokens, callsOfRollout } from "./rollout-tokens.js";

export type MeteredResult = { ended: Rollout[]; stoppedBy?: undefined } | { ended?: undefined; stoppedBy: BudgetLimit };

export class MeteredRollouts {
  /** Rollouts this run found in the store from an earlier, interrupted run and did not run again. */
  reused = 0;
  /** Each ended rollout's token figures and reward (failed: 0), by rollout id. */
  private readonly spent = new Map<string, { tokens: TokenFigures; reward: number }>();
  /** The first behaviour finding whose action is `stop`: the run ends after its current round. */
  behaviourStop: RecordedFinding | undefined;
  private readonly verdicts = new Map<string, RolloutVerdict>();
  /** Behaviour counts since the last {@link takeBehaviour}. */
  private counts: BehaviourCounts = emptyCounts();

  private constructor(
    private readonly ctx: AlgorithmContext,
    private readonly runId: string,
    private readonly budget: Budget,
    /** Status of every rollout of this run the store had when the run (re)started. */
    private readonly existing: ReadonlyMap<string, RolloutStatus>,
    private readonly prices: Readonly<Record<string, Price>>,
  ) {}

  static async open(ctx: AlgorithmContext, runId: string, budget: Budget, prices: Readonly<Record<string, Price>> = DEFAULT_PRICES): Promise<MeteredRollouts> {
    const existing = new Map<string, RolloutStatus>();
    let cursor: string | undefined;
    do {
      const page = await ctx.store.queryRollouts({ idPrefix: `${runId}.`, limit: 1000, ...(cursor ? { cursor } : {}) });
      for (const rollout of page.items) existing.set(rollout.rolloutId, rollout.status);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return new MeteredRollouts(ctx, runId, budget, existing, prices);
  }

  /** How many rollouts of this run the store already had. */
  get found(): number {
    return this.existing.size;
  }

  /**
   * The rollout id for `key`. A rollout an interrupted run left cancelled cannot be enqueued again
   * under its id, so it gets the next free `.rN` suffix and runs afresh.
   */
  idFor(key: string): string {
    const base = `${this.runId}.${key}`;
    let id = base;
    for (let n = 2; this.existing.get(id) === "cancelled"; n++) id = `${base}.r${n}`;
    return id;
  }

  /**
   * Runs these rollouts (ids from {@link idFor}) unless that would pass a budget. Every rollout
   * counts against `maxRollouts`, also one reused from an earlier run: a run's limits hold across
   * its resumptions.
   */
  async run(requests: readonly EnqueueRequest[]): Promise<MeteredResult> {
    if (requests.length === 0) return { ended: [] };
    const stoppedBy = this.budget.wouldExceedRollouts(requests.length);
    if (stoppedBy) return { stoppedBy };
    this.budget.addRollouts(requests.length);
    // APO's phases learn their size here (an evaluation's rungs are known one at a time).
    this.ctx.progress.expect(requests.length);
    this.reused += requests.filter((r) => r.rolloutId !== undefined && this.existing.has(r.rolloutId)).length;
    const ended = await runRollouts(this.ctx, requests);
    for (const rollout of ended) await this.price(rollout);
    if (this.ctx.behaviour !== undefined) {
      const review = await reviewRollouts(this.ctx, ended);
      for (const [id, verdict] of review.verdicts) this.verdicts.set(id, verdict);
      this.counts = addCounts(this.counts, review.counts);
      this.behaviourStop ??= review.stop;
    }
    return { ended };
  }

  /** A rollout's token figures (undefined until it ended in a run of this process). */
  tokensOf(rolloutId: string): TokenFigures | undefined {
    return this.spent.get(rolloutId)?.tokens;
  }

  /** These rollouts' summed figures and Σ tokens / Σ reward (those not ended here left out). */
  tokensOfMany(rolloutIds: readonly string[]): { tokens: TokenFigures; tokensPerReward: number | null } {
    return aggregateTokens(rolloutIds.flatMap((id) => this.spent.get(id) ?? []));
  }

  /** Every rollout this run ended (in this process): summed figures and Σ tokens / Σ reward. */
  totals(): { tokens: TokenFigures; tokensPerReward: number | null } {
    return aggregateTokens([...this.spent.values()]);
  }

  /** What candidates are compared on: the outcome reward plus its behaviour penalty (0 for a failed rollout, as without a filter). */
  rewardOf(rollout: Rollout): number {
    return this.verdicts.get(rollout.rolloutId)?.reward ?? rewardOrZero(rollout);
  }

  /** The rollouts an optimizer may learn from (critiques, reflections): those the behaviour filter did not exclude. */
  trainable(rollouts: readonly Rollout[]): Rollout[] {
    return rollouts.filter((r) => this.verdicts.get(r.rolloutId)?.excluded !== true);
  }

  /** The `behaviour` entry for the round that just ended (counts since the last call), or undefined without a filter. */
  takeBehaviour(label: string): BehaviourEntry | undefined {
    if (this.ctx.behaviour === undefined) return undefined;
    const counts = this.counts;
    this.counts = emptyCounts();
    return { label, counts, runFindings: [], stop: this.behaviourStop === undefined ? null : stopOf(this.behaviourStop) };
  }

  /**
   * Adds what the agent's own LLM calls cost to the budget, by the usage its spans recorded (calls
   * seen by two layers count once), and keeps the rollout's token figures.
   */
  private async price(rollout: Rollout): Promise<void> {
    const calls = await callsOfRollout(this.ctx, rollout);
    if (rollout.attempts.length === 0) return;
    this.budget.addRolloutUsage(calls.flatMap((call) => (call.usage ? [{ model: call.model ?? "unknown", ...call.usage }] : [])));
    this.spent.set(rollout.rolloutId, { tokens: tokenFigures(calls, this.prices), reward: rewardOrZero(rollout) });
  }
}
