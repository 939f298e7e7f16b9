/**
 * SFT: supervised fine-tuning of the model behind the agent on its best trajectories, through a
 * {@link TrainingBackend} with `supervise()`. Each round: `tasksPerRound` training tasks ×
 * `samplesPerTask` rollouts, through the LLM gateway (so every call is recorded with the exact
 * token ids the backend's endpoint sampled, stamped with the policy version) — or, distilling,
 * through a gateway in front of a teacher model; the filters keep what is worth imitating
 * (filter.ts); the kept trajectories become supervised samples through the adapters (samples.ts);
 * one supervised update (the gateway paused around it); the new policy version installed; the
 * student evaluated on `val`. Rejection sampling (expert iteration, STaR) when the policy samples
 * itself; distillation with a teacher. The verdict compares the final policy with the initial one
 * task by task, on `test` when the trainer was given one (as APO's held-out check), else on `val`.
 */
import { randomUUID } from "node:crypto";
import { type Gateway, startGateway } from "../../gateway/index.js";
import type { BehaviourStop, EnqueueRequest, Task, TokenFigures } from "../../types/index.js";
import { DEFAULT_PRICES, type Price, sumFigures } from "../../adapters/index.js";
import { aggregateTokens } from "../rollout-tokens.js";
import { ValidationError, parseOrThrow } from "../../types/index.js";
import type { Algorithm, AlgorithmContext } from "../algorithm.js";
import { evaluationEntry, recordedRun, scoreTasks, seededTask, secondsSince } from "../policy-run.js";
import { runRollouts } from "../rollout-batch.js";
import type { RunLog } from "../run-log.js";
import { mean } from "../stats.js";
import { BackendInfoSchema, type CheckpointResponse, type Collected, type ParsedBackendInfo, PolicyUpdates, collectRollouts, trainedTokensOf, upstreamsOf, verdictOf } from "../rl/index.js";
import { reviewRollouts } from "../behaviour-review.js";
import { BehaviourSteps } from "../behaviour-steps.js";
import { filterRollouts } from "./filter.js";
import { type ParsedSFTOptions, parseSFTOptions, type SFTOptions } from "./options.js";
import { type RoundRecord, type SFTResult, type SFTVerdict, describeRound } from "./round-record.js";
import { chatSamples, sampleKindOf, textOnlyCalls, tokenSamples } from "./samples.js";

export type { SFTResult, RoundRecord as SFTRoundRecord, SFTVerdict } from "./round-record.js";

/** Failures of these kinds say nothing about the policy: never judged, never imitated. */
const INFRASTRUCTURE_FAILURES = ["infra_error", "unresponsive", "timeout", "cancelled"];

/**
 * Supervised fine-tuning from the best trajectories (rejection sampling), or from a teacher's
 * (distillation). Use as `new Trainer({ algorithm: new SFT({ backend }) })`; the agent reads its
 * model with `ctx.llm()`. See docs/sft.md.
 */
export class SFT implements Algorithm<SFTResult> {
  readonly name = "sft";
  private readonly options: ParsedSFTOptions;

  constructor(options: SFTOptions) {
    this.options = parseSFTOptions(options);
  }

