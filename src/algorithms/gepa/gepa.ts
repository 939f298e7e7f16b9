/**
 * GEPA: reflective prompt evolution with Pareto selection (Agrawal et al., arXiv 2507.19457), on
 * any traced agent. Each iteration picks a parent from the Pareto front of per-task best scores
 * (weighted by how many tasks it wins), runs it on a training minibatch, shows the reflection
 * model one component's runs (round-robin over the components), and takes its rewrite as a child.
 * The child runs on the same minibatch and is kept only if it does better there (paired; ties do
 * not pass); kept children are scored on the Pareto validation tasks and join the pool. After an
 * accepted child, the next iteration tries a system-aware merge of two front candidates that
 * evolved different components (see merge.ts). Every candidate and rollout has a stable id, so a
 * run resumed with its runId reads back what it made instead of making it again.
 */
import { randomUUID } from "node:crypto";
import type { BehaviourCounts, BehaviourStop, EnqueueRequest, PromptTemplateResource, ResourcesSnapshot, Rollout, Task, TokenFigures } from "../../types/index.js";
import { canonicalJson, TracetrainError, ValidationError } from "../../types/index.js";
import { randomFor } from "../../util/index.js";
import type { Algorithm, AlgorithmContext } from "../algorithm.js";
import { Budget, type BudgetLimit, type Spend } from "../budget.js";
import { type ComponentCoverage, reportCoverage } from "../coverage.js";
import { type HeldOutPlan, type HeldOutSource, heldOutCheck, planHeldOut, recordHeldOut } from "../held-out.js";
import { type Estimate, estimate, indices, mean } from "../stats.js";
import { finiteOrNull, recordSpend, RunLog, type RunRecordStats, runStatusOf, scoreEntry } from "../run-log.js";
import { addCounts, emptyCounts, stopOf } from "../behaviour-review.js";
import { MeteredRollouts } from "../metered-rollouts.js";
import { templateNameIssues } from "../optimizer-options.js";
import { Optimizer } from "../optimizer.js";
import { type Candidate, clip, findCandidate, fingerprint, LINEAGE_RESOURCE, publishChild, publishMerge, publishSeed, templateOf } from "./candidates.js";
import { snapshotId, templateEdits } from "../snapshots.js";
import { blamedComponent, promptTemplates, selectComponents } from "./components.js";
import { type GateVerdict, minibatchGate } from "./gate.js";
import { mergeTasks, pairKey, planMerge } from "./merge.js";
import { type GEPAOptions, type GEPASettings, parseGEPAOptions } from "./options.js";
import { bestByMean, bestByRewardAndTokens, meanScore, meanTokens, nonDominated, type ScoredCandidate, selectionWeights, selectParent } from "./pareto.js";
import { reflect } from "./reflection.js";
import { componentUse, reflectiveDataset } from "./reflective-dataset.js";
import { readRunCalls } from "../experiments.js";

/** Why the run ended: all proposals made, a budget, an interruption, or nothing the agent used to evolve. */
export type GEPAStopReason = "completed" | BudgetLimit | "interrupted" | "no-components" | "behaviour";

/** What became of one iteration. */
export interface ProposalRecord {
  iteration: number;
  /** A reflective rewrite of one component, or a merge of two candidates. */
  kind: "reflection" | "merge";
  /** The parent (for a merge, the stronger of the two). */
  parent: string;
  /** A merge's other parent. */
  otherParent?: string;
  /** The component a reflection rewrote, and how it was chosen (`blame`: the evaluator's feedback named it). */
  component?: string;
  chosenBy?: "round-robin" | "blame";
  /** A merge: the candidate each evolved component was taken from. */
  merged?: Record<string, string>;
  /** Read back from the store: an earlier run of this runId made this candidate. */
  reused?: boolean;
  /** The parent's mean reward on the minibatch (for a merge: the stronger parent's on the merge tasks). */
  parentScore?: number;
  status: "accepted" | "rejected-by-gate" | "invalid-edit" | "duplicate" | "skipped" | "failed" | "stopped";
  /** The child's id (accepted or rejected by the gate). */
  child?: string;
  gate?: GateVerdict;
  /** Why, in words: the gate's reason, the edit's problem, the error, the limit. */
  detail: string;
}

/** A candidate in the pool, with its lineage and its Pareto validation scores. */
export interface PoolEntry {
  candidateId: string;
  resourcesId: string;
  kind: "seed" | "reflection" | "merge";
  parents: string[];
  /** The component it changed, and the minibatch feedback that caused the change (null for the seed and merges). */
  component: string | null;
  /** A merge: the parent each evolved component came from (null otherwise). */
  merged: Record<string, string> | null;
  feedback: { rollouts: string[]; score: number; text: string } | null;
  /** Mean reward on the Pareto validation tasks, and how many tasks it wins there (alone or tied). */
  score: number;
  wins: number;
  /** Whether it is on the Pareto front (not dominated). */
  onFront: boolean;
  /** Mean tokens its Pareto rollouts spent; null when unknown. */
  meanTokens: number | null;
}

