/**
 * APO: automatic prompt optimization by textual gradients and beam search (after ProTeGi).
 *
 * Each round, every beam member runs a minibatch of training tasks; the optimizer model reads
 * those runs (from their traces, through the adapter), writes a critique, and edits one template
 * to answer it — `branchFactor` children per member. The children and the beam are then scored
 * on validation tasks by successive halving, so clearly bad candidates stop after a few tasks and
 * the leaders are compared on the same ones; each round starts from other tasks, so no candidate
 * is screened on the same few every round. The best `beamWidth` go on. At the end the leader and
 * the seed run on held-out tasks the search never saw (the `test` split, or a third of `val` kept
 * aside), and only a gain whose 95% interval lies above zero there is called an improvement.
 */
import { randomUUID } from "node:crypto";
import type { BehaviourCounts, BehaviourStop, EnqueueRequest, PromptTemplateResource, ResourcesSnapshot, Rollout, TokenFigures } from "../../types/index.js";
import { TracetrainError, ValidationError } from "../../types/index.js";
import { mapLimited } from "../../util/index.js";
import type { Algorithm, AlgorithmContext } from "../algorithm.js";
import { Budget, type BudgetLimit, countTokens, type Spend } from "../budget.js";
import { type ComponentCoverage, reportCoverage } from "../coverage.js";
import { type Candidate, CANDIDATE_RESOURCE, childResources, findCandidate, publishCandidate, seedCandidate } from "./candidates.js";
import { snapshotId, templateEdits } from "../snapshots.js";
import { type ChildSettings, type Proposal, proposeChild } from "./children.js";
import { type EvaluationOptions, evaluateAll, halvingSchedule, type RoundEvaluation, rotateOrder, Scoreboard, successiveHalving } from "./evaluation.js";
import { type HeldOutPlan, type HeldOutSource, heldOutCheck, planHeldOut, recordHeldOut } from "../held-out.js";
import { addCounts, emptyCounts } from "../behaviour-review.js";
import { describeRuns } from "../experiments.js";
import { MeteredRollouts } from "../metered-rollouts.js";
import { templateNameIssues } from "../optimizer-options.js";
import { type APOOptions, parseOptions } from "./options.js";
import { Optimizer } from "../optimizer.js";
import { randomFor } from "../../util/index.js";
import { type Estimate, estimate } from "./stats.js";
import { indices } from "../stats.js";
import { recordSpend, RunLog, type RunRecordStats, runStatusOf, scoreEntry } from "../run-log.js";

/** Why the run ended. */
/** Why the run ended: all rounds, a budget, an interruption, or a behaviour finding whose action is `stop` (see `stoppedBy`). */
export type StopReason = "completed" | BudgetLimit | "interrupted" | "behaviour";

/** What became of one child a round asked for. */
export interface ChildRecord {
  id: string;
  parent: string;
  /** The template it edits (absent when the optimizer failed before choosing). */
  target?: string;
  status: "evaluated" | "rejected" | "duplicate" | "failed" | "skipped";
  /** Why it was rejected, a duplicate of which candidate, or the optimizer's error. */
  detail?: string;
  /** Repaired by rule or on a second try. */
  repaired?: boolean;
  /** Made by an earlier run of this runId and read back from the store. */
  reused?: boolean;
  critique?: string;
  /** Its mean validation reward in the search (evaluated children only). */
  score?: number;
}

/** A candidate's score as the search saw it: mean reward over the `n` validation tasks it ran. */
export interface ArmScore {
  id: string;
  score: number;
  n: number;
}

export interface RoundRecord {
  round: number;
  /** Each beam member's mean reward on its training minibatch. */
  parents: Array<{ id: string; minibatchScore: number; rollouts: number }>;
  children: ChildRecord[];
  evaluation: { rollouts: number; fullCost: number; rungs: number[] };
  /** The beam after the round, best first. */
  beam: ArmScore[];
}

