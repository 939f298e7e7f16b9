/**
 * RL: trains the model behind the agent on the agent's own trajectories, through a
 * {@link TrainingBackend}. Each step: `tasksPerStep` training tasks × `groupSize` rollouts, all
 * through the LLM gateway (so every call is recorded with the exact token ids and logprobs the
 * backend's endpoint sampled, stamped with the policy version); spans → merged token samples;
 * rollout-level group advantages; the gateway paused and drained; one update; the new policy
 * version (and endpoints) installed; the gateway resumed. Rollouts that failed for
 * infrastructure reasons never reach the batch.
 */
import { randomUUID } from "node:crypto";
import { contextFromRollout } from "../../adapters/index.js";
import type { AdaptResult } from "../../adapters/index.js";
import { type Gateway, startGateway } from "../../gateway/index.js";
import { spansOf } from "../../store/index.js";
import type { EnqueueRequest, Rollout, Task } from "../../types/index.js";
import { ConflictError, ValidationError } from "../../types/index.js";
import { randomFor } from "../../util/index.js";
import type { Algorithm, AlgorithmContext } from "../algorithm.js";
import { rewardOrZero } from "../evaluate.js";
import { runRollouts } from "../rollout-batch.js";
import { groupAdvantages } from "./advantages.js";
import { type ParsedRLOptions, parseRLOptions, type RLOptions } from "./options.js";
import type { CheckpointResponse, Endpoint, PolicyVersion, TrainSample } from "./protocol.js";
import { toTrainSamples, trainedTokens } from "./train-samples.js";

/** What one step did and measured. */
export interface StepRecord {
  step: number;
  /** The policy the step's rollouts sampled from, and the one its update produced. */
  policyVersion: PolicyVersion;
  newPolicyVersion: PolicyVersion;
  trainReward: number | null;
  /** Mean validation reward after this step's update, when the step evaluated. */
  valReward?: number;
  rollouts: number;
  /** Rollouts left out of the batch: failed for an infrastructure reason, or without a reward. */
  dropped: { failed: number; noReward: number };
  groups: number;
  /** Share of groups whose rollouts all scored alike (no signal). */
  zeroAdvantageShare: number;
  samples: number;
  samplesPerRollout: number;
  /** Mean share of a rollout's calls merged into fewer samples (1: all in one, 0: none merged). */
  mergeRatio: number | null;
  /** Calls recorded without token ids, which cannot be trained on and were left out. */
  textOnlyCalls: number;
  /** Mean policy-version lag of the samples (0 when every call came from the current policy). */
  staleness: number;
  /** Wall time per phase, in seconds. */
  seconds: { rollouts: number; adapt: number; train: number; eval: number };
  /** What the backend reported for the update. */
  metrics: Record<string, number | null>;
  /** The step's update was skipped: no sample carried a learning signal, or the backend had applied it already. */
  skipped?: "no signal" | "already applied";
}

export interface RLResult {
  runId: string;
  steps: StepRecord[];
  /** Mean validation reward before any update. */
  initialValReward: number | null;
  finalValReward: number | null;
  policyVersion: PolicyVersion;
  checkpoints: CheckpointResponse[];
  stoppedBecause: "completed" | "interrupted";
}

/**
 * Reinforcement learning through a training backend. Use as
 * `new Trainer({ algorithm: new RL({ backend }) })`; the agent reads its model with
 * `ctx.llm()` (the gateway's URL for its rollout). See the README, "Reinforcement learning".
 */
export class RL implements Algorithm<RLResult> {
  readonly name = "rl";
  private readonly options: ParsedRLOptions;

  constructor(options: RLOptions) {
    this.options = parseRLOptions(options);
  }

  async run(ctx: AlgorithmContext): Promise<RLResult> {
    if (ctx.train.length === 0) throw new ValidationError("RL", [{ path: "train", message: "RL needs training tasks" }]);
    const run = await RLRun.start(ctx, this.options);
    try {
      return await run.execute();
    } finally {
      await run.close();
    }
  }
}

class RLRun {
  private readonly steps: StepRecord[] = [];
  private readonly checkpoints: CheckpointResponse[] = [];

  private constructor(
    private readonly ctx: AlgorithmContext,
    private readonly options: ParsedRLOptions,
    private readonly runId: string,
    private readonly gateway: Gateway,
    private readonly ownsGateway: boolean,
    private readonly resourcesId: string,
    private policyVersion: PolicyVersion,
    private readonly canCheckpoint: boolean,
  ) {}