export interface GEPAResult {
  runId: string;
  /**
   * The pool candidate with the best mean on the Pareto tasks (ties go to the newer one), with
   * that mean (`paretoScore`, over `paretoN` tasks) and its score on the held-out tasks (`score`,
   * `ci95`, `n`; NaN and n 0 when it did not run there).
   */
  best: { candidateId: string; resourcesId: string; resources: ResourcesSnapshot["resources"]; paretoScore: number; paretoN: number; score: number; ci95: number; n: number };
  /** The seed, scored the same two ways. */
  seed: { resourcesId: string; paretoScore: number; paretoN: number; score: number; ci95: number; n: number };
  /** best − seed per held-out task (null when the best is the seed or there was no check). */
  improvement: (Estimate & { significant: boolean }) | null;
  /**
   * Where the verdict was measured: `test` — the `test` split given to `fit`; `val` — validation
   * tasks held out from the search (a seeded third, when no test split is given); `none` — no
   * held-out tasks (fewer than 6 validation tasks and no test split): "not checked".
   */
  heldOut: { source: HeldOutSource; n: number };
  /** "improved" only when the paired 95% interval of best − seed on the held-out tasks lies above zero. */
  verdict: "improved" | "no significant improvement" | "not checked";
  /** What the search found and the verdict, in sentences. */
  summary: string;
  /** `<runId>.best`: the best candidate's resources when it improved, else the seed's (null when interrupted or the check was cut short). */
  published: { resourcesId: string; candidate: string } | null;
  /** Which components were evolved, and which prompt templates stayed fixed and why. */
  components: { evolved: string[]; fixed: Array<{ name: string; why: string }> };
  /**
   * How each evolved component reached the agent: read through `ctx.prompt()`, substituted in
   * flight, or neither (`neverMatched` — its candidates ran as the seed). Null if it could not be read.
   */
  coverage: ComponentCoverage[] | null;
  pool: PoolEntry[];
  proposals: ProposalRecord[];
  spend: Spend;
  /** Rollouts an earlier run of this runId had made that this one read back instead of running. */
  reusedRollouts: number;
  stoppedBecause: GEPAStopReason;
  /** The stop in a sentence, naming the limit and what it left undone. */
  stopDetail: string;
  /** What every rollout of the run spent (judges apart; rollouts an earlier run made count when read back), and Σ tokens / Σ reward over them. */
  tokens: TokenFigures;
  tokensPerReward: number | null;
  /** The behaviour finding that stopped the run after its proposal, when one did (`stoppedBecause: "behaviour"`). */
  stoppedBy?: BehaviourStop;
  /** What the behaviour filter found and did over the whole run (absent without a filter). */
  behaviour?: BehaviourCounts;
  /** What became of the run's record in the store (`store.queryRunEntries({ runId })`). */
  record: RunRecordStats;
}

/**
 * Reflective Pareto evolution of an agent's prompt templates. Use as
 * `new Trainer({ algorithm: new GEPA({ client: new OpenAI() }) })`; `fit(agent, { train, val })`
 * returns a {@link GEPAResult}.
 */
export class GEPA implements Algorithm<GEPAResult> {
  readonly name = "gepa";
  private readonly settings: GEPASettings;

  constructor(options: GEPAOptions) {
    this.settings = parseGEPAOptions(options);
  }

  run(ctx: AlgorithmContext): Promise<GEPAResult> {
    return new GEPARun(ctx, this.settings).execute();
  }
}

interface PoolMember {
  candidate: Candidate;
  /** Rewards on the Pareto tasks, in their order. */
  scores: number[];
  /** Tokens each of those rollouts spent (NaN where unknown): the second objective when `objectives` has "tokens". */
  tokens: number[];
  /** Its mean on them. */
  mean: number;
  /** The component it will have evolved next (round-robin per candidate, as in GEPA). */
  next: number;
  /** Its runs on training tasks so far (its gate runs, then its minibatches as a parent), oldest first. */
  trainRuns: Rollout[];
}

/** A stop: the reason and its sentence. */
interface Stop {
  reason: GEPAStopReason;
  detail: string;
}

/** Consecutive reflection calls that may fail before the run gives up on the reflection model. */
const MAX_CONSECUTIVE_FAILURES = 3;

class GEPARun {
  private readonly budget: Budget;
  private readonly pool: PoolMember[] = [];
  private readonly proposals: ProposalRecord[] = [];
  private readonly seen = new Map<string, string>();
  private components: string[] = [];
  private fixed: GEPAResult["components"]["fixed"] = [];
  private failures = 0;
  private runId = "";
  private rollouts!: MeteredRollouts;
  private paretoTasks: number[] = [];
  private heldOut!: HeldOutPlan;
  private optimizer!: Optimizer;
  private maxTemplateLength = 0;
  /** Merges to try: one after each accepted rewrite, while `maxMerges` allows. */
  private mergesDue = 0;
  private merges = 0;
  private readonly triedPairs = new Set<string>();
  private log!: RunLog;
  /** Behaviour counts over the run so far (undefined without a filter). */
  private behaviour: BehaviourCounts | undefined;
  /** The front last recorded, to record it again only when it changes. */
  private lastFront = "";

  constructor(
    private readonly ctx: AlgorithmContext,
    private readonly settings: GEPASettings,
  ) {
    this.budget = new Budget({ maxRollouts: settings.maxRollouts, maxOptimizerTokens: settings.maxOptimizerTokens, maxUsd: settings.maxUsd }, settings.priceTable);
  }

  async execute(): Promise<GEPAResult> {
    const snapshot = this.checkInputs();
    this.runId = this.settings.runId ?? `gepa-${randomUUID().slice(0, 8)}`;
    const { instruction: _instruction, priceTable: _prices, ...options } = this.settings;
    this.log = await RunLog.open(this.ctx, this.runId, "gepa", options);
    try {
      const result = await this.search(snapshot);
      const record = await this.log.end(runStatusOf(result.stoppedBecause), runSummary(result));
      return { ...result, record };
    } catch (error) {
      await this.log.fail(error);
      throw error;
    }
  }