/** What `fit` returns as `result` for APO. */
export interface APOResult {
  runId: string;
  /** The candidate the search ranked first, with its score on the held-out tasks (NaN, n 0, when it did not run there). */
  best: { candidateId: string; resourcesId: string; resources: ResourcesSnapshot["resources"]; score: number; ci95: number; n: number };
  /** The seed's score on the held-out tasks. */
  seed: { resourcesId: string; score: number; ci95: number; n: number };
  /** best − seed per task, over the held-out tasks (null when the best is the seed or there was no check). */
  improvement: (Estimate & { significant: boolean }) | null;
  /**
   * Where the verdict was measured: `test` — the `test` split given to `fit`; `val` — the `n`
   * validation tasks held out from the search (a seeded third, when no test split is given);
   * `none` — no held-out tasks (fewer than 6 validation tasks and no test split): "not checked".
   */
  heldOut: { source: HeldOutSource; n: number };
  /** "improved" only when the paired 95% interval on the held-out tasks lies above zero. */
  verdict: "improved" | "no significant improvement" | "not checked";
  /** The verdict in a sentence. */
  summary: string;
  /** The snapshot published as `<runId>.best`: the best candidate if it improved, else the seed's resources (null when the check was cut short). */
  published: { resourcesId: string; candidate: string } | null;
  history: RoundRecord[];
  spend: Spend;
  evaluation: { strategy: EvaluationOptions["strategy"]; rollouts: number; fullCost: number; saved: number };
  edits: { proposed: number; evaluated: number; repaired: number; rejected: number; duplicates: number; failed: number };
  /** Rollouts an earlier run of this runId had made that this one read back instead of running. */
  reusedRollouts: number;
  stoppedBecause: StopReason;
  /** What every rollout of the run spent (judges apart; rollouts an earlier run made count when read back), and Σ tokens / Σ reward over them. */
  tokens: TokenFigures;
  tokensPerReward: number | null;
  /** The behaviour finding that stopped the run after its round, when one did. */
  stoppedBy?: BehaviourStop;
  /** What the behaviour filter found and did over the whole run (absent without a filter). */
  behaviour?: BehaviourCounts;
  /** What became of the run's record in the store (`store.queryRunEntries({ runId })`). */
  record: RunRecordStats;
  /**
   * How each target reached the agent: read through `ctx.prompt()`, substituted in flight, or
   * neither (`neverMatched` — its candidates ran as the seed). Null if it could not be read.
   */
  coverage: ComponentCoverage[] | null;
}

/**
 * Automatic prompt optimization. Use as `new Trainer({ algorithm: new APO({ client: new OpenAI() }) })`;
 * `fit(agent, { train, val, test })` returns an {@link APOResult}, its verdict measured on `test`
 * (or, without it, on a third of `val` the search never sees). See docs/prompt-optimization.md.
 */
export class APO implements Algorithm<APOResult> {
  readonly name = "apo";
  private readonly options: ReturnType<typeof parseOptions>;

  constructor(options: APOOptions) {
    this.options = parseOptions(options);
  }

  run(ctx: AlgorithmContext): Promise<APOResult> {
    return new APORun(ctx, this.options).execute();
  }
}

type Settings = ReturnType<typeof parseOptions>;

class APORun {
  private readonly budget: Budget;
  private readonly history: RoundRecord[] = [];
  private readonly edits = { proposed: 0, evaluated: 0, repaired: 0, rejected: 0, duplicates: 0, failed: 0 };
  /** Candidate id by the text of its templates: an edit that recreates a known candidate is not evaluated twice. */
  private readonly seen = new Map<string, string>();
  private stoppedBecause: StopReason = "completed";
  private stoppedBy: BehaviourStop | undefined;
  private behaviour: BehaviourCounts | undefined;
  private log!: RunLog;

  constructor(
    private readonly ctx: AlgorithmContext,
    private readonly settings: Settings,
  ) {
    this.budget = new Budget({ maxRollouts: settings.maxRollouts, maxOptimizerTokens: settings.maxOptimizerTokens, maxUsd: settings.maxUsd }, settings.priceTable);
  }

  async execute(): Promise<APOResult> {
    const { snapshot, targets } = this.checkInputs();
    const { ctx, settings } = this;
    const runId = settings.runId ?? `apo-${randomUUID().slice(0, 8)}`;
    const { instructions: _instructions, priceTable: _prices, ...options } = settings;
    this.log = await RunLog.open(ctx, runId, "apo", options);
    try {
      const result = await this.search(runId, snapshot, targets);
      const record = await this.log.end(runStatusOf(result.stoppedBecause), runSummary(result));
      return { ...result, record };
    } catch (error) {
      await this.log.fail(error);
      throw error;
    }
  }

