/**
 * A step's batch: ended rollouts → the ones that may be trained on (infrastructure failures and
 * rollouts without a reward left out), then → training samples, with rollout-level advantages, only
 * from groups that carry a signal, and (in `async` mode) only from samples recent enough.
 */
import { DEFAULT_PRICES, contextFromRollout, tokenFigures } from "../../adapters/index.js";
import type { AdaptResult, Price, RecordedFinding } from "../../adapters/index.js";
import { spansOf } from "../../store/index.js";
import type { BehaviourCounts, Rollout, TokenFigures } from "../../types/index.js";
import type { AlgorithmContext } from "../algorithm.js";
import { type BehaviourReview, addCounts } from "../behaviour-review.js";
import { rewardOrZero } from "../evaluate.js";
import { callsOfRollout } from "../rollout-tokens.js";
import { type AdvantageOptions, groupAdvantages } from "./advantages.js";
import { type LengthPenalty, lengthPenaltyOf } from "./length-penalty.js";
import type { PolicyVersion, TrainSample } from "./protocol.js";
import { toTrainSamples, trainedTokens } from "./train-samples.js";

/** A rollout that may be trained on, with its spans adapted to token samples. */
export interface KeptRollout {
  rollout: Rollout;
  groupId: string;
  reward: number;
  adapted: AdaptResult;
  /** What its LLM calls spent. */
  tokens: TokenFigures;
}

/** A step's rollouts, read. */
export interface Collected {
  kept: KeptRollout[];
  /** Rollouts that ended. */
  ended: number;
  dropped: { failed: number; noReward: number };
  /** What the first failed rollout said, for the warning when nothing could be trained on. */
  firstError: string | undefined;
  /** What the rollouts left out spent (they spent it all the same). */
  droppedTokens: TokenFigures[];
  /** What the behaviour filter found and did (all zero without one); excluded rollouts are not in `kept`. */
  behaviour: BehaviourCounts;
  /** Rollouts that would have been kept but the behaviour filter excluded from training data. */
  excluded: number;
  /** The first finding whose action is `stop`. */
  stop: RecordedFinding | undefined;
}

/**
 * Reads ended rollouts: which may be trained on, and their token samples. `review` (the behaviour
 * filter's verdicts on them) sets each one's reward — the outcome plus its penalty, which the
 * trajectories carry too — and leaves excluded ones out.
 */
export async function collectRollouts(ctx: AlgorithmContext, ended: readonly Rollout[], dropFailures: readonly string[], review: BehaviourReview, prices: Readonly<Record<string, Price>> = DEFAULT_PRICES): Promise<Collected> {
  const dropKinds = new Set<string>(dropFailures);
  const dropped = { failed: 0, noReward: 0 };
  let firstError: string | undefined;
  let excluded = 0;
  const kept: KeptRollout[] = [];
  const droppedTokens: TokenFigures[] = [];
  const spentBy = async (r: Rollout) => droppedTokens.push(tokenFigures(await callsOfRollout(ctx, r), prices));
  for (const rollout of ended) {
    const attempt = rollout.attempts.at(-1);
    const kind = rollout.status === "cancelled" ? "cancelled" : attempt?.error?.kind;
    if (rollout.status !== "succeeded") firstError ??= attempt?.error ? `${attempt.error.kind}: ${attempt.error.message.split("\n")[0]}` : rollout.status;
    if (rollout.status !== "succeeded" && kind !== undefined && dropKinds.has(kind)) {
      dropped.failed++;
      await spentBy(rollout);
      continue;
    }
    if (rollout.status === "succeeded" && rollout.finalReward === null) {
      dropped.noReward++;
      await spentBy(rollout);
      continue;
    }
    if (!attempt) continue;
    const verdict = review.verdicts.get(rollout.rolloutId);
    if (verdict?.excluded) {
      excluded++;
      await spentBy(rollout);
      continue;
    }
    const reward = verdict?.reward ?? rewardOrZero(rollout);
    const context = { ...contextFromRollout(rollout), ...(verdict !== undefined && verdict.penalty !== 0 ? { finalReward: reward } : {}) };
    const spans = review.spans.get(rollout.rolloutId) ?? (await spansOf(ctx.store, rollout.rolloutId, attempt.attemptId));
    const adapted = ctx.adapter.adapt(spans, context);
    const tokens = tokenFigures(adapted.calls, prices);
    // An agent that failed before its model answered anything (the endpoint unreachable, say)
    // says nothing about the policy: counting it as reward 0 would punish the others in its group.
    if (rollout.status !== "succeeded" && adapted.samples.length === 0) {
      dropped.failed++;
      droppedTokens.push(tokens);
      continue;
    }
    kept.push({ rollout, groupId: context.groupId ?? rollout.rolloutId, reward, adapted, tokens });
  }
  return { kept, ended: ended.length, dropped, firstError, droppedTokens, behaviour: review.counts, excluded, stop: review.stop };
}

/** `extra` (a refill's rollouts) added to `collected`. */
export function addCollected(collected: Collected, extra: Collected): void {
  collected.kept.push(...extra.kept);
  collected.ended += extra.ended;
  collected.dropped.failed += extra.dropped.failed;
  collected.dropped.noReward += extra.dropped.noReward;
  collected.firstError ??= extra.firstError;
  collected.excluded += extra.excluded;
  collected.droppedTokens.push(...extra.droppedTokens);
  collected.behaviour = addCounts(collected.behaviour, extra.behaviour);
  collected.stop ??= extra.stop;
}