  private async search(snapshot: ResourcesSnapshot): Promise<Omit<GEPAResult, "record">> {
    const { ctx, settings } = this;
    this.heldOut = planHeldOut(ctx, settings.seed);
    const searchable = this.heldOut.searchIndices;
    const paretoSize = Math.min(settings.paretoTasks ?? defaultParetoTasks(settings.maxRollouts, this.heldOut.rollouts), searchable.length);
    this.paretoTasks = randomFor(settings.seed, "pareto-tasks").shuffle(searchable).slice(0, paretoSize);
    this.checkRolloutBudget();
    this.budget.reserve(this.heldOut.rollouts);
    this.rollouts = await MeteredRollouts.open(ctx, this.runId, this.budget, settings.priceTable);
    this.optimizer = new Optimizer(settings.client, { temperature: settings.temperature, maxOutputTokens: settings.maxOutputTokens }, this.budget, ctx.logger);
    const { seed, resumed } = await publishSeed(ctx.store, this.runId, snapshot);
    this.log.add("candidate", "candidate-seed", { candidateId: seed.id, resourcesId: seed.resourcesId, origin: "seed", parents: [], edits: [], rationale: null, iteration: 0, accepted: true });
    await this.log.flush();
    if (resumed) ctx.progress.note(`GEPA run ${this.runId}: resuming; the store has ${this.rollouts.found} of its rollouts, which will not run again`);
    ctx.progress.note(`GEPA run ${this.runId}: ${this.heldOut.note}`);
    const templates = promptTemplates(seed.resources, [LINEAGE_RESOURCE]);
    this.maxTemplateLength = settings.maxTemplateLength ?? Math.max(4000, 3 * Math.max(...templates.map((t) => templateOf(seed, t).template.length)));
    ctx.progress.note(this.projection());

    ctx.progress.phase(`GEPA ${this.runId}: scoring the seed on ${paretoSize} Pareto validation tasks`, 0);
    const seedScores = await this.scoreOnPareto(seed);
    let stop: Stop | undefined = "stoppedBy" in seedScores ? this.budgetStop(seedScores.stoppedBy, "scoring the seed on the Pareto tasks") : undefined;
    if (!stop) {
      if (!("stoppedBy" in seedScores)) this.addToPool(seed, seedScores, 0, 0);
      stop = await this.evolve(templates);
    }
    return this.finish(seed, stop);
  }

  /** The iterations, until a budget, an interruption or `maxProposals` ends them. */
  private async evolve(templates: string[]): Promise<Stop> {
    const { ctx, settings } = this;
    for (let iteration = 1; iteration <= settings.maxProposals; iteration++) {
      if (ctx.signal.aborted) return { reason: "interrupted", detail: `interrupted after ${iteration - 1} proposal(s)` };
      const merged = this.mergesDue > 0 ? await this.mergeProposal(iteration) : "no-merge";
      const stop = merged !== "no-merge" ? merged : await this.iterate(iteration, templates);
      recordSpend(this.log, this.budget.spend(), settings);
      const behaviourStop = this.recordBehaviour(`iteration-${iteration}`);
      await this.log.flush();
      if (stop) return stop;
      if (behaviourStop) return { reason: "behaviour", detail: `stopped after proposal ${iteration} by behaviour finding ${behaviourStop.detector}/${behaviourStop.rule}: ${behaviourStop.message}` };
    }
    return { reason: "completed", detail: `made all ${settings.maxProposals} proposals (maxProposals)` };
  }

  /** One iteration; returns a stop when the run must end. */
  private async iterate(iteration: number, templates: string[]): Promise<Stop | undefined> {
    const { ctx, settings } = this;
    const size = Math.min(settings.minibatchSize, ctx.train.length);
    const limit = this.budget.wouldExceedRollouts(2 * size);
    if (limit) return this.budgetStop(limit, `proposal ${iteration}'s minibatch runs (${2 * size} rollouts: the parent's and the child's)`);
    const parent = this.member(selectParent(this.scored(), settings.seed, `parent.${iteration}`));
    const minibatch = randomFor(settings.seed, `minibatch.${iteration}`).shuffle(indices(ctx.train.length)).slice(0, size);
    ctx.progress.phase(`GEPA proposal ${iteration}/${settings.maxProposals}: running ${parent.candidate.id} on ${size} training tasks`, 0);
    const parentRuns = await this.runOn(parent.candidate, minibatch.map((t) => ctx.train[t]!), "train", (j) => `m${iteration}.${parent.candidate.id}.${j}`);
    if ("stoppedBy" in parentRuns) return this.budgetStop(parentRuns.stoppedBy, `proposal ${iteration}'s parent minibatch`);
    if (ctx.signal.aborted) return { reason: "interrupted", detail: `interrupted during proposal ${iteration}` };
    if (this.components.length === 0) {
      const stop = await this.chooseComponents(templates, parentRuns.ended);
      if (stop) return stop;
    }
    const { component, chosenBy } = await this.chooseComponent(parent, parentRuns.ended);
    const parentRewards = parentRuns.ended.map((r) => this.rollouts.rewardOf(r));
    // After the check for an interruption above: a cut-short minibatch is not recorded.
    this.log.add("score", `score-${parent.candidate.id}-minibatch-i${iteration}`, scoreEntry(parent.candidate.id, "minibatch", estimate(parentRewards), false, this.spentOn(parentRuns.ended)));
    const earlier = this.earlierRuns(parent, parentRuns.ended);
    parent.trainRuns.push(...parentRuns.ended);
    const base = { iteration, kind: "reflection" as const, parent: parent.candidate.id, component, chosenBy, parentScore: mean(parentRewards) };
    const record = (r: Omit<ProposalRecord, keyof typeof base>) => void this.proposals.push({ ...base, ...r });

    if (settings.perfectScore !== null && parentRewards.every((r) => r >= settings.perfectScore!)) {
      record({ status: "skipped", detail: `the parent scored the perfect ${settings.perfectScore} on every minibatch task: nothing to reflect on` });
      return undefined;
    }
    const dataset = await reflectiveDataset(ctx.store, ctx.adapter, component, templateOf(parent.candidate, component), this.rollouts.trainable([...parentRuns.ended, ...earlier]), { agents: settings.agents });
    if (dataset.records.length === 0) {
      record({ status: "skipped", detail: `'${component}' shaped no LLM call of the ${size} minibatch runs` });
      return undefined;
    }
    const { id: childId, found } = await this.childSlot(`c${iteration}`, (c) => c.lineage.kind === "reflection" && c.lineage.parents[0] === parent.candidate.id && c.lineage.component === component);
    if (found) {
      for (const call of found.lineage.calls) this.budget.addOptimizerCall(call);
      return this.judgeChild(found, { ...base, reused: true }, minibatch, { rewards: parentRewards, runs: parentRuns.ended }, iteration);
    }
    let outcome;
    try {
      outcome = await reflect({
        optimizer: this.optimizer,
        model: settings.model,
        instruction: settings.instruction,
        component,
        parent: templateOf(parent.candidate, component),
        runs: dataset.text,
        score: dataset.score,
        maxLength: this.maxTemplateLength,
        signal: ctx.signal,
        seed: settings.seed,
        label: `reflect.${iteration}`,
      });
    } catch (error) {
      if (ctx.signal.aborted) return { reason: "interrupted", detail: `interrupted during proposal ${iteration}'s reflection` };
      const message = error instanceof Error ? error.message : String(error);
      record({ status: "failed", detail: message });
      ctx.logger.warn(`GEPA: the reflection call of proposal ${iteration} failed: ${message}`);
      if (++this.failures >= MAX_CONSECUTIVE_FAILURES) {
        throw new TracetrainError("unavailable", `GEPA: the last ${this.failures} reflection calls failed; the last error: ${message}`, { failed: this.failures, lastError: message });
      }
      return undefined;
    }
    this.failures = 0;
    if (outcome.kind === "stopped") {
      record({ status: "stopped", detail: `the ${outcome.stoppedBy} budget left no room for the reflection call` });
      return this.budgetStop(outcome.stoppedBy, `proposal ${iteration}'s reflection call`);
    }
    if (outcome.kind === "rejected") {
      ctx.logger.warn(`GEPA: proposal ${iteration}'s rewrite of '${component}' rejected: ${outcome.problem}`);
      record({ status: "invalid-edit", detail: outcome.problem });
      this.recordUnpublished({ id: childId, origin: "reflection", parents: [parent.candidate.id], edits: [], rationale: clip(dataset.text), iteration, detail: outcome.problem });
      return undefined;
    }
    const key = fingerprint({ id: childId, resources: { ...parent.candidate.resources, [component]: { ...templateOf(parent.candidate, component), template: outcome.template } } }, this.components);
    const twin = this.seen.get(key);
    if (twin !== undefined) {
      const detail = twin === parent.candidate.id ? `the rewrite left '${component}' as it was` : `the rewrite recreates ${twin}`;
      record({ status: "duplicate", detail });
      const edits = [{ component, before: templateOf(parent.candidate, component).template, after: outcome.template }].filter((e) => e.before !== e.after);
      this.recordUnpublished({ id: childId, origin: "reflection", parents: [parent.candidate.id], edits, rationale: clip(dataset.text), iteration, detail });
      return undefined;
    }
    const feedback = { rollouts: dataset.records.map((r) => r.rollout.rolloutId), score: dataset.score, text: dataset.text };
    const child = await publishChild(ctx.store, parent.candidate, { id: childId, component, template: outcome.template, feedback, calls: outcome.calls });
    return this.judgeChild(child, base, minibatch, { rewards: parentRewards, runs: parentRuns.ended }, iteration);
  }