  private async search(runId: string, snapshot: ResourcesSnapshot, targets: string[]): Promise<Omit<APOResult, "record">> {
    const { ctx, settings, log } = this;
    const rollouts = await MeteredRollouts.open(ctx, runId, this.budget, settings.priceTable);
    const board = new Scoreboard(rollouts, runId, ctx.val);
    const heldOut = planHeldOut(ctx, settings.seed);
    const searchTasks = heldOut.searchIndices;
    const evalTasks = Math.min(settings.evaluation.maxTasks ?? searchTasks.length, searchTasks.length);
    const valOrder = randomFor(settings.seed, "val-order").shuffle(searchTasks);
    const seed = await seedCandidate(ctx.store, runId, snapshot);
    const maxTemplateLength = settings.maxTemplateLength ?? Math.max(4000, 3 * Math.max(...targets.map((t) => templateText(seed, t).length)));
    this.checkRolloutBudget(heldOut);
    this.budget.reserve(heldOut.rollouts);
    this.seen.set(fingerprint(seed, targets), seed.id);
    log.add("candidate", "candidate-seed", { candidateId: seed.id, resourcesId: seed.resourcesId, origin: "seed", parents: [], edits: [], rationale: null, iteration: 0, accepted: true });
    log.add("front", "front-0", { iteration: 0, candidateIds: [seed.id] });
    await log.flush();
    if (rollouts.found > 0) ctx.progress.note(`APO run ${runId}: resuming; the store has ${rollouts.found} of its rollouts, which will not run again`);
    ctx.progress.note(`APO run ${runId}: ${heldOut.note}`);
    ctx.progress.note(this.projection(runId, targets, seed, evalTasks, heldOut.rollouts));

    const children: ChildSettings = {
      optimizer: new Optimizer(settings.client, { temperature: settings.temperature, maxOutputTokens: settings.maxOutputTokens }, this.budget, ctx.logger),
      critiqueModel: settings.critiqueModel ?? settings.model,
      editModel: settings.editModel ?? settings.model,
      targets,
      targetChoice: settings.targetChoice,
      instructions: settings.instructions,
      maxTemplateLength,
      seed: settings.seed,
      signal: ctx.signal,
    };
    let beam: Candidate[] = [seed];
    for (let round = 1; round <= settings.rounds; round++) {
      if (ctx.signal.aborted) break;
      const next = await this.round(round, beam, { runId, rollouts, board, children, targets, searchTasks, valOrder, evalTasks });
      beam = next.beam;
      recordSpend(log, this.budget.spend(), settings);
      await log.flush();
      if (next.stoppedBy) {
        this.stoppedBecause = next.stoppedBy;
        ctx.logger.warn(`APO run ${runId}: stopped in round ${round}: the ${next.stoppedBy} budget is reached`);
        break;
      }
      if (this.recordBehaviour(rollouts, `round-${round}`)) {
        ctx.logger.warn(`APO run ${runId}: stopped after round ${round} by behaviour finding ${this.stoppedBy!.detector}/${this.stoppedBy!.rule}: ${this.stoppedBy!.message}`);
        break;
      }
    }
    if (ctx.signal.aborted) this.stoppedBecause = "interrupted";
    this.budget.release();
    const result = await this.finish({ runId, rollouts, seed, best: beam[0]!, heldOut });
    return { ...result, coverage: await reportCoverage(ctx.store, ctx.logger, `APO run ${runId}`, runId, targets) };
  }

  /** Records the round's `behaviour` entry; true when a finding stops the run. */
  private recordBehaviour(rollouts: MeteredRollouts, label: string, options = { stops: true }): boolean {
    const entry = rollouts.takeBehaviour(label);
    if (entry === undefined) return false;
    this.behaviour = addCounts(this.behaviour ?? emptyCounts(), entry.counts);
    if (!this.ctx.signal.aborted) this.log.add("behaviour", `behaviour-${label}`, entry);
    if (entry.stop === null || !options.stops || this.stoppedBy !== undefined) return false;
    this.stoppedBecause = "behaviour";
    this.stoppedBy = entry.stop;
    return true;
  }

