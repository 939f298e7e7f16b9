/**
 * RL: trains the model behind the agent on the agent's own trajectories, through a
 * {@link TrainingBackend}. Each step: `tasksPerStep` training tasks × `groupSize` rollouts, all
 * through the LLM gateway (so every call is recorded with the exact token ids and logprobs the
 * backend's endpoint sampled, stamped with the policy version); spans → merged token samples;
 * groups without signal refilled with further tasks (dynamic-sampling.ts); rollout-level group
 * advantages (batch.ts); one update (policy-updates.ts), with the gateway paused around it in
 * `sync` mode, while the next step's rollouts already run in `async` mode; the new policy version,
 * endpoints and model names installed. Rollouts that failed for infrastructure reasons never
 * reach the batch.
 */
import { randomUUID } from "node:crypto";
import { DEFAULT_PRICES, type Price, sumFigures } from "../../adapters/index.js";
import { type Gateway, startGateway } from "../../gateway/index.js";
import type { EnqueueRequest, TokenFigures } from "../../types/index.js";
import { ConflictError, NotFoundError, ValidationError, parseOrThrow } from "../../types/index.js";
import type { Algorithm, AlgorithmContext } from "../algorithm.js";
import { runRollouts } from "../rollout-batch.js";
import { aggregateTokens } from "../rollout-tokens.js";
import { type Collected, addCollected, assembleBatch, collectRollouts, groupsWithoutSignal, trainedTokensOf } from "./batch.js";
import { reviewRollouts } from "../behaviour-review.js";
import { BehaviourSteps } from "../behaviour-steps.js";
import type { BehaviourStop } from "../../types/index.js";
import { CollapseWatch, RewardRange, refillRequests } from "./dynamic-sampling.js";
import { type ParsedRLOptions, parseRLOptions, type RLOptions } from "./options.js";
import { PolicyUpdates, upstreamsOf } from "./policy-updates.js";
import { BackendInfoSchema, type CheckpointResponse } from "./protocol.js";
import { type RLResult, type StepRecord, describeStep } from "./step-record.js";
import { verdictOf } from "./verdict.js";
import type { RunLog } from "../run-log.js";
import { evaluationEntry, recordedRun, scoreTasks, seededTask, secondsSince } from "../policy-run.js";

export type { RLResult, StepRecord } from "./step-record.js";
export type { Verdict } from "./verdict.js";

/**
 * Reinforcement learning through a training backend. Use as
 * `new Trainer({ algorithm: new RL({ backend }) })`; the agent reads its model with
 * `ctx.llm()` (the gateway's URL for its rollout). See docs/reinforcement-learning.md.
 */
export class RL implements Algorithm<RLResult> {
  readonly name = "rl";
  private readonly options: ParsedRLOptions;

  constructor(options: RLOptions) {
    this.options = parseRLOptions(options);
  }

  async run(ctx: AlgorithmContext): Promise<RLResult> {
    if (ctx.train.length === 0) throw new ValidationError("RL", [{ path: "train", message: "RL needs training tasks" }]);
    const runId = this.options.runId ?? `rl-${randomUUID().slice(0, 8)}`;
    return recordedRun(
      ctx,
      { runId, algorithm: this.name, options: this.options },
      async (log) => {
        const run = await RLRun.start(ctx, this.options, runId, log);
        try {
          return await run.execute();
        } finally {
          await run.close();
        }
      },
      runSummary,
    );
  }
}

/** The run's header summary: what a reader of the runs list needs without reading every step. */
function runSummary(result: Omit<RLResult, "record">) {
  return {
    verdict: result.verdict,
    initialValReward: result.initialValReward,
    finalValReward: result.finalValReward,
    steps: result.steps.length,
    policyVersions: { initial: result.steps[0]?.policyVersion ?? result.policyVersion, final: result.policyVersion },
    checkpoints: result.checkpoints.map((c) => c.checkpoint_id),
    stoppedBecause: result.stoppedBecause,
    ...(result.stoppedBy === undefined ? {} : { stoppedBy: result.stoppedBy }),
    evaluationSeconds: result.evaluationSeconds,
    tokens: result.tokens,
    tokensPerReward: result.tokensPerReward,
  };
}