  /** Runs a rewritten child on its parent's minibatch, gates it, and scores it on the Pareto tasks if it passes. */
  private async judgeChild(child: Candidate, base: Omit<ProposalRecord, "status" | "detail">, minibatch: number[], parent: { rewards: number[]; runs: readonly Rollout[] }, iteration: number): Promise<Stop | undefined> {
    const { ctx } = this;
    const record = (r: Pick<ProposalRecord, "status" | "detail" | "child" | "gate">) => void this.proposals.push({ ...base, ...r });
    this.seen.set(fingerprint(child, this.components), child.id);
    const childRuns = await this.runOn(child, minibatch.map((t) => ctx.train[t]!), "train", (j) => `m${iteration}.${child.id}.${j}`);
    if ("stoppedBy" in childRuns) return this.budgetStop(childRuns.stoppedBy, `proposal ${iteration}'s child minibatch`);
    if (ctx.signal.aborted) return { reason: "interrupted", detail: `interrupted during proposal ${iteration}` };
    const childRewards = childRuns.ended.map((r) => this.rollouts.rewardOf(r));
    this.log.add("score", `score-${child.id}-minibatch-i${iteration}`, scoreEntry(child.id, "minibatch", estimate(childRewards), false, this.spentOn(childRuns.ended)));
    const gate = minibatchGate(parent.rewards, childRewards, this.gateTokens(parent.runs.map((r) => r.rolloutId), childRuns.ended.map((r) => r.rolloutId)));
    this.recordCandidate(child, iteration, gate.accepted, gate.reason);
    if (!gate.accepted) {
      record({ status: "rejected-by-gate", child: child.id, gate, detail: gate.reason });
      return undefined;
    }
    record({ status: "accepted", child: child.id, gate, detail: gate.reason });
    return this.admit(child, iteration, new Map(), `from ${base.parent}, '${base.component}'`, childRuns.ended);
  }

  /** Scores an accepted candidate on the Pareto tasks it has no reward for yet, and adds it to the pool. */
  private async admit(child: Candidate, iteration: number, known: ReadonlyMap<number, number>, origin: string, trainRuns: Rollout[] = []): Promise<Stop | undefined> {
    const { ctx, settings } = this;
    ctx.progress.phase(`GEPA proposal ${iteration}: scoring ${child.id} on ${this.paretoTasks.length} Pareto validation tasks`, 0);
    const scored = await this.scoreOnPareto(child, known);
    if ("stoppedBy" in scored) return this.budgetStop(scored.stoppedBy, `scoring the accepted ${child.id} on the ${this.paretoTasks.length} Pareto tasks (it passed its gate but is not in the pool)`);
    if (ctx.signal.aborted) return { reason: "interrupted", detail: `interrupted while scoring ${child.id} on the Pareto tasks` };
    const parent = this.member(child.lineage.parents[0]!);
    this.addToPool(child, scored, parent.next, iteration, trainRuns);
    if (child.lineage.kind === "reflection" && this.merges + this.mergesDue < settings.maxMerges) this.mergesDue++;
    ctx.progress.note(`GEPA: ${child.id} (${origin}) scores ${mean(scored.scores).toFixed(3)} on the Pareto tasks`);
    return undefined;
  }