  /** What APO needs from the trainer, checked before anything runs. */
  private checkInputs(): { snapshot: ResourcesSnapshot; targets: string[] } {
    const { ctx, settings } = this;
    const snapshot = ctx.initialResources;
    if (!snapshot) {
      throw new ValidationError("APO", [{ path: "initialResources", message: "APO optimizes the prompt templates in the trainer's initialResources, and none were given" }]);
    }
    const templates = Object.keys(snapshot.resources).filter((name) => name !== CANDIDATE_RESOURCE && snapshot.resources[name]!.kind === "prompt_template");
    const targets = settings.targets ?? templates;
    const issues = [];
    if (targets.length === 0) issues.push({ path: "initialResources", message: "has no prompt_template resource to optimize" });
    issues.push(...templateNameIssues(snapshot.resources, targets, "targets", templates));
    if (ctx.train.length === 0) issues.push({ path: "train", message: "APO needs training tasks: it critiques the prompt from the agent's runs on them" });
    if (ctx.val.length === 0) issues.push({ path: "val", message: "APO needs validation tasks: it scores candidate prompts on them" });
    if (issues.length > 0) throw new ValidationError("APO", issues);
    return { snapshot, targets: [...new Set(targets)] };
  }

  private checkRolloutBudget(heldOut: HeldOutPlan): void {
    const { maxRollouts, gradientBatchSize, evaluation } = this.settings;
    const least = heldOut.rollouts + gradientBatchSize + evaluation.startTasks;
    if (maxRollouts !== undefined && maxRollouts < least) {
      throw new ValidationError("APO options", [
        {
          path: "maxRollouts",
          message: `${maxRollouts} is too few: one round needs ${gradientBatchSize + evaluation.startTasks} and the final check ${heldOut.rollouts} (the seed and the best on each of ${heldOut.tasks.length} held-out tasks), so at least ${least}`,
        },
      ]);
    }
  }

  /** One round: minibatch runs of every beam member, children from their critiques, evaluation, the next beam. */
  private async round(round: number, beam: Candidate[], run: RunState): Promise<{ beam: Candidate[]; stoppedBy?: BudgetLimit }> {
    const { ctx, settings } = this;
    ctx.progress.phase(`round ${round}/${settings.rounds}: running ${beam.length} prompt(s) on training minibatches`, 0);
    const gradient = await this.runMinibatches(round, beam, run);
    if (gradient.stoppedBy) return { beam, stoppedBy: gradient.stoppedBy };
    if (ctx.signal.aborted) return { beam };
    for (const parent of beam) {
      const runs = gradient.byParent.get(parent.id)!;
      const scored = estimate(runs.map((r) => run.rollouts.rewardOf(r)));
      if (scored.n > 0) this.log.add("score", `score-${parent.id}-minibatch-r${round}`, scoreEntry(parent.id, "minibatch", scored, true, run.rollouts.tokensOfMany(runs.map((r) => r.rolloutId))));
    }

    const described = new Map(
      await Promise.all(beam.map(async (parent) => [parent.id, await describeRuns(ctx.store, ctx.adapter, run.rollouts.trainable(gradient.byParent.get(parent.id)!))] as const)),
    );
    const requests = beam.flatMap((parent, i) =>
      Array.from({ length: settings.branchFactor }, (_, j) => {
        const slot = i * settings.branchFactor + j;
        return {
          id: `r${round}.${slot}`,
          round,
          parent,
          target: run.targets[((round - 1) * beam.length * settings.branchFactor + slot) % run.targets.length]!,
          experiments: described.get(parent.id)!,
          score: gradient.parents[i]!.minibatchScore,
        };
      }),
    );
    ctx.progress.phase(`round ${round}/${settings.rounds}: asking ${settings.critiqueModel ?? settings.model} for ${requests.length} edits`, 0);
    const made = await this.makeChildren(requests, run);
    const records = made.records;
    // What the round's proposals cost, before their evaluation adds its rollouts.
    recordSpend(this.log, this.budget.spend(), settings);
    if (made.stoppedBy) {
      this.history.push({ round, parents: gradient.parents, children: records, evaluation: { rollouts: 0, fullCost: 0, rungs: [] }, beam: beam.map((c) => armScore(run.board, c)) });
      return { beam, stoppedBy: made.stoppedBy };
    }

    const arms = [...beam, ...made.children];
    ctx.progress.phase(`round ${round}/${settings.rounds}: scoring ${arms.length} candidates`, 0);
    const evaluation = await this.evaluate(round, arms, run);
    const next = evaluation.ranking.slice(0, settings.beamWidth);
    const { namespace } = evaluation;
    for (const record of records) {
      const arm = arms.find((a) => a.id === record.id);
      if (arm) record.score = armScore(run.board, arm, namespace).score;
    }
    const beamScores = next.map((c) => armScore(run.board, c, namespace));
    // An interrupted evaluation ranks on what it had: not recorded, or the resumed run's complete one would be skipped as a duplicate.
    if (!ctx.signal.aborted) this.recordEvaluation(round, arms, next, run.board, namespace);
    this.history.push({ round, parents: gradient.parents, children: records, evaluation: { rollouts: evaluation.rollouts, fullCost: evaluation.fullCost, rungs: evaluation.rungs }, beam: beamScores });
    const leader = beamScores[0]!;
    ctx.progress.note(`round ${round}: leader ${leader.id} scores ${leader.score.toFixed(3)} on ${leader.n} validation tasks (${evaluation.rollouts} evaluation rollouts)`);
    return evaluation.stoppedBy ? { beam: next, stoppedBy: evaluation.stoppedBy } : { beam: next };
  }