  static async start(ctx: AlgorithmContext, options: ParsedRLOptions): Promise<RLRun> {
    const runId = options.runId ?? `rl-${randomUUID().slice(0, 8)}`;
    const info = await options.backend.info();
    const { endpoints, policy_version } = await options.backend.endpoints();
    const policy = { model: info.model, policyVersion: policy_version, sampling: options.sampling };
    const given = "url" in options.gateway ? options.gateway : undefined;
    const where = "url" in options.gateway ? {} : options.gateway;
    const gateway =
      given ??
      (await startGateway({
        store: ctx.store,
        upstreams: upstreamsOf(endpoints, info.capabilities),
        policy,
        logger: ctx.logger,
        ...(where.host === undefined ? {} : { host: where.host }),
        port: where.port ?? 0,
      }));
    try {
      if (given) {
        await given.setUpstreams(upstreamsOf(endpoints, info.capabilities));
        given.setPolicy(policy);
      }
      // The agent keeps its other resources (prompts); its model now comes through the gateway.
      const resources = { ...(ctx.initialResources?.resources ?? {}), [options.llmResource]: gateway.llmResource() };
      // A fresh id per start: a resumed run has a new gateway URL, and a snapshot never changes.
      const snapshot = await ctx.store.addResources(resources, { resourcesId: `${runId}.resources-${randomUUID().slice(0, 8)}` });
      ctx.progress.note(`RL run ${runId}: ${info.model} (policy ${policy_version}) via ${endpoints.length} endpoint(s), gateway ${gateway.url}`);
      return new RLRun(ctx, options, runId, gateway, given === undefined, snapshot.resourcesId, policy_version, info.capabilities.checkpoint);
    } catch (error) {
      if (!given) await gateway.close();
      throw error;
    }
  }

  async execute(): Promise<RLResult> {
    const { ctx, options } = this;
    const evaluating = options.evalEvery > 0 && ctx.val.length > 0;
    const initialValReward = evaluating ? await this.evaluate(0) : null;
    let finalValReward = initialValReward;
    for (let step = 1; step <= options.steps && !ctx.signal.aborted; step++) {
      const record = await this.step(step);
      if (evaluating && (step % options.evalEvery === 0 || step === options.steps) && !ctx.signal.aborted) {
        const started = performance.now();
        record.valReward = await this.evaluate(step);
        record.seconds.eval = seconds(started);
        finalValReward = record.valReward;
      }
      this.steps.push(record);
      ctx.progress.note(describeStep(record, options.steps));
      const lastStep = step === options.steps;
      if (this.canCheckpoint && ((options.checkpointEvery > 0 && step % options.checkpointEvery === 0) || lastStep)) {
        this.checkpoints.push(await options.backend.checkpoint({ name: `${this.runId}.step${step}` }));
      }
    }
    return {
      runId: this.runId,
      steps: this.steps,
      initialValReward,
      finalValReward,
      policyVersion: this.policyVersion,
      checkpoints: this.checkpoints,
      stoppedBecause: ctx.signal.aborted ? "interrupted" : "completed",
    };
  }

  async close(): Promise<void> {
    if (this.ownsGateway) await this.gateway.close();
  }

  private async step(step: number): Promise<StepRecord> {
    const { ctx, options } = this;
    const tasks = this.tasksOf(step);
    const requests: EnqueueRequest[] = tasks.flatMap(({ task, index }) =>
      Array.from({ length: options.groupSize }, (_, j) => ({
        rolloutId: `${this.runId}.s${step}.${index}.${j}`,
        input: task,
        mode: "train" as const,
        resourcesId: this.resourcesId,
        metadata: { rl: this.runId, step, groupId: `${this.runId}.s${step}.${index}` },
      })),
    );
    ctx.progress.phase(`step ${step}/${options.steps}: ${requests.length} rollouts`, requests.length);
    let started = performance.now();
    const ended = await runRollouts(ctx, requests);
    const rolloutSeconds = seconds(started);

    started = performance.now();
    const batch = await this.buildBatch(ended);
    const adaptSeconds = seconds(started);

    const sampledWith = this.policyVersion;
    started = performance.now();
    const update = ctx.signal.aborted ? undefined : await this.update(step, batch.samples);
    const record: StepRecord = {
      step,
      policyVersion: sampledWith,
      newPolicyVersion: this.policyVersion,
      trainReward: batch.meanReward,
      rollouts: ended.length,
      dropped: batch.dropped,
      groups: batch.groups,
      zeroAdvantageShare: batch.groups === 0 ? 0 : batch.zeroAdvantageGroups / batch.groups,
      samples: batch.samples.length,
      samplesPerRollout: batch.kept === 0 ? 0 : batch.samples.length / batch.kept,
      mergeRatio: batch.mergeRatio,
      textOnlyCalls: batch.textOnlyCalls,
      staleness: staleness(batch.samples, sampledWith),
      seconds: { rollouts: rolloutSeconds, adapt: adaptSeconds, train: seconds(started), eval: 0 },
      metrics: update?.metrics ?? {},
      ...(update?.skipped ? { skipped: update.skipped } : {}),
    };
    return record;
  }