  /**
   * A merge iteration: combines two front candidates that evolved different components, runs the
   * merge on Pareto tasks where its parents differ, and keeps it only if it beats the stronger
   * parent there (the same paired gate as a rewrite). "no-merge" when no pair qualifies: the
   * iteration then makes a rewrite instead.
   */
  private async mergeProposal(iteration: number): Promise<Stop | undefined | "no-merge"> {
    const { ctx, settings } = this;
    const weights = selectionWeights(this.scored());
    const plan = planMerge(
      this.pool.map((m) => ({ id: m.candidate.id, parents: m.candidate.lineage.parents, resources: m.candidate.resources, score: m.mean })),
      weights,
      this.components,
      this.triedPairs,
      { seed: settings.seed, label: `merge.${iteration}` },
    );
    if (!plan) {
      this.mergesDue = 0;
      return "no-merge";
    }
    this.mergesDue--;
    this.merges++;
    this.triedPairs.add(pairKey(...plan.parents));
    const [strong, weak] = plan.parents.map((id) => this.member(id));
    const tasks = mergeTasks(strong!.scores, weak!.scores, settings.minibatchSize, { seed: settings.seed, label: `merge-tasks.${iteration}` });
    const base = { iteration, kind: "merge" as const, parent: strong!.candidate.id, otherParent: weak!.candidate.id, merged: plan.from, parentScore: mean(tasks.map((t) => strong!.scores[t]!)) };
    const record = (r: Pick<ProposalRecord, "status" | "detail" | "child" | "gate" | "reused">) => void this.proposals.push({ ...base, ...r });
    const key = fingerprint({ id: "merge", resources: plan.resources }, this.components);
    const twin = this.seen.get(key);
    if (twin !== undefined) {
      const detail = `the merge of ${plan.parents.join(" and ")} recreates ${twin}`;
      record({ status: "duplicate", detail });
      this.recordUnpublished({ id: `c${iteration}`, origin: "merge", parents: [...plan.parents], edits: templateEdits(strong!.candidate.resources, plan.resources), rationale: null, iteration, detail });
      return undefined;
    }
    const limit = this.budget.wouldExceedRollouts(tasks.length);
    if (limit) return this.budgetStop(limit, `proposal ${iteration}'s merge of ${plan.parents.join(" and ")} (${tasks.length} rollouts)`);
    const { id, found } = await this.childSlot(`c${iteration}`, (c) => c.lineage.kind === "merge" && c.lineage.parents.join() === plan.parents.join());
    const child = found ?? (await publishMerge(ctx.store, this.runId, strong!.candidate, { id, parents: plan.parents, resources: plan.resources, merged: plan.from }));
    this.seen.set(key, child.id);
    ctx.progress.phase(`GEPA proposal ${iteration}: merging ${plan.parents.join(" and ")} (common ancestor ${plan.ancestor}), on ${tasks.length} Pareto tasks where they differ`, 0);
    const ran = await this.runOn(child, tasks.map((t) => ctx.val[this.paretoTasks[t]!]!), "val", (j) => `p.${child.id}.${this.paretoTasks[tasks[j]!]}`);
    if ("stoppedBy" in ran) return this.budgetStop(ran.stoppedBy, `proposal ${iteration}'s merge`);
    if (ctx.signal.aborted) return { reason: "interrupted", detail: `interrupted during proposal ${iteration}` };
    const rewards = ran.ended.map((r) => this.rollouts.rewardOf(r));
    const gate = minibatchGate(tasks.map((t) => strong!.scores[t]!), rewards, this.gateTokens(tasks.map((t) => strong!.tokens[t]!), ran.ended.map((r) => r.rolloutId)));
    const reused = found ? { reused: true } : {};
    this.recordCandidate(child, iteration, gate.accepted, `against ${strong!.candidate.id}: ${gate.reason}`);
    if (!gate.accepted) {
      record({ status: "rejected-by-gate", child: child.id, gate, detail: `against ${strong!.candidate.id}: ${gate.reason}`, ...reused });
      return undefined;
    }
    record({ status: "accepted", child: child.id, gate, detail: `against ${strong!.candidate.id}: ${gate.reason}`, ...reused });
    return this.admit(child, iteration, new Map(tasks.map((t, j) => [t, rewards[j]!])), `merge of ${plan.parents.join(" and ")}`);
  }

  /**
   * The id a new candidate of this iteration gets — or the candidate an earlier run of this runId
   * already made there, when it is the same proposal (`matches`). A resumed run that takes another
   * path (a rollout cut off by the crash ran again and scored differently) gets a fresh suffix
   * instead of clashing with the old candidate.
   */
  private async childSlot(base: string, matches: (found: Candidate) => boolean): Promise<{ id: string; found?: Candidate }> {
    for (let n = 1; ; n++) {
      const id = n === 1 ? base : `${base}.${n}`;
      const found = await findCandidate(this.ctx.store, this.runId, id);
      if (!found) return { id };
      if (matches(found)) return { id, found };
    }
  }

  /**
   * The parent's earlier training runs the reflection also reads (most recent first, on tasks
   * other than this minibatch's, at most `reflectionHistory`): they cost no rollout, and show
   * failures this minibatch may not — more evidence per reflection call.
   */
  private earlierRuns(parent: PoolMember, current: readonly Rollout[]): Rollout[] {
    const tasks = new Set(current.map((r) => canonicalJson(r.input)));
    const seen = new Set<string>();
    const out: Rollout[] = [];
    for (const run of [...parent.trainRuns].reverse()) {
      const task = canonicalJson(run.input);
      if (out.length >= this.settings.reflectionHistory) break;
      if (tasks.has(task) || seen.has(task)) continue;
      seen.add(task);
      out.push(run);
    }
    return out;
  }

  /**
   * The component this proposal rewrites: the parent's next in turn, or — with `componentChoice:
   * "blame"` — the one the evaluator's feedback on its minibatch names.
   */
  private async chooseComponent(parent: PoolMember, runs: readonly Rollout[]): Promise<{ component: string; chosenBy: "round-robin" | "blame" }> {
    if (this.settings.componentChoice === "blame") {
      const reader = this.settings.agents === undefined ? this.ctx.adapter : this.ctx.adapter.with({ agents: this.settings.agents });
      const texts = (await Promise.all(runs.map((rollout) => readRunCalls(this.ctx.store, reader, rollout)))).flatMap((run) => run.feedback.map((f) => f.feedback));
      const blamed = blamedComponent(texts, this.components);
      if (blamed !== undefined) return { component: blamed, chosenBy: "blame" };
    }
    const component = this.components[parent.next % this.components.length]!;
    parent.next++;
    return { component, chosenBy: "round-robin" };
  }