/** A step's rollouts, read, with what dynamic sampling added. */
interface StepRollouts {
  collected: Collected;
  /** Groups run, refills included. */
  groupsRun: number;
  refill: StepRecord["refill"];
  /** Every group without signal scored the run's best reward: converged, not collapsed. */
  allSolved: boolean;
  seconds: { rollouts: number; adapt: number };
}

class RLRun {
  private readonly steps: StepRecord[] = [];
  private readonly checkpoints: CheckpointResponse[] = [];
  private readonly collapse: CollapseWatch;
  private readonly rewardRange = new RewardRange();
  private readonly behaviour: BehaviourSteps;
  private readonly prices: Readonly<Record<string, Price>>;
  /** What the run's training rollouts spent, and those judged with their rewards (for Σ tokens / Σ reward). */
  private readonly spent: TokenFigures[] = [];
  private readonly judged: Array<{ tokens: TokenFigures; reward: number }> = [];

  private constructor(
    private readonly ctx: AlgorithmContext,
    private readonly options: ParsedRLOptions,
    private readonly log: RunLog,
    private readonly runId: string,
    private readonly gateway: Gateway,
    private readonly ownsGateway: boolean,
    private readonly resourcesId: string,
    private readonly updates: PolicyUpdates,
    private readonly canCheckpoint: boolean,
  ) {
    this.prices = { ...DEFAULT_PRICES, ...options.prices };
    this.collapse = new CollapseWatch(options.dynamicSampling === false ? DEFAULT_COLLAPSE_STEPS : options.dynamicSampling.collapseSteps);
    this.behaviour = new BehaviourSteps(ctx, log);
  }

  static async start(ctx: AlgorithmContext, options: ParsedRLOptions, runId: string, log: RunLog): Promise<RLRun> {
    const info = parseOrThrow(BackendInfoSchema, await options.backend.info(), "backend info");
    const { endpoints, policy_version } = await options.backend.endpoints();
    const policy = { model: info.model, policyVersion: policy_version, sampling: options.sampling };
    const given = "url" in options.gateway ? options.gateway : undefined;
    const where = "url" in options.gateway ? {} : options.gateway;
    const upstreams = upstreamsOf(endpoints, info.capabilities);
    const gateway =
      given ??
      (await startGateway({
        store: ctx.store,
        upstreams,
        policy,
        logger: ctx.logger,
        ...(where.host === undefined ? {} : { host: where.host }),
        port: where.port ?? 0,
      }));
    try {
      if (given) {
        await given.setUpstreams(upstreams);
        given.setPolicy(policy);
      }
      const updates = new PolicyUpdates(options, info, gateway, ctx.logger, policy_version);
      if (options.restore !== undefined) await updates.restore(options.restore);
      // The agent keeps its other resources (prompts); its model now comes through the gateway.
      const resources = { ...(ctx.initialResources?.resources ?? {}), [options.llmResource]: gateway.llmResource() };
      // A fresh id per start: a resumed run has a new gateway URL, and a snapshot never changes.
      const snapshot = await ctx.store.addResources(resources, { resourcesId: `${runId}.resources-${randomUUID().slice(0, 8)}` });
      ctx.progress.note(`RL run ${runId} (${options.mode}): ${info.model} (policy ${updates.version}) via ${endpoints.length} endpoint(s), gateway ${gateway.url}`);
      return new RLRun(ctx, options, log, runId, gateway, given === undefined, snapshot.resourcesId, updates, info.capabilities.checkpoint);
    } catch (error) {
      if (!given) await gateway.close();
      throw error;
    }
  }