  private async runMinibatches(round: number, beam: Candidate[], run: RunState) {
    const { ctx, settings } = this;
    const size = Math.min(settings.gradientBatchSize, ctx.train.length);
    const plan = beam.flatMap((parent) =>
      randomFor(settings.seed, `minibatch.${round}.${parent.id}`)
        .shuffle(indices(ctx.train.length))
        .slice(0, size)
        .map((task, j): EnqueueRequest & { rolloutId: string } => ({
          rolloutId: run.rollouts.idFor(`g${round}.${parent.id}.${j}`),
          input: ctx.train[task]!,
          mode: "train",
          resourcesId: parent.resourcesId,
          metadata: { apo: run.runId, candidate: parent.id, purpose: "critique" },
        })),
    );
    const ran = await run.rollouts.run(plan);
    if (ran.stoppedBy) return { stoppedBy: ran.stoppedBy, byParent: new Map<string, Rollout[]>(), parents: [] };
    const byParent = new Map<string, Rollout[]>(beam.map((c) => [c.id, []]));
    const ended = new Map(ran.ended.map((r) => [r.rolloutId, r]));
    for (const [i, request] of plan.entries()) {
      const rollout = ended.get(request.rolloutId);
      if (rollout) byParent.get(beam[Math.floor(i / size)]!.id)!.push(rollout);
    }
    const parents = beam.map((c) => ({ id: c.id, minibatchScore: estimate(byParent.get(c.id)!.map((r) => run.rollouts.rewardOf(r))).mean, rollouts: byParent.get(c.id)!.length }));
    return { byParent, parents };
  }