  /**
   * Default components: the prompt templates whose text shaped a call of the first minibatch (of
   * the selected agents, with `agents`).
   */
  private async chooseComponents(templates: string[], runs: Rollout[]): Promise<Stop | undefined> {
    const { ctx, settings } = this;
    const seed = this.pool[0]!.candidate;
    if (settings.components) {
      this.components = [...new Set(settings.components)];
      this.fixed = templates.filter((t) => !this.components.includes(t)).map((name) => ({ name, why: "not named in components" }));
    } else {
      const uses = await componentUse(ctx.store, ctx.adapter, templates.map((name) => [name, templateOf(seed, name)] as [string, PromptTemplateResource]), runs);
      const selection = selectComponents(uses, settings.agents ?? ctx.adapter.options.agents);
      this.components = selection.evolved;
      this.fixed = selection.fixed;
      if (this.fixed.length > 0) ctx.logger.warn(`GEPA: not evolved: ${this.fixed.map((f) => `${f.name} (${f.why})`).join("; ")} — name them in components to evolve them anyway`);
    }
    if (this.components.length === 0) {
      return { reason: "no-components", detail: `no prompt template (${templates.join(", ")}) shaped an LLM call of the seed's first ${runs.length} runs, so there is nothing to evolve: name components explicitly if the agent uses them in a way GEPA cannot see` };
    }
    this.seen.set(fingerprint(seed, this.components), seed.id);
    return undefined;
  }

  /** What GEPA needs from the trainer, checked before anything runs. */
  private checkInputs(): ResourcesSnapshot {
    const { ctx, settings } = this;
    const snapshot = ctx.initialResources;
    if (!snapshot) throw new ValidationError("GEPA", [{ path: "initialResources", message: "GEPA evolves the prompt templates in the trainer's initialResources, and none were given" }]);
    const templates = promptTemplates(snapshot.resources, [LINEAGE_RESOURCE]);
    const issues = [];
    if (templates.length === 0) issues.push({ path: "initialResources", message: "has no prompt_template resource to evolve" });
    issues.push(...templateNameIssues(snapshot.resources, settings.components ?? [], "components", templates));
    if (ctx.train.length === 0) issues.push({ path: "train", message: "GEPA needs training tasks: it reflects on the agent's runs on them" });
    if (ctx.val.length === 0) issues.push({ path: "val", message: "GEPA needs validation tasks: the Pareto front is kept over them" });
    if (issues.length > 0) throw new ValidationError("GEPA", issues);
    return snapshot;
  }

  /** A budget too small for the seed's score and one proposal is refused before anything runs, with the arithmetic. */
  private checkRolloutBudget(): void {
    const { maxRollouts, minibatchSize } = this.settings;
    const proposal = 2 * Math.min(minibatchSize, this.ctx.train.length);
    const check = this.heldOut.rollouts;
    const least = this.paretoTasks.length + proposal + check;
    if (maxRollouts !== undefined && maxRollouts < least) {
      throw new ValidationError("GEPA options", [
        {
          path: "maxRollouts",
          message: `${maxRollouts} is too few: scoring the seed on the ${this.paretoTasks.length} Pareto tasks takes ${this.paretoTasks.length}, one proposal ${proposal} (parent and child on the minibatch) and the final check ${check} (the best and the seed on ${this.heldOut.tasks.length} held-out tasks), so at least ${least}`,
        },
      ]);
    }
  }

  /** The log line that says, before anything runs, what a proposal costs and how many the rollout budget allows. */
  private projection(): string {
    const { settings, ctx } = this;
    const pareto = this.paretoTasks.length;
    const proposal = 2 * Math.min(settings.minibatchSize, ctx.train.length);
    const limits = [settings.maxRollouts && `maxRollouts ${settings.maxRollouts}`, settings.maxOptimizerTokens && `maxOptimizerTokens ${settings.maxOptimizerTokens}`, settings.maxUsd && `maxUsd $${settings.maxUsd}`].filter(Boolean);
    let room = "";
    if (settings.maxRollouts !== undefined) {
      const left = settings.maxRollouts - pareto - this.heldOut.rollouts;
      const most = Math.min(settings.maxProposals, Math.floor(left / proposal));
      const least = Math.min(settings.maxProposals, Math.floor(left / (proposal + pareto)));
      room = ` maxRollouts allows ${least === most ? most : `${least} (if every child is accepted) to ${most} (if none is)`} proposal(s).`;
    }
    return (
      `GEPA run ${this.runId}: ${pareto} Pareto validation tasks (${pareto} rollouts for the seed), ${this.heldOut.rollouts} rollouts kept for the final check, then up to ${settings.maxProposals} proposals of ${proposal} minibatch rollouts and one reflection call each, ` +
      `plus ${pareto} rollouts for each child the gate accepts${settings.maxMerges > 0 ? `; up to ${settings.maxMerges} merge(s) take a proposal's place, with ${Math.min(settings.minibatchSize, pareto)} rollouts each` : ""}.${room} ${limits.length > 0 ? `Limits: ${limits.join(", ")}.` : "No budget limits set."}`
    );
  }

  /** Runs `candidate` on the Pareto tasks (those positions `known` lacks); rewards in task order. */
  private async scoreOnPareto(candidate: Candidate, known: ReadonlyMap<number, number> = new Map()): Promise<{ scores: number[]; rolloutIds: string[] } | { stoppedBy: BudgetLimit }> {
    const missing = indices(this.paretoTasks.length).filter((position) => !known.has(position));
    const ran = await this.runOn(candidate, missing.map((p) => this.ctx.val[this.paretoTasks[p]!]!), "val", (j) => `p.${candidate.id}.${this.paretoTasks[missing[j]!]}`);
    if ("stoppedBy" in ran) return ran;
    const byPosition = new Map(known);
    for (const [j, rollout] of ran.ended.entries()) byPosition.set(missing[j]!, this.rollouts.rewardOf(rollout));
    // Known rewards came from rollouts under the same ids (a merge runs its Pareto tasks as `p.<id>.<task>`).
    const rolloutIds = indices(this.paretoTasks.length).map((p) => this.rollouts.idFor(`p.${candidate.id}.${this.paretoTasks[p]}`));
    return { scores: indices(this.paretoTasks.length).map((p) => byPosition.get(p) ?? Number.NaN), rolloutIds };
  }