  async run(ctx: AlgorithmContext): Promise<SFTResult> {
    if (ctx.train.length === 0) throw new ValidationError("SFT", [{ path: "train", message: "SFT needs training tasks" }]);
    const runId = this.options.runId ?? `sft-${randomUUID().slice(0, 8)}`;
    return recordedRun(
      ctx,
      { runId, algorithm: this.name, options: this.options },
      async (log) => {
        const run = await SFTRun.start(ctx, this.options, runId, log);
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

function runSummary(result: Omit<SFTResult, "record">) {
  return {
    verdict: result.verdict,
    initialValReward: result.initialValReward,
    finalValReward: result.finalValReward,
    rounds: result.rounds.length,
    trainingRollouts: result.trainingRollouts,
    tokens: result.tokens,
    tokensPerReward: result.tokensPerReward,
    policyVersions: { initial: result.rounds[0]?.policyVersion ?? result.policyVersion, final: result.policyVersion },
    checkpoints: result.checkpoints.map((c) => c.checkpoint_id),
    stoppedBecause: result.stoppedBecause,
    ...(result.stoppedBy === undefined ? {} : { stoppedBy: result.stoppedBy }),
    evaluationSeconds: result.evaluationSeconds,
  };
}

/** The gateways a run samples through: the student's (evaluation, and collection unless distilling) and the teacher's. */
interface Sources {
  student: Gateway;
  teacher: Gateway | undefined;
  /** Resources snapshots: evaluation (the student) and collection (the teacher when distilling). */
  evaluateWith: string;
  collectWith: string;
}

/** What the behaviour filter's review of a round found: its counts, the finding that stops the run, the mean trained tokens per rollout judged. */
interface RoundReview {
  counts: Collected["behaviour"];
  stop: Collected["stop"];
  outputTokens: number | null;
}

class SFTRun {
  private readonly rounds: RoundRecord[] = [];
  private readonly checkpoints: CheckpointResponse[] = [];
  private trainingRollouts = 0;
  private readonly behaviour: BehaviourSteps;
  private readonly prices: Readonly<Record<string, Price>>;
  /** What the run's collection rollouts spent, and those judged with their rewards (for Σ tokens / Σ reward). */
  private readonly spent: TokenFigures[] = [];
  private readonly judged: Array<{ tokens: TokenFigures; reward: number }> = [];

  private constructor(
    private readonly ctx: AlgorithmContext,
    private readonly options: ParsedSFTOptions,
    private readonly log: RunLog,
    private readonly runId: string,
    private readonly info: ParsedBackendInfo,
    private readonly sources: Sources,
    private readonly updates: PolicyUpdates,
  ) {
    this.behaviour = new BehaviourSteps(ctx, log);
    this.prices = { ...DEFAULT_PRICES, ...options.prices };
  }

  static async start(ctx: AlgorithmContext, options: ParsedSFTOptions, runId: string, log: RunLog): Promise<SFTRun> {
    const info = parseOrThrow(BackendInfoSchema, await options.backend.info(), "backend info");
    checkCapabilities(info, options);
    const { endpoints, policy_version } = await options.backend.endpoints();
    const policy = { model: info.model, policyVersion: policy_version, sampling: options.sampling };
    const student = await startGateway({ store: ctx.store, upstreams: upstreamsOf(endpoints, info.capabilities), policy, logger: ctx.logger, port: 0 });
    let teacher: Gateway | undefined;
    try {
      teacher = options.teacher === undefined ? undefined : await startTeacherGateway(ctx, options);
      const updates = new PolicyUpdates({ backend: options.backend, mode: "sync", hyperparameters: options.hyperparameters, restore: undefined }, info, student, ctx.logger, policy_version, "SFT");
      const snapshot = async (gateway: Gateway, role: string) => {
        // The agent keeps its other resources (prompts); its model now comes through a gateway.
        const resources = { ...(ctx.initialResources?.resources ?? {}), [options.llmResource]: gateway.llmResource() };
        return (await ctx.store.addResources(resources, { resourcesId: `${runId}.${role}-${randomUUID().slice(0, 8)}` })).resourcesId;
      };
      const evaluateWith = await snapshot(student, "student");
      const collectWith = teacher === undefined ? evaluateWith : await snapshot(teacher, "teacher");
      const source = teacher === undefined ? "rejection sampling from the policy" : `distillation from ${options.teacher!.model}`;
      ctx.progress.note(`SFT run ${runId} (${source}): ${info.model} (policy ${updates.version}) via ${endpoints.length} endpoint(s), gateway ${student.url}`);
      return new SFTRun(ctx, options, log, runId, info, { student, teacher, evaluateWith, collectWith }, updates);
    } catch (error) {
      await teacher?.close();
      await student.close();
      throw error;
    }
  }

  async execute(): Promise<Omit<SFTResult, "record">> {
    const { ctx, options, log } = this;
    const evaluating = options.evalEvery > 0 && ctx.val.length > 0;
    const started = performance.now();
    const initial = evaluating ? await this.evaluate("val", 0) : null;
    const initialTest = ctx.test.length > 0 ? await this.evaluate("test", 0) : null;
    // Entries are keyed, so a resumed run records nothing twice; work an interruption cut short is not recorded.
    if (!ctx.signal.aborted) {
      if (initial) log.add("evaluation", "evaluation-initial", evaluationEntry("initial", "val", initial));
      if (initialTest) log.add("evaluation", "evaluation-initial-test", evaluationEntry("initial", "test", initialTest));
      await log.flush();
    }
    let evaluationSeconds = secondsSince(started);
    let final = initial;
    let stoppedBy: BehaviourStop | undefined;
    for (let round = 1; round <= options.rounds && !ctx.signal.aborted; round++) {
      const { record, reviewed } = await this.round(round);
      if (evaluating && (round % options.evalEvery === 0 || round === options.rounds) && !ctx.signal.aborted) {
        const evalStarted = performance.now();
        final = await this.evaluate("val", round);
        record.stats.valReward = mean(final);
        record.seconds.eval = secondsSince(evalStarted);
        evaluationSeconds += record.seconds.eval;
      }
      this.rounds.push(record);
      ctx.progress.note(describeRound(record, options.rounds));
      const stop = this.behaviour.after(`round-${round}`, { step: round, trainReward: record.stats.trainReward, valReward: record.stats.valReward ?? null, outputTokens: reviewed.outputTokens }, reviewed.counts, reviewed.stop);
      if (!ctx.signal.aborted) {
        log.add("sft.round", `round-${round}`, record);
        await log.flush();
      }
      if (stop !== undefined) {
        stoppedBy = stop;
        ctx.logger.warn(`SFT run ${this.runId}: stopped after round ${round} by behaviour finding ${stop.detector}/${stop.rule} (${stop.severity}): ${stop.message}`);
        break;
      }
      const last = round === options.rounds;
      if (this.info.capabilities.checkpoint && ((options.checkpointEvery > 0 && round % options.checkpointEvery === 0) || last)) {
        this.checkpoints.push(await options.backend.checkpoint({ name: `${this.runId}.round${round}` }));
      }
    }
    const testStarted = performance.now();
    const finalTest = initialTest && !ctx.signal.aborted ? await this.evaluate("test", options.rounds) : null;
    evaluationSeconds += secondsSince(testStarted);
    const verdict = this.verdict(initial, final, initialTest, finalTest);
    if (!ctx.signal.aborted) {
      if (initial && final && this.rounds.some((r) => r.stats.valReward !== undefined)) log.add("evaluation", "evaluation-final", evaluationEntry("final", "val", final));
      if (finalTest) log.add("evaluation", "evaluation-final-test", evaluationEntry("final", "test", finalTest));
    }
    if (verdict) ctx.progress.note(`SFT run ${this.runId}: ${verdict.summary} (on ${verdict.on})`);
    return {
      runId: this.runId,
      rounds: this.rounds,
      initialValReward: initial && mean(initial),
      finalValReward: final && mean(final),
      verdict,
      policyVersion: this.updates.version,
      checkpoints: this.checkpoints,
      trainingRollouts: this.trainingRollouts,
      tokens: sumFigures(this.spent),
      tokensPerReward: aggregateTokens(this.judged).tokensPerReward,
      stoppedBecause: ctx.signal.aborted ? "interrupted" : stoppedBy !== undefined ? "behaviour" : "completed",
      ...(stoppedBy === undefined ? {} : { stoppedBy }),
      evaluationSeconds,
    };
  }

  async close(): Promise<void> {
    await this.sources.teacher?.close();
    await this.sources.student.close();
  }

  /** On `test` when it was scored before and after (never trained or selected on), else on `val` when a round evaluated. */
  private verdict(initial: number[] | null, final: number[] | null, initialTest: number[] | null, finalTest: number[] | null): SFTVerdict | null {
    if (initialTest && finalTest) return { ...verdictOf(initialTest, finalTest), on: "test" };
    if (initial && final && this.rounds.some((r) => r.stats.valReward !== undefined)) return { ...verdictOf(initial, final), on: "val" };
    return null;
  }

  /** One round: collect, filter, build samples, update; with what the behaviour filter's review found (for the run's step-by-step detectors and its stop). */
  private async round(round: number): Promise<{ record: RoundRecord; reviewed: RoundReview }> {
    const { ctx, options } = this;
    const adapter = options.filter.agents === undefined ? ctx.adapter : ctx.adapter.with({ agents: options.filter.agents });
    const requests = this.requestsOf(round);
    ctx.progress.phase(`round ${round}/${options.rounds}: ${requests.length} rollouts${this.sources.teacher ? " (teacher)" : ""}`, requests.length);
    let started = performance.now();
    const ended = await runRollouts(ctx, requests);
    this.trainingRollouts += ended.length;
    const rolloutSeconds = secondsSince(started);
    started = performance.now();
    // The behaviour filter's verdicts: excluded rollouts are left out (and counted), penalties lower the rewards the threshold and top-k see.
    const review = await reviewRollouts(ctx, ended);
    const collected = await collectRollouts({ ...ctx, adapter }, ended, INFRASTRUCTURE_FAILURES, review, this.prices);
    const judged = collected.kept.map((k) => ({ tokens: k.tokens, reward: k.reward }));
    const spent = sumFigures([...judged.map((k) => k.tokens), ...collected.droppedTokens]);
    this.spent.push(spent);
    this.judged.push(...judged);
    const trained = collected.kept.map(trainedTokensOf);
    const reviewed: RoundReview = { counts: collected.behaviour, stop: collected.stop, outputTokens: trained.length === 0 ? null : mean(trained) };
    const { kept, counts } = filterRollouts(collected, { minReward: options.filter.minReward, topK: options.filter.topK });
    const sampledWith = this.updates.version;
    const record: RoundRecord = {
      round,
      policyVersion: sampledWith,
      newPolicyVersion: sampledWith,
      source: this.sources.teacher ? "teacher" : "policy",
      rollouts: ended.length,
      filter: counts,
      stats: { trainReward: meanOrNull(judged.map((k) => k.reward)), keptReward: meanOrNull(kept.map((k) => k.reward)), keptShare: counts.ended === 0 ? null : counts.kept / counts.ended, trainedTokens: null },
      samples: { kind: "none", count: 0 },
      textOnlyCalls: textOnlyCalls(kept),
      seconds: { rollouts: rolloutSeconds, adapt: 0, train: 0, eval: 0 },
      metrics: {},
      chunks: 0,
      ...(ctx.behaviour === undefined ? {} : { behaviour: collected.behaviour }),
      tokens: spent,
      tokensPerReward: aggregateTokens(judged).tokensPerReward,
    };
    if (kept.length === 0 || ctx.signal.aborted) {
      record.seconds.adapt = secondsSince(started);
      if (!ctx.signal.aborted) {
        ctx.logger.warn(`SFT: no rollout of round ${round} passed the filters (${describeCounts(counts)}${collected.firstError ? `; first failure: ${collected.firstError}` : ""}); no update this round`);
        record.skipped = "nothing kept";
      }
      return { record, reviewed };
    }
    const kind = sampleKindOf(kept, options.samples, this.info.capabilities);
    const batch = kind === "tokens" ? { samples: tokenSamples(kept) } : { chat: await chatSamples(ctx.store, adapter, kept) };
    const count = (batch.samples?.length ?? 0) + (batch.chat?.length ?? 0);
    record.samples = { kind, count };
    record.stats.trainedTokens = kind === "tokens" ? kept.reduce((n, k) => n + trainedTokensOf(k), 0) : null;
    record.seconds.adapt = secondsSince(started);
    if (count === 0) {
      ctx.logger.warn(`SFT: the ${kept.length} rollout(s) kept in round ${round} hold no model output to learn; no update this round`);
      record.skipped = "nothing kept";
      return { record, reviewed };
    }
    started = performance.now();
    const update = await this.updates.supervise(round, batch, ctx.signal);
    record.seconds.train = secondsSince(started);
    record.newPolicyVersion = this.updates.version;
    record.metrics = update.metrics;
    record.chunks = update.chunks;
    if (update.skipped === "already applied") record.skipped = "already applied";
    return { record, reviewed };
  }

  /** The round's groups: the training set in a seeded order, epoch after epoch, `samplesPerTask` rollouts per task. */
  private requestsOf(round: number): EnqueueRequest[] {
    const { train } = this.ctx;
    const { tasksPerRound, seed, samplesPerTask } = this.options;
    const requests: EnqueueRequest[] = [];
    for (let k = (round - 1) * tasksPerRound; k < round * tasksPerRound; k++) {
      const task = seededTask(train, seed, k);
      const groupId = `${this.runId}.r${round}.${k}`;
      for (let j = 0; j < samplesPerTask; j++) {
        requests.push({ rolloutId: `${groupId}.${j}`, input: task, mode: "train", resourcesId: this.sources.collectWith, metadata: { sft: this.runId, round, groupId } });
      }
    }
    return requests;
  }

  /** The student's reward on one rollout per task of the split, in task order (a failed or unfinished rollout scores 0). */
  private async evaluate(split: "val" | "test", round: number): Promise<number[]> {
    const { ctx, options } = this;
    const tasks: readonly Task[] = split === "val" ? ctx.val.slice(0, options.evalTasks ?? ctx.val.length) : ctx.test;
    ctx.progress.phase(`evaluating policy ${this.updates.version} on ${tasks.length} ${split === "val" ? "validation" : "test"} tasks`, tasks.length);
    const prefix = `${this.runId}.${split === "val" ? "v" : "test"}${round}`;
    return scoreTasks(ctx, tasks, { idOf: (i) => `${prefix}.${i}`, mode: split, resourcesId: this.sources.evaluateWith, metadata: { sft: this.runId, round } });
  }
}

/** What the options ask of the backend that it must say it can do. */
function checkCapabilities(info: ParsedBackendInfo, options: ParsedSFTOptions): void {
  const { supervised, supervised_chat } = info.capabilities;
  if (!supervised && !supervised_chat) {
    throw new ValidationError("SFT options", [{ path: "backend", message: "the backend takes no supervised steps (info().capabilities.supervised and supervised_chat are false)" }]);
  }
  if (options.teacher !== undefined && !supervised_chat) {
    throw new ValidationError("SFT options", [
      { path: "teacher", message: "distillation sends the teacher's trajectories as chat samples (its tokens are not the student's), and this backend does not take them (info().capabilities.supervised_chat is false)" },
    ]);
  }
  if (options.teacher !== undefined && options.samples === "tokens") {
    throw new ValidationError("SFT options", [{ path: "samples", message: "a teacher's calls have no token ids of the student: distillation needs samples 'chat' or 'auto'" }]);
  }
}

/** A gateway in front of the teacher: its calls are recorded (as text: its token ids are not the student's) like the student's. */
async function startTeacherGateway(ctx: AlgorithmContext, options: ParsedSFTOptions): Promise<Gateway> {
  const teacher = options.teacher!;
  return startGateway({
    store: ctx.store,
    upstreams: [{ name: "teacher", url: teacher.baseUrl, model: teacher.model, ...(teacher.apiKey ? { apiKey: teacher.apiKey } : {}), capabilities: { tokenIds: false, logprobs: false } }],
    // An llm resource's own sampling fields apply to the teacher's calls, over `sampling.train`.
    policy: { model: teacher.model, policyVersion: "teacher", sampling: { ...options.sampling, train: { ...options.sampling.train, ...("sampling" in teacher ? teacher.sampling : {}) } } },
    logger: ctx.logger,
    port: 0,
  });
}

function describeCounts(c: RoundRecord["filter"]): string {
  return `${c.ended} ended: ${c.failed} failed, ${c.noReward} without reward, ${c.excludedByBehaviour} excluded by behaviour, ${c.noSelectedCalls} without a selected agent's call, ${c.belowThreshold} below the reward threshold, ${c.beyondTopK} beyond top-k`;
}

function meanOrNull(values: readonly number[]): number | null {
  return values.length === 0 ? null : mean(values);
}