  /**
   * Proposals are made concurrently, then taken in slot order — deduplicated and published — so
   * the candidates a run makes do not depend on which optimizer call answered first.
   */
  private async makeChildren(requests: Array<Parameters<typeof proposeChild>[0]>, run: RunState) {
    const { ctx, settings } = this;
    let stop: BudgetLimit | undefined;
    type Outcome = { kind: "found"; candidate: Candidate } | Proposal | { kind: "failed"; error: string } | { kind: "skipped" };
    const outcomes = await mapLimited(requests, settings.concurrency, async (request): Promise<Outcome> => {
      const found = await findCandidate(ctx.store, run.runId, request.id);
      if (found) return { kind: "found", candidate: found };
      if (stop || ctx.signal.aborted) return { kind: "skipped" };
      try {
        const proposal = await proposeChild(request, run.children);
        if (proposal.kind === "stopped") stop ??= proposal.stoppedBy;
        return proposal;
      } catch (error) {
        if (ctx.signal.aborted) return { kind: "skipped" };
        return { kind: "failed", error: error instanceof Error ? error.message : String(error) };
      }
    });
    const children: Candidate[] = [];
    const records: ChildRecord[] = [];
    for (const [i, outcome] of outcomes.entries()) {
      const request = requests[i]!;
      const base = { id: request.id, parent: request.parent.id };
      switch (outcome.kind) {
        case "found": {
          this.recordCandidate(outcome.candidate, request.parent, { round: request.round, critique: outcome.candidate.critique });
          for (const call of outcome.candidate.calls) this.budget.addOptimizerCall(call);
          this.seen.set(fingerprint(outcome.candidate, run.targets), outcome.candidate.id);
          children.push(outcome.candidate);
          records.push({ ...base, target: outcome.candidate.target!, status: "evaluated", reused: true, critique: outcome.candidate.critique ?? "" });
          this.edits.proposed++;
          this.edits.evaluated++;
          break;
        }
        case "proposal": {
          this.edits.proposed++;
          const key = fingerprint({ resources: childResources(request.parent, outcome.target, outcome.template) }, run.targets);
          const twin = this.seen.get(key);
          if (twin !== undefined) {
            this.edits.duplicates++;
            this.recordUnpublished(request, { edits: templateEdits(request.parent.resources, childResources(request.parent, outcome.target, outcome.template)), critique: outcome.critique, detail: `same templates as ${twin}` });
            records.push({ ...base, target: outcome.target, status: "duplicate", detail: `same templates as ${twin}`, critique: outcome.critique });
            break;
          }
          const candidate = await publishCandidate(ctx.store, run.runId, { id: request.id, round: request.round, target: outcome.target, template: outcome.template, critique: outcome.critique, calls: outcome.calls }, request.parent);
          this.recordCandidate(candidate, request.parent, { round: request.round, critique: outcome.critique });
          this.seen.set(key, candidate.id);
          if (outcome.repaired) this.edits.repaired++;
          this.edits.evaluated++;
          children.push(candidate);
          records.push({ ...base, target: outcome.target, status: "evaluated", repaired: outcome.repaired, critique: outcome.critique });
          break;
        }
        case "rejected":
          this.edits.proposed++;
          this.edits.rejected++;
          this.recordUnpublished(request, { edits: [], critique: outcome.critique, detail: outcome.problem });
          ctx.logger.warn(`APO: edit ${request.id} of '${outcome.target}' rejected: ${outcome.problem}`);
          records.push({ ...base, target: outcome.target, status: "rejected", detail: outcome.problem });
          break;
        case "failed":
          this.edits.failed++;
          ctx.logger.warn(`APO: the optimizer call for ${request.id} failed: ${outcome.error}`);
          records.push({ ...base, status: "failed", detail: outcome.error });
          break;
        case "stopped":
        case "skipped":
          records.push({ ...base, status: "skipped" });
          break;
      }
    }
    const failures = records.filter((r) => r.status === "failed");
    if (failures.length > 0 && failures.length === requests.length) {
      // Nothing to learn from and nothing to retry with: the optimizer model is down or refuses us.
      throw new TracetrainError("unavailable", `APO: every optimizer call of the round failed (${failures.length}); the first error: ${failures[0]!.detail}`, {
        failed: failures.length,
        firstError: failures[0]!.detail ?? null,
      });
    }
    return { children, records, stoppedBy: stop };
  }

  /** Scores the round's arms on validation tasks of the search (never the held-out ones). */
  private evaluate(round: number, arms: Candidate[], run: RunState): Promise<RoundEvaluation> {
    const { evaluation, seed } = this.settings;
    if (evaluation.strategy === "full") {
      const batch = randomFor(seed, `batch.${round}`).shuffle(run.searchTasks).slice(0, run.evalTasks);
      return evaluateAll(run.board, arms, batch, round);
    }
    return successiveHalving(run.board, arms, rotateOrder(run.valOrder, round, evaluation.startTasks), { ...evaluation, maxTasks: run.evalTasks });
  }