/** The groups of `kept` whose rollouts all scored alike (or that kept a single rollout): no signal. */
export function groupsWithoutSignal(kept: readonly KeptRollout[]): { groups: number; noSignal: Set<string> } {
  const { groups, noSignal } = groupAdvantages(
    kept.map((k) => ({ rolloutId: k.rollout.rolloutId, groupId: k.groupId, reward: k.reward })),
    { scaleByStd: false, epsilon: 1 },
  );
  return { groups, noSignal };
}

export interface BatchOptions {
  advantage: AdvantageOptions;
  /** The policy version the update starts from. */
  current: PolicyVersion;
  /** Rollouts with a sample more than this many versions behind `current` are left out; undefined: none is. */
  maxStaleness: number | undefined;
  /** Only rollouts run with this resources snapshot (this start of the run) are judged stale: older ones were judged when they ran. */
  resourcesId: string;
  /** Added to each rollout's reward before advantages; undefined: none. */
  lengthPenalty?: LengthPenalty | undefined;
}

export interface Batch {
  samples: TrainSample[];
  /** Rollouts left out for staleness. */
  stale: number;
  groups: number;
  zeroAdvantageGroups: number;
  meanReward: number | null;
  /** Rollouts whose samples are in the batch. */
  training: number;
  textOnlyCalls: number;
  mergeRatio: number | null;
  /** Mean policy-version lag of the samples behind `current`. */
  staleness: number;
  /** Sampled tokens per unit of reward over the rollouts judged (see `StepRecord.tokensPerReward`); undefined when some call had no token ids. */
  tokensPerReward: number | null | undefined;
  /** What the length penalty did to the rollouts judged; undefined without one. */
  lengthPenalty: { mean: number; penalizedShare: number } | undefined;
}

/**
 * The training samples of a step: stale rollouts left out, advantages within each group, groups
 * without signal left out (their advantages are all zero: they would only dilute the step), and
 * every trained token weighted 1 / (its rollout's trained tokens × the rollouts in the batch).
 */
export function assembleBatch(kept: readonly KeptRollout[], options: BatchOptions): Batch {
  const fresh = kept.filter((k) => !isStale(k, options));
  const penalty = options.lengthPenalty;
  const shaped = new Map(fresh.map((k) => [k.rollout.rolloutId, penalty === undefined ? k.reward : k.reward + lengthPenaltyOf(trainedTokensOf(k), penalty)]));
  const { advantages, groups, zeroAdvantageGroups, noSignal } = groupAdvantages(
    fresh.map((k) => ({ rolloutId: k.rollout.rolloutId, groupId: k.groupId, reward: shaped.get(k.rollout.rolloutId)! })),
    options.advantage,
  );
  const training = fresh.filter((k) => !noSignal.has(k.groupId) && k.adapted.samples.some((s) => trainedTokens(s) > 0));
  const samples = training.flatMap((k) =>
    toTrainSamples(k.adapted.samples, {
      rolloutId: k.rollout.rolloutId,
      groupId: k.groupId,
      advantage: advantages.get(k.rollout.rolloutId) ?? 0,
      reward: k.reward,
      ...(penalty === undefined ? {} : { shapedReward: shaped.get(k.rollout.rolloutId)! }),
      rollouts: training.length,
    }),
  );
  let textOnlyCalls = 0;
  const mergeRatios: number[] = [];
  for (const { adapted } of fresh) {
    for (const d of adapted.diagnostics) {
      textOnlyCalls += d.callsSelected - d.callsWithTokenIds;
      if (d.merge?.mergeRatio !== null && d.merge?.mergeRatio !== undefined) mergeRatios.push(d.merge.mergeRatio);
    }
  }
  return {
    samples,
    stale: kept.length - fresh.length,
    groups,
    zeroAdvantageGroups,
    meanReward: mean(fresh.map((k) => k.reward)),
    training: training.length,
    textOnlyCalls,
    mergeRatio: mean(mergeRatios),
    staleness: mean(samples.map((s) => lag(s.policy_version, options.current))) ?? 0,
    tokensPerReward: textOnlyCalls > 0 ? undefined : tokensPerReward(fresh),
    lengthPenalty: penalty === undefined ? undefined : penaltySummary(fresh.map((k) => shaped.get(k.rollout.rolloutId)! - k.reward)),
  };
}

/** Tokens the policy sampled for a rollout — its samples' mask-1 tokens, what training learns from: the length a length penalty reads. */
export function trainedTokensOf(k: KeptRollout): number {
  return k.adapted.samples.reduce((n, s) => n + trainedTokens(s), 0);
}

function penaltySummary(penalties: readonly number[]): { mean: number; penalizedShare: number } {
  return { mean: mean(penalties) ?? 0, penalizedShare: penalties.length === 0 ? 0 : penalties.filter((p) => p < 0).length / penalties.length };
}

/** Tokens the policy sampled (mask 1) for these rollouts per unit of their total reward; null when they earned none. */
function tokensPerReward(rollouts: readonly KeptRollout[]): number | null {
  const reward = rollouts.reduce((sum, k) => sum + k.reward, 0);
  const tokens = rollouts.reduce((sum, k) => sum + trainedTokensOf(k), 0);
  return reward > 0 ? tokens / reward : null;
}

function isStale(k: KeptRollout, options: BatchOptions): boolean {
  const bound = options.maxStaleness;
  if (bound === undefined || k.rollout.resourcesId !== options.resourcesId) return false;
  return k.adapted.samples.some((s) => lag(s.policyVersion, options.current) > bound);
}

/** How many versions `version` is behind `current` (0 for named versions, which have no order). */
function lag(version: PolicyVersion | undefined, current: PolicyVersion): number {
  return typeof version === "number" && typeof current === "number" ? current - version : 0;
}

function mean(values: readonly number[]): number | null {
  return values.length === 0 ? null : values.reduce((a, b) => a + b, 0) / values.length;
}