  /** The step's tasks: the training set in a seeded order, epoch after epoch. */
  private tasksOf(step: number): Array<{ task: Task; index: number }> {
    const { train } = this.ctx;
    const { tasksPerStep, seed } = this.options;
    const out: Array<{ task: Task; index: number }> = [];
    for (let k = (step - 1) * tasksPerStep; k < step * tasksPerStep; k++) {
      const epoch = Math.floor(k / train.length);
      const order = randomFor(seed, `epoch.${epoch}`).shuffle(train.map((_, i) => i));
      const index = order[k % train.length]!;
      out.push({ task: train[index]!, index: k });
    }
    return out;
  }

  /** Ended rollouts → training samples with rollout-level advantages. */
  private async buildBatch(ended: readonly Rollout[]) {
    const dropKinds = new Set<string>(this.options.dropFailures);
    const dropped = { failed: 0, noReward: 0 };
    let firstError: string | undefined;
    const kept: Array<{ rollout: Rollout; reward: number; adapted: AdaptResult }> = [];
    for (const rollout of ended) {
      const attempt = rollout.attempts.at(-1);
      const kind = rollout.status === "cancelled" ? "cancelled" : attempt?.error?.kind;
      if (rollout.status !== "succeeded") firstError ??= attempt?.error ? `${attempt.error.kind}: ${attempt.error.message.split("\n")[0]}` : rollout.status;
      if (rollout.status !== "succeeded" && kind !== undefined && dropKinds.has(kind)) {
        dropped.failed++;
        continue;
      }
      if (rollout.status === "succeeded" && rollout.finalReward === null) {
        dropped.noReward++;
        continue;
      }
      if (!attempt) continue;
      const adapted = this.ctx.adapter.adapt(await spansOf(this.ctx.store, rollout.rolloutId, attempt.attemptId), contextFromRollout(rollout));
      // An agent that failed before its model answered anything (the endpoint unreachable, say)
      // says nothing about the policy: counting it as reward 0 would punish the others in its group.
      if (rollout.status !== "succeeded" && adapted.samples.length === 0) {
        dropped.failed++;
        continue;
      }
      kept.push({ rollout, reward: rewardOrZero(rollout), adapted });
    }
    const groupOf = (rollout: Rollout) => contextFromRollout(rollout).groupId ?? rollout.rolloutId;
    const { advantages, groups, zeroAdvantageGroups } = groupAdvantages(
      kept.map(({ rollout, reward }) => ({ rolloutId: rollout.rolloutId, groupId: groupOf(rollout), reward })),
      this.options.advantage,
    );
    const samples: TrainSample[] = [];
    let textOnlyCalls = 0;
    const mergeRatios: number[] = [];
    const training = kept.filter(({ adapted }) => adapted.samples.some((s) => trainedTokens(s) > 0)).length;
    for (const { rollout, reward, adapted } of kept) {
      for (const d of adapted.diagnostics) {
        textOnlyCalls += d.callsSelected - d.callsWithTokenIds;
        if (d.merge?.mergeRatio !== null && d.merge?.mergeRatio !== undefined) mergeRatios.push(d.merge.mergeRatio);
      }
      samples.push(...toTrainSamples(adapted.samples, { rolloutId: rollout.rolloutId, groupId: groupOf(rollout), advantage: advantages.get(rollout.rolloutId) ?? 0, reward, rollouts: training }));
    }
    if (samples.length === 0 && ended.length > 0) {
      this.ctx.logger.warn(`RL: no rollout of this step gave a training sample (${dropped.failed} failed, ${dropped.noReward} without reward${firstError ? `; first failure: ${firstError}` : ""})`);
    }
    const meanReward = kept.length === 0 ? null : kept.reduce((sum, k) => sum + k.reward, 0) / kept.length;
    const mergeRatio = mergeRatios.length === 0 ? null : mergeRatios.reduce((a, b) => a + b, 0) / mergeRatios.length;
    return { samples, dropped, groups, zeroAdvantageGroups, meanReward, kept: kept.length, textOnlyCalls, mergeRatio };
  }