  /** The held-out check, the verdict, and publishing the outcome. */
  private async finish(state: { runId: string; rollouts: MeteredRollouts; seed: Candidate; best: Candidate; heldOut: HeldOutPlan }): Promise<Omit<APOResult, "coverage" | "record">> {
    const { ctx } = this;
    const { runId, seed, best } = state;
    const check = await heldOutCheck({ ctx, rollouts: state.rollouts, plan: state.heldOut, best, seed, metadata: { apo: runId } });
    if (check.stoppedBy) this.stoppedBecause = check.stoppedBy;
    recordHeldOut(this.log, state.heldOut, check, { best, seed });
    // The final check's rollouts are counted too; a stop found there has nothing left to stop.
    this.recordBehaviour(state.rollouts, "final-check", { stops: false });
    let published: APOResult["published"] = null;
    if (check.winner) {
      const snapshot = await ctx.store.addResources(check.winner.resources, { resourcesId: snapshotId(runId, "best") });
      published = { resourcesId: snapshot.resourcesId, candidate: check.winner.id };
    }
    ctx.progress.note(`APO run ${runId}: ${check.summary}`);
    if (published) ctx.progress.note(`published ${published.resourcesId} (${published.candidate})`);
    const spend = this.budget.spend();
    recordSpend(this.log, spend, this.settings);
    if (spend.unpricedModels.length > 0) ctx.logger.warn(`APO: no price for ${spend.unpricedModels.join(", ")}: their calls count as $0 (pass prices to APO)`);
    return {
      runId,
      best: { candidateId: best.id, resourcesId: best.resourcesId, resources: best.resources, score: check.best.mean, ci95: check.best.ci95, n: check.best.n },
      seed: { resourcesId: seed.resourcesId, score: check.seed.mean, ci95: check.seed.ci95, n: check.seed.n },
      improvement: check.improvement,
      heldOut: check.heldOut,
      verdict: check.verdict,
      summary: check.summary,
      published,
      history: this.history,
      spend,
      evaluation: evaluationTotals(this.settings.evaluation.strategy, this.history),
      edits: { ...this.edits },
      reusedRollouts: state.rollouts.reused,
      stoppedBecause: this.stoppedBecause,
      ...state.rollouts.totals(),
      ...(this.stoppedBy === undefined ? {} : { stoppedBy: this.stoppedBy }),
      ...(this.behaviour === undefined ? {} : { behaviour: this.behaviour }),
    };
  }

  /** A proposal published as a candidate (or read back from an earlier run of this runId). */
  private recordCandidate(candidate: Candidate, parent: Candidate, made: { round: number; critique: string | null }): void {
    this.log.add("candidate", `candidate-${candidate.id}`, {
      candidateId: candidate.id,
      resourcesId: candidate.resourcesId,
      origin: "edit",
      parents: [parent.id],
      edits: templateEdits(parent.resources, candidate.resources),
      rationale: made.critique,
      iteration: made.round,
      accepted: true,
    });
  }

  /** A proposal refused before it was published: an unusable edit, or one that recreates a known candidate. */
  private recordUnpublished(request: { id: string; round: number; parent: Candidate }, refused: { edits: Array<{ component: string; before: string; after: string }>; critique: string; detail: string }): void {
    this.log.add("candidate", `candidate-${request.id}-unpublished`, {
      candidateId: request.id,
      resourcesId: null,
      origin: "edit",
      parents: [request.parent.id],
      edits: refused.edits,
      rationale: refused.critique || null,
      iteration: request.round,
      accepted: false,
      detail: refused.detail,
    });
  }

  /** The round's validation scores (mean and 95% interval over the tasks each arm ran) and the new beam. */
  private recordEvaluation(round: number, arms: readonly Candidate[], beam: readonly Candidate[], board: Scoreboard, namespace: string): void {
    for (const arm of arms) {
      const tasks = board.tasksOf(arm, namespace);
      const scored = estimate(board.rewardsOf(arm, tasks, namespace));
      if (scored.n > 0) this.log.add("score", `score-${arm.id}-val-r${round}-${scored.n}`, scoreEntry(arm.id, "val", scored, true, board.tokensOf(arm, tasks, namespace)));
    }
    this.log.add("front", `front-${round}`, { iteration: round, candidateIds: beam.map((c) => c.id) });
  }