  /** Runs `candidate` on `tasks` (ids from `key`), the rollouts in task order. */
  private async runOn(candidate: Candidate, tasks: readonly Task[], mode: "train" | "val", key: (j: number) => string): Promise<{ ended: Rollout[] } | { stoppedBy: BudgetLimit }> {
    const requests = tasks.map((input, j): EnqueueRequest & { rolloutId: string } => ({
      rolloutId: this.rollouts.idFor(key(j)),
      input,
      mode,
      resourcesId: candidate.resourcesId,
      metadata: { gepa: this.runId, candidate: candidate.id, purpose: mode === "train" ? "minibatch" : "pareto" },
    }));
    const ran = await this.rollouts.run(requests);
    if (ran.stoppedBy) return { stoppedBy: ran.stoppedBy };
    const byId = new Map(ran.ended.map((r) => [r.rolloutId, r]));
    // An interrupted wait returns only the rollouts that ended; the caller checks the signal.
    return { ended: requests.flatMap((r) => byId.get(r.rolloutId) ?? []) };
  }

  private budgetStop(limit: BudgetLimit, what: string): Stop {
    const made = this.proposals.filter((p) => p.status !== "stopped").length;
    const accepted = this.proposals.filter((p) => p.status === "accepted").length;
    return { reason: limit, detail: `the ${limit} budget left no room for ${what}, after ${made} proposal(s), ${accepted} accepted` };
  }

  /** The pool as the Pareto rules see it: with tokens only when they are an objective. */
  private scored(): ScoredCandidate[] {
    const withTokens = this.settings.objectives.includes("tokens");
    return this.pool.map((m) => ({ id: m.candidate.id, scores: m.scores, ...(withTokens ? { tokens: m.tokens } : {}) }));
  }

  /**
   * The tokens the gate weighs when they are an objective: the parent's (its rollout ids, or its
   * known per-task counts) against the child's, on the same tasks. Undefined when tokens are not
   * an objective or some count is unknown (the gate then judges on reward alone).
   */
  private gateTokens(parent: ReadonlyArray<string | number>, child: readonly string[]): { parent: number; child: number } | undefined {
    if (!this.settings.objectives.includes("tokens")) return undefined;
    const count = (x: string | number) => (typeof x === "number" ? x : (this.rollouts.tokensOf(x)?.total ?? Number.NaN));
    const sum = (xs: ReadonlyArray<string | number>) => xs.reduce<number>((n, x) => n + count(x), 0);
    const totals = { parent: sum(parent), child: sum(child) };
    return Number.isFinite(totals.parent) && Number.isFinite(totals.child) ? totals : undefined;
  }

  /** What these rollouts spent, for a score entry. */
  private spentOn(rollouts: readonly Rollout[]): { tokens: TokenFigures; tokensPerReward: number | null } {
    return this.rollouts.tokensOfMany(rollouts.map((r) => r.rolloutId));
  }

  private addToPool(candidate: Candidate, pareto: { scores: number[]; rolloutIds: string[] }, next: number, iteration: number, trainRuns: Rollout[] = []): void {
    const { scores, rolloutIds } = pareto;
    const tokens = rolloutIds.map((id) => this.rollouts.tokensOf(id)?.total ?? Number.NaN);
    this.pool.push({ candidate, scores, tokens, mean: mean(scores.filter(Number.isFinite)), next, trainRuns });
    this.log.add("score", `score-${candidate.id}-pareto-${scores.length}`, scoreEntry(candidate.id, "pareto", estimate(scores.filter(Number.isFinite)), false, this.rollouts.tokensOfMany(rolloutIds)));
    this.recordFront(iteration);
  }

  /** The Pareto front and each member's wins, recorded when they changed. */
  private recordFront(iteration: number): void {
    const wins = Object.fromEntries(selectionWeights(this.scored()));
    const front = { iteration, candidateIds: Object.keys(wins), wins };
    const key = canonicalJson({ candidateIds: front.candidateIds, wins });
    if (key === this.lastFront) return;
    this.lastFront = key;
    this.log.add("front", `front-${iteration}`, front);
  }

  /** A published candidate (a rewrite or a merge), with whether its gate let it into the pool. */
  private recordCandidate(child: Candidate, iteration: number, accepted: boolean, detail: string): void {
    const { lineage } = child;
    const parent = this.member(lineage.parents[0]!).candidate;
    this.log.add("candidate", `candidate-${child.id}`, {
      candidateId: child.id,
      resourcesId: child.resourcesId,
      origin: lineage.kind,
      parents: lineage.parents,
      edits: templateEdits(parent.resources, child.resources),
      rationale: lineage.feedback?.text ?? null,
      iteration,
      accepted,
      detail,
    });
  }

  /** A proposal refused before it was published: an unusable rewrite, or one that recreates a known candidate. */
  private recordUnpublished(proposal: { id: string; origin: "reflection" | "merge"; parents: string[]; edits: Array<{ component: string; before: string; after: string }>; rationale: string | null; iteration: number; detail: string }): void {
    const { id, ...rest } = proposal;
    this.log.add("candidate", `candidate-${id}-unpublished`, { candidateId: id, resourcesId: null, ...rest, accepted: false });
  }

  /** Records the `behaviour` entry of what ran since the last one; returns the finding that stops the run, if any. */
  private recordBehaviour(label: string): BehaviourStop | undefined {
    const entry = this.rollouts.takeBehaviour(label);
    if (entry === undefined) return undefined;
    this.behaviour = addCounts(this.behaviour ?? emptyCounts(), entry.counts);
    if (!this.ctx.signal.aborted) this.log.add("behaviour", `behaviour-${label}`, entry);
    return entry.stop ?? undefined;
  }