  /**
   * One update with the gateway paused: no call reaches the endpoints while their weights change,
   * and calls that arrive meanwhile wait, then go to the new policy with its version stamped.
   */
  private async update(step: number, samples: TrainSample[]): Promise<{ metrics: StepRecord["metrics"]; skipped?: StepRecord["skipped"] }> {
    if (samples.length === 0 || samples.every((s) => s.advantage === 0)) return { metrics: {}, skipped: "no signal" };
    const { backend } = this.options;
    await this.gateway.pause();
    try {
      try {
        const response = await backend.train({ step, policy_version: this.policyVersion, samples }, { signal: this.ctx.signal });
        await this.install(response.policy_version, response.endpoints);
        return { metrics: response.metrics };
      } catch (error) {
        // The backend applied this step before (a resumed run): take its current policy and go on.
        if (!(error instanceof ConflictError)) throw error;
        const current = await backend.endpoints();
        await this.install(current.policy_version, current.endpoints);
        this.ctx.logger.warn(`RL: the backend had already applied step ${step}; continuing from policy ${current.policy_version}`);
        return { metrics: {}, skipped: "already applied" };
      }
    } finally {
      this.gateway.resume();
    }
  }

  private async install(version: PolicyVersion, endpoints: Endpoint[] | undefined): Promise<void> {
    if (endpoints) await this.gateway.setUpstreams(upstreamsOf(endpoints));
    this.gateway.setPolicy({ ...this.gateway.policy, policyVersion: version });
    this.policyVersion = version;
  }

  /** Mean reward of one rollout per validation task (a failed rollout scores 0). */
  private async evaluate(step: number): Promise<number> {
    const { ctx, options } = this;
    const tasks = ctx.val.slice(0, options.evalTasks ?? ctx.val.length);
    ctx.progress.phase(`evaluating policy ${this.policyVersion} on ${tasks.length} validation tasks`, tasks.length);
    const ended = await runRollouts(
      ctx,
      tasks.map((input, i) => ({ rolloutId: `${this.runId}.v${step}.${i}`, input, mode: "val" as const, resourcesId: this.resourcesId, metadata: { rl: this.runId, step, purpose: "evaluate" } })),
    );
    // Over every task asked, so a rollout that never ended (an interruption) counts as 0 too.
    return ended.reduce((sum, r) => sum + rewardOrZero(r), 0) / Math.max(1, tasks.length);
  }
}

function upstreamsOf(endpoints: readonly Endpoint[], capabilities?: { token_ids: boolean; logprobs: boolean }) {
  return endpoints.map((e) => ({
    name: e.name,
    url: e.base_url,
    ...(capabilities ? { capabilities: { tokenIds: capabilities.token_ids, logprobs: capabilities.logprobs } } : {}),
  }));
}

/** Mean lag of the samples behind `current`, for numeric versions (named versions count as current). */
function staleness(samples: readonly TrainSample[], current: PolicyVersion): number {
  if (typeof current !== "number" || samples.length === 0) return 0;
  const lags = samples.map((s) => (typeof s.policy_version === "number" ? current - s.policy_version : 0));
  return lags.reduce((a, b) => a + b, 0) / lags.length;
}

function seconds(since: number): number {
  return Math.round(performance.now() - since) / 1000;
}

function describeStep(r: StepRecord, steps: number): string {
  const parts = [
    `step ${r.step}/${steps}`,
    `train reward ${r.trainReward === null ? "n/a" : r.trainReward.toFixed(3)}`,
    ...(r.valReward === undefined ? [] : [`val ${r.valReward.toFixed(3)}`]),
    `${Math.round(r.zeroAdvantageShare * 100)}% groups without signal`,
    `${r.samples} samples`,
    `policy ${r.newPolicyVersion}`,
    ...(r.skipped ? [`update skipped (${r.skipped})`] : []),
    ...(r.dropped.failed + r.dropped.noReward > 0 ? [`${r.dropped.failed + r.dropped.noReward} rollouts dropped`] : []),
  ];
  return parts.join(" · ");
}