  async execute(): Promise<Omit<RLResult, "record">> {
    const { ctx, options, log } = this;
    const evaluating = options.evalEvery > 0 && ctx.val.length > 0;
    const evaluationStarted = performance.now();
    const initial = evaluating ? await this.evaluate(0) : null;
    // Entries are keyed so a resumed run records nothing twice: work an interruption cut short is
    // not recorded, or the resumed run's complete version of it would be skipped as a duplicate.
    if (initial && !ctx.signal.aborted) {
      log.add("evaluation", "evaluation-initial", evaluationEntry("initial", "val", initial));
      await log.flush();
    }
    let evaluationSeconds = secondsSince(evaluationStarted);
    let final = initial;
    // Async: once a step's rollouts are in, the next `lookahead` steps' rollouts start and run
    // while it trains. A step started k steps early is trained at most k versions after it
    // sampled: lookahead = maxStaleness keeps its samples within the bound (0 still looks one step
    // ahead; those samples are then dropped). Starting them only then, not together with the
    // step, keeps a step's refills from queueing behind the next step's rollouts (measured: that
    // was slower than sync).
    const lookahead = options.mode === "async" ? Math.max(1, options.maxStaleness) : 0;
    const inFlight = new Map<number, Promise<StepRollouts>>();
    let stoppedBy: BehaviourStop | undefined;
    for (let step = 1; step <= options.steps && !ctx.signal.aborted; step++) {
      if (!inFlight.has(step)) inFlight.set(step, settledLater(this.collectStep(step)));
      const rollouts = await inFlight.get(step)!;
      inFlight.delete(step);
      for (let next = step + 1; next <= Math.min(options.steps, step + lookahead); next++) {
        // A failure surfaces when its step awaits it, not as an unhandled rejection meanwhile.
        if (!inFlight.has(next)) inFlight.set(next, settledLater(this.collectStep(next)));
      }
      const record = await this.step(step, rollouts);
      if (evaluating && (step % options.evalEvery === 0 || step === options.steps) && !ctx.signal.aborted) {
        const started = performance.now();
        final = await this.evaluate(step);
        record.valReward = mean(final);
        record.seconds.eval = secondsSince(started);
        evaluationSeconds += record.seconds.eval;
      }
      this.steps.push(record);
      ctx.progress.note(describeStep(record, options.steps));
      const stop = this.behaviourAfter(step, record, rollouts);
      // Recorded as soon as the step ends: a reader of the store follows the curves live.
      if (!ctx.signal.aborted) {
        log.add("rl.step", `step-${step}`, record);
        await log.flush();
      }
      if (stop !== undefined) {
        stoppedBy = stop;
        ctx.logger.warn(`RL run ${this.runId}: stopped after step ${step} by behaviour finding ${stop.detector}/${stop.rule} (${stop.severity}): ${stop.message}`);
        await this.cancelAhead([...inFlight.keys()]);
        break;
      }
      const lastStep = step === options.steps;
      if (this.canCheckpoint && ((options.checkpointEvery > 0 && step % options.checkpointEvery === 0) || lastStep)) {
        this.checkpoints.push(await options.backend.checkpoint({ name: `${this.runId}.step${step}` }));
      }
    }
    const evaluated = initial && final && this.steps.some((s) => s.valReward !== undefined) ? { initial, final } : null;
    const verdict = evaluated && verdictOf(evaluated.initial, evaluated.final);
    if (evaluated && !ctx.signal.aborted) log.add("evaluation", "evaluation-final", evaluationEntry("final", "val", evaluated.final));
    if (verdict) ctx.progress.note(`RL run ${this.runId}: ${verdict.summary}`);
    return {
      runId: this.runId,
      steps: this.steps,
      initialValReward: initial && mean(initial),
      finalValReward: final && mean(final),
      verdict,
      policyVersion: this.updates.version,
      checkpoints: this.checkpoints,
      stoppedBecause: ctx.signal.aborted ? "interrupted" : stoppedBy !== undefined ? "behaviour" : "completed",
      ...(stoppedBy === undefined ? {} : { stoppedBy }),
      evaluationSeconds,
      tokens: sumFigures(this.spent),
      tokensPerReward: aggregateTokens(this.judged).tokensPerReward,
    };
  }

  /**
   * In `async` mode the next steps' rollouts already run when a behaviour finding stops the run:
   * they are cancelled, not left queued for no one. (A refill they had started is not known here;
   * it ends as the runners stop.)
   */
  private async cancelAhead(steps: readonly number[]): Promise<void> {
    for (const step of steps) {
      for (const { rolloutId } of this.requestsOf(step)) {
        try {
          await this.ctx.store.cancelRollout(rolloutId!, { reason: "a behaviour finding stopped the training run" });
        } catch (error) {
          // Not enqueued yet (NotFound) or already ended (Conflict): nothing to cancel.
          if (!(error instanceof NotFoundError || error instanceof ConflictError)) throw error;
        }
      }
    }
  }