  private member(id: string): PoolMember {
    return this.pool.find((m) => m.candidate.id === id)!;
  }

  private async finish(seed: Candidate, searchStop: Stop): Promise<Omit<GEPAResult, "record">> {
    const { ctx } = this;
    const scored = this.scored();
    const seedMember = this.pool.find((m) => m.candidate.id === seed.id);
    const bestScored = scored.length === 0 ? undefined : this.settings.objectives.includes("tokens") ? bestByRewardAndTokens(scored, this.settings.tokenWeight) : bestByMean(scored);
    const best = bestScored ? this.member(bestScored.id).candidate : seed;
    const n = this.paretoTasks.length;
    const search = this.searchSentence(best, seed, bestScored, seedMember);
    this.budget.release();
    const check = await heldOutCheck({ ctx, rollouts: this.rollouts, plan: this.heldOut, best, seed, metadata: { gepa: this.runId } });
    recordHeldOut(this.log, this.heldOut, check, { best, seed });
    this.recordBehaviour("final-check");
    const stop: Stop = check.stoppedBy && searchStop.reason !== "interrupted" ? { reason: check.stoppedBy, detail: check.summary } : searchStop;
    let published: GEPAResult["published"] = null;
    if (check.winner && !ctx.signal.aborted) {
      const snapshot = await ctx.store.addResources(check.winner.resources, { resourcesId: snapshotId(this.runId, "best") });
      published = { resourcesId: snapshot.resourcesId, candidate: check.winner.id };
    }
    const summary = ctx.signal.aborted ? `interrupted: nothing was published (${stop.detail}); run again with runId '${this.runId}' to resume` : `${search}. Final check: ${check.summary}`;
    ctx.progress.note(`GEPA run ${this.runId}: ${summary}. Stopped: ${stop.detail}`);
    if (published) ctx.progress.note(`published ${published.resourcesId} (${published.candidate})`);
    const spend = this.budget.spend();
    recordSpend(this.log, spend, this.settings);
    if (spend.unpricedModels.length > 0) ctx.logger.warn(`GEPA: no price for ${spend.unpricedModels.join(", ")}: their calls count as $0 (pass prices to GEPA)`);
    const pareto = (member: PoolMember | undefined) => ({ paretoScore: member ? member.mean : Number.NaN, paretoN: member ? n : 0 });
    return {
      runId: this.runId,
      best: { candidateId: best.id, resourcesId: best.resourcesId, resources: best.resources, ...pareto(bestScored && this.member(bestScored.id)), score: check.best.mean, ci95: check.best.ci95, n: check.best.n },
      seed: { resourcesId: seed.resourcesId, ...pareto(seedMember), score: check.seed.mean, ci95: check.seed.ci95, n: check.seed.n },
      improvement: check.improvement,
      heldOut: check.heldOut,
      verdict: check.verdict,
      summary,
      published,
      components: { evolved: this.components, fixed: this.fixed },
      coverage: await reportCoverage(ctx.store, ctx.logger, `GEPA run ${this.runId}`, this.runId, this.components),
      pool: this.poolEntries(),
      proposals: this.proposals,
      spend,
      reusedRollouts: this.rollouts.reused,
      stoppedBecause: stop.reason,
      stopDetail: stop.detail,
      ...this.rollouts.totals(),
      ...(stop.reason === "behaviour" && this.rollouts.behaviourStop !== undefined ? { stoppedBy: stopOf(this.rollouts.behaviourStop) } : {}),
      ...(this.behaviour === undefined ? {} : { behaviour: this.behaviour }),
    };
  }

  /** What the search found, on the tasks it selected on. */
  private searchSentence(best: Candidate, seed: Candidate, bestScored: ScoredCandidate | undefined, seedMember: PoolMember | undefined): string {
    const n = this.paretoTasks.length;
    if (!bestScored || !seedMember) return "the search scored nothing";
    if (best.id === seed.id) return `no candidate beat the seed on the ${n} Pareto tasks (${seedMember.mean.toFixed(3)})`;
    return `the search's best, ${best.id}, scores ${this.member(best.id).mean.toFixed(3)} against the seed's ${seedMember.mean.toFixed(3)} on the ${n} Pareto tasks it was selected on`;
  }

  private poolEntries(): PoolEntry[] {
    const scored = this.scored();
    const weights = selectionWeights(scored);
    const front = new Set(nonDominated(scored));
    return this.pool.map((m) => ({
      candidateId: m.candidate.id,
      resourcesId: m.candidate.resourcesId,
      kind: m.candidate.lineage.kind,
      parents: m.candidate.lineage.parents,
      component: m.candidate.lineage.component || null,
      merged: m.candidate.lineage.merged,
      feedback: m.candidate.lineage.feedback,
      score: meanScore({ id: m.candidate.id, scores: m.scores }),
      meanTokens: finiteOrNull(meanTokens({ id: m.candidate.id, scores: m.scores, tokens: m.tokens })),
      wins: weights.get(m.candidate.id) ?? 0,
      onFront: front.has(m.candidate.id),
    }));
  }
}

/** The run's header summary: the outcome without the pool and proposals (those are in the log). */
function runSummary(result: Omit<GEPAResult, "record">) {
  const { best, seed, improvement, heldOut, verdict, summary, published, components, spend, stoppedBecause, stopDetail, tokens, tokensPerReward } = result;
  const { resources: _resources, ...bestScores } = best;
  return { best: bestScores, seed, improvement, heldOut, verdict, summary, published, components, spend, proposals: result.proposals.length, poolSize: result.pool.length, stoppedBecause, stopDetail, tokens, tokensPerReward };
}

/** At most 32, and with a rollout budget at most an eighth of what the final check leaves (at least 8). */
function defaultParetoTasks(maxRollouts: number | undefined, finalCheck: number): number {
  if (maxRollouts === undefined) return 32;
  return Math.min(32, Math.max(8, Math.floor((maxRollouts - finalCheck) / 8)));
}