  /** The log line that says, before anything runs, how much the run may spend at most. */
  private projection(runId: string, targets: string[], seed: Candidate, evalTasks: number, finalCheck: number): string {
    const { settings, ctx } = this;
    const { beamWidth: B, branchFactor: K, rounds } = settings;
    const g = Math.min(settings.gradientBatchSize, ctx.train.length);
    let beam = 1;
    let rollouts = finalCheck;
    let calls = 0;
    for (let r = 0; r < rounds; r++) {
      const arms = beam + beam * K;
      rollouts += beam * g + (settings.evaluation.strategy === "full" ? arms * evalTasks : halvingCost(arms, settings.evaluation, evalTasks));
      calls += beam * K * 3; // a critique, an edit, and at most one retry
      beam = Math.min(B, arms);
    }
    const longest = Math.max(...targets.map((t) => countTokens(templateText(seed, t))));
    const perCall = Math.max(...settings.instructions.critique.map(countTokens)) + longest + 4000 + settings.maxOutputTokens; // 4000: the bounded run descriptions
    const tokens = calls * perCall;
    const price = settings.priceTable[settings.model];
    const usd = price ? (calls * (perCall - settings.maxOutputTokens) * price.input + calls * settings.maxOutputTokens * price.output) / 1e6 : undefined;
    const limits = [settings.maxRollouts && `maxRollouts ${settings.maxRollouts}`, settings.maxOptimizerTokens && `maxOptimizerTokens ${settings.maxOptimizerTokens}`, settings.maxUsd && `maxUsd $${settings.maxUsd}`].filter(Boolean);
    return (
      `APO run ${runId}: ${rounds} round(s), beam ${B}, ${K} children each, templates ${targets.join(", ")}. ` +
      `At most ~${rollouts} rollouts (${finalCheck} of them for the held-out final check) and ~${calls} optimizer calls of ≤${perCall} tokens (≤${tokens} tokens` +
      `${usd === undefined ? `; no price for ${settings.model}` : `, ≤$${usd.toFixed(2)}`}); the agent's own LLM cost is measured as it runs. ` +
      (limits.length > 0 ? `Limits: ${limits.join(", ")}.` : "No budget limits set.")
    );
  }
}

/** The run's header summary: the outcome without the per-round history (that is in the log). */
function runSummary(result: Omit<APOResult, "record">) {
  const { best, seed, improvement, heldOut, verdict, summary, published, spend, edits, stoppedBecause, tokens, tokensPerReward } = result;
  const { resources: _resources, ...bestScores } = best;
  return { best: bestScores, seed, improvement, heldOut, verdict, summary, published, spend, edits, stoppedBecause, stopDetail: stopDetailOf(stoppedBecause), tokens, tokensPerReward };
}

function stopDetailOf(stoppedBecause: StopReason): string {
  if (stoppedBecause === "completed") return "ran every round";
  if (stoppedBecause === "interrupted") return "interrupted: nothing was published; run again with the same runId to resume";
  if (stoppedBecause === "behaviour") return "a behaviour finding whose policy action is stop ended the run after its round";
  return `the ${stoppedBecause} budget was reached`;
}

interface RunState {
  runId: string;
  rollouts: MeteredRollouts;
  board: Scoreboard;
  children: ChildSettings;
  targets: string[];
  /** The validation tasks the search may use (indices into `val`, ascending): all but the held-out ones. */
  searchTasks: number[];
  /** The same in the run's seeded order. */
  valOrder: number[];
  evalTasks: number;
}

/** Evaluation rollouts over the whole run, against running every candidate on every task it was judged on. */
function evaluationTotals(strategy: EvaluationOptions["strategy"], history: readonly RoundRecord[]): APOResult["evaluation"] {
  const rollouts = history.reduce((sum, h) => sum + h.evaluation.rollouts, 0);
  const fullCost = history.reduce((sum, h) => sum + h.evaluation.fullCost, 0);
  return { strategy, rollouts, fullCost, saved: fullCost - rollouts };
}

/** Most evaluation rollouts successive halving can take for `arms` candidates (nothing reused). */
function halvingCost(arms: number, options: { startTasks: number; eta: number }, limit: number): number {
  let previous = 0;
  return halvingSchedule(arms, options, limit).reduce((cost, rung) => {
    const added = rung.arms * (rung.tasks - previous);
    previous = rung.tasks;
    return cost + added;
  }, 0);
}

function armScore(board: Scoreboard, candidate: Candidate, namespace = ""): ArmScore {
  const tasks = board.tasksOf(candidate, namespace);
  return { id: candidate.id, score: board.mean(candidate, tasks, namespace), n: tasks.length };
}

/** The candidate's optimizable templates as one key, to spot an edit that recreates a known candidate. */
function fingerprint(candidate: Pick<Candidate, "resources">, targets: readonly string[]): string {
  return JSON.stringify(targets.map((t) => templateText(candidate, t)));
}

function templateText(candidate: Pick<Candidate, "resources">, name: string): string {
  return (candidate.resources[name] as PromptTemplateResource).template;
}