  /** The behaviour filter after a step (see {@link BehaviourSteps}). */
  private behaviourAfter(step: number, record: StepRecord, rollouts: StepRollouts): BehaviourStop | undefined {
    const { kept } = rollouts.collected;
    const tokens = kept.map(trainedTokensOf);
    const observation = { step, trainReward: record.trainReward, valReward: record.valReward ?? null, outputTokens: tokens.length === 0 ? null : mean(tokens) };
    return this.behaviour.after(`step-${step}`, observation, rollouts.collected.behaviour, rollouts.collected.stop);
  }

  async close(): Promise<void> {
    if (this.ownsGateway) await this.gateway.close();
  }

  /** Builds the step's batch from its rollouts and sends the update. */
  private async step(step: number, rollouts: StepRollouts): Promise<StepRecord> {
    const { ctx, options } = this;
    let started = performance.now();
    const sampledWith = this.updates.version;
    const { collected } = rollouts;
    const batch = assembleBatch(collected.kept, {
      advantage: options.advantage,
      current: sampledWith,
      maxStaleness: options.mode === "async" ? options.maxStaleness : undefined,
      resourcesId: this.resourcesId,
      lengthPenalty: options.lengthPenalty,
    });
    const judged = collected.kept.map((k) => ({ tokens: k.tokens, reward: k.reward }));
    const spent = sumFigures([...judged.map((k) => k.tokens), ...collected.droppedTokens]);
    this.spent.push(spent);
    this.judged.push(...judged);
    if (batch.samples.length === 0 && collected.ended > 0 && collected.kept.length === 0) {
      const { failed, noReward } = collected.dropped;
      ctx.logger.warn(`RL: no rollout of step ${step} gave a training sample (${failed} failed, ${noReward} without reward${collected.firstError ? `; first failure: ${collected.firstError}` : ""})`);
    }
    const adaptSeconds = rollouts.seconds.adapt + secondsSince(started);
    started = performance.now();
    const update = ctx.signal.aborted ? undefined : await this.updates.train(step, batch.samples, ctx.signal);
    const signalGroups = batch.groups - batch.zeroAdvantageGroups;
    const collapsed = this.collapse.observe(signalGroups, rollouts.allSolved, options.dynamicSampling !== false, batch.meanReward);
    if (collapsed) ctx.logger.warn(collapsed);
    return {
      step,
      policyVersion: sampledWith,
      newPolicyVersion: this.updates.version,
      trainReward: batch.meanReward,
      rollouts: collected.ended,
      dropped: { ...collected.dropped, stale: batch.stale },
      groups: rollouts.groupsRun,
      zeroAdvantageShare: rollouts.groupsRun === 0 ? 0 : (rollouts.groupsRun - signalGroups) / rollouts.groupsRun,
      refill: rollouts.refill,
      samples: batch.samples.length,
      samplesPerRollout: batch.training === 0 ? 0 : batch.samples.length / batch.training,
      mergeRatio: batch.mergeRatio,
      textOnlyCalls: batch.textOnlyCalls,
      staleness: batch.staleness,
      seconds: { ...rollouts.seconds, adapt: adaptSeconds, train: secondsSince(started), eval: 0 },
      metrics: update?.metrics ?? {},
      chunks: update?.chunks ?? 0,
      ...(update?.skipped ? { skipped: update.skipped } : {}),
      ...(batch.tokensPerReward === undefined ? {} : { tokensPerReward: batch.tokensPerReward }),
      tokens: spent,
      totalTokensPerReward: aggregateTokens(judged).tokensPerReward,
      ...(batch.lengthPenalty === undefined ? {} : { lengthPenalty: batch.lengthPenalty }),
      ...(ctx.behaviour === undefined ? {} : { behaviour: collected.behaviour }),
    };
  }

  /**
   * Runs the step's groups, then — dynamic sampling — further groups while fewer than
   * `tasksPerStep` carry a signal, up to `maxExtraRounds` rounds.
   */
  private async collectStep(step: number): Promise<StepRollouts> {
    const { ctx, options } = this;
    const timing = { rollouts: 0, adapt: 0 };
    const run = async (requests: EnqueueRequest[]) => {
      let started = performance.now();
      const ended = await runRollouts(ctx, requests);
      timing.rollouts += secondsSince(started);
      started = performance.now();
      const review = await reviewRollouts(ctx, ended);
      const collected = await collectRollouts(ctx, ended, options.dropFailures, review, this.prices);
      timing.adapt += secondsSince(started);
      return collected;
    };
    const requests = this.requestsOf(step);
    ctx.progress.phase(`step ${step}/${options.steps}: ${requests.length} rollouts`, requests.length);
    const collected = await run(requests);
    this.rewardRange.observe(collected.kept.map((k) => k.reward));
    // Groups with a signal, silent ones, and silent ones at the run's best reward (solved: done, not missing signal).
    const tally = () => {
      const { groups, noSignal } = groupsWithoutSignal(collected.kept);
      const rewardOf = new Map(collected.kept.map((k) => [k.groupId, k.reward]));
      const solved = [...noSignal].filter((group) => this.rewardRange.isSolved(rewardOf.get(group) ?? Number.NaN)).length;
      return { signal: groups - noSignal.size, silent: noSignal.size, solved };
    };
    const initialZeroAdvantageShare = (options.tasksPerStep - tally().signal) / options.tasksPerStep;
    const refill = { rounds: 0, groups: 0, rollouts: 0, initialZeroAdvantageShare };
    const maxRounds = options.dynamicSampling === false ? 0 : options.dynamicSampling.maxExtraRounds;
    for (let round = 1; round <= maxRounds && !ctx.signal.aborted; round++) {
      const { signal, solved } = tally();
      const missing = options.tasksPerStep - signal - solved;
      if (missing <= 0) break;
      const more = refillRequests({ train: ctx.train, seed: options.seed, runId: this.runId, step, round, offset: refill.groups, count: missing, groupSize: options.groupSize, resourcesId: this.resourcesId });
      ctx.progress.phase(`step ${step}/${options.steps}: refilling ${missing} group(s) without signal (round ${round})`, more.length);
      const extra = await run(more);
      this.rewardRange.observe(extra.kept.map((k) => k.reward));
      addCollected(collected, extra);
      refill.rounds++;
      refill.groups += missing;
      refill.rollouts += more.length;
    }
    const { silent, solved } = tally();
    return { collected, groupsRun: options.tasksPerStep + refill.groups, refill, allSolved: silent > 0 && solved === silent, seconds: timing };
  }

  /** The step's groups: the training set in a seeded order, epoch after epoch, `groupSize` rollouts per task. */
  private requestsOf(step: number): EnqueueRequest[] {
    const { train } = this.ctx;
    const { tasksPerStep, seed, groupSize } = this.options;
    const requests: EnqueueRequest[] = [];
    for (let k = (step - 1) * tasksPerStep; k < step * tasksPerStep; k++) {
      const task = seededTask(train, seed, k);
      const groupId = `${this.runId}.s${step}.${k}`;
      for (let j = 0; j < groupSize; j++) {
        requests.push({ rolloutId: `${groupId}.${j}`, input: task, mode: "train", resourcesId: this.resourcesId, metadata: { rl: this.runId, step, groupId } });
      }
    }
    return requests;
  }

  /** The reward of one rollout per validation task, in task order (a failed or unfinished rollout scores 0). */
  private async evaluate(step: number): Promise<number[]> {
    const { ctx, options } = this;
    const tasks = ctx.val.slice(0, options.evalTasks ?? ctx.val.length);
    ctx.progress.phase(`evaluating policy ${this.updates.version} on ${tasks.length} validation tasks`, tasks.length);
    return scoreTasks(ctx, tasks, { idOf: (i) => `${this.runId}.v${step}.${i}`, mode: "val", resourcesId: this.resourcesId, metadata: { rl: this.runId, step } });
  }
}

/** How many steps without signal make a collapse when dynamic sampling is off. */
const DEFAULT_COLLAPSE_STEPS = 3;

/** A promise whose rejection is handled later (when awaited), not reported as unhandled meanwhile. */
function settledLater<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

function mean(values: readonly number[]): number {
  return values.reduce((sum, v) => sum + v, 0) / Math.max(1, values.length);
}

