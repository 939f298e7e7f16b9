/**
 * GEPA: reflective prompt evolution with Pareto selection (Agrawal et al., arXiv 2507.19457), on
 * any traced agent. Each iteration picks a parent from the Pareto front of per-task best scores
 * (weighted by how many tasks it wins), runs it on a training minibatch, shows the reflection
 * model one component's runs (round-robin over the components), and takes its rewrite as a child.
 * The child runs on the same minibatch and is kept only if it does better there (paired; ties do
 * not pass); kept children are scored on the Pareto validation tasks and join the pool.
 *
 * Internal for now: system-aware merge, evaluator feedback text, the held-out verdict shared with
 * APO and resume come next.
 */
import { randomUUID } from "node:crypto";
import type { EnqueueRequest, PromptTemplateResource, ResourcesSnapshot, Rollout, Task } from "../../types/index.js";
import { TracetrainError, ValidationError } from "../../types/index.js";
import { randomFor } from "../../util/index.js";
import type { Algorithm, AlgorithmContext } from "../algorithm.js";
import { Budget, type BudgetLimit, type Spend } from "../budget.js";
import { rewardOrZero } from "../evaluate.js";
import { MeteredRollouts } from "../metered-rollouts.js";
import { templateNameIssues } from "../optimizer-options.js";
import { Optimizer } from "../optimizer.js";
import { type Candidate, fingerprint, LINEAGE_RESOURCE, publishChild, publishSeed, snapshotId, templateOf } from "./candidates.js";
import { promptTemplates } from "./components.js";
import { type GateVerdict, minibatchGate } from "./gate.js";
import { type GEPAOptions, type GEPASettings, parseGEPAOptions } from "./options.js";
import { bestByMean, meanScore, nonDominated, type ScoredCandidate, selectionWeights, selectParent } from "./pareto.js";
import { reflect } from "./reflection.js";
import { reflectiveDataset, usedComponents } from "./reflective-dataset.js";

/** Why the run ended: all proposals made, a budget, an interruption, or nothing the agent used to evolve. */
export type GEPAStopReason = "completed" | BudgetLimit | "interrupted" | "no-components";

/** What became of one iteration. */
export interface ProposalRecord {
  iteration: number;
  parent: string;
  component?: string;
  /** The parent's mean reward on the minibatch. */
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
  parents: string[];
  /** The component it changed, and the minibatch feedback that caused the change (null for the seed). */
  component: string | null;
  feedback: { rollouts: string[]; score: number; text: string } | null;
  /** Mean reward on the Pareto validation tasks, and how many tasks it wins there (alone or tied). */
  score: number;
  wins: number;
  /** Whether it is on the Pareto front (not dominated). */
  onFront: boolean;
}

export interface GEPAResult {
  runId: string;
  /** The pool candidate with the best mean on the Pareto tasks (ties go to the older one, the seed first). */
  best: { candidateId: string; resourcesId: string; resources: ResourcesSnapshot["resources"]; score: number; n: number };
  seed: { resourcesId: string; score: number; n: number };
  /** Not yet: the held-out paired check of best against seed comes with the next step. */
  verdict: "not checked";
  summary: string;
  /** `<runId>.best`: the best candidate's resources (the seed's when nothing beat it). */
  published: { resourcesId: string; candidate: string } | null;
  /** Which components were evolved, and which prompt templates stayed fixed and why. */
  components: { evolved: string[]; fixed: Array<{ name: string; why: "not named in components" | "never seen in the agent's LLM calls" }> };
  pool: PoolEntry[];
  proposals: ProposalRecord[];
  spend: Spend;
  stoppedBecause: GEPAStopReason;
  /** The stop in a sentence, naming the limit and what it left undone. */
  stopDetail: string;
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
  /** The component it will have evolved next (round-robin per candidate, as in GEPA). */
  next: number;
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
  private optimizer!: Optimizer;
  private maxTemplateLength = 0;

  constructor(
    private readonly ctx: AlgorithmContext,
    private readonly settings: GEPASettings,
  ) {
    this.budget = new Budget({ maxRollouts: settings.maxRollouts, maxOptimizerTokens: settings.maxOptimizerTokens, maxUsd: settings.maxUsd }, settings.priceTable);
  }

  async execute(): Promise<GEPAResult> {
    const { ctx, settings } = this;
    const snapshot = this.checkInputs();
    this.runId = settings.runId ?? `gepa-${randomUUID().slice(0, 8)}`;
    const paretoSize = Math.min(settings.paretoTasks ?? 32, ctx.val.length);
    this.paretoTasks = randomFor(settings.seed, "pareto-tasks").shuffle(indices(ctx.val.length)).slice(0, paretoSize);
    this.checkRolloutBudget();
    this.rollouts = await MeteredRollouts.open(ctx, this.runId, this.budget);
    this.optimizer = new Optimizer(settings.client, { temperature: settings.temperature, maxOutputTokens: settings.maxOutputTokens }, this.budget, ctx.logger);
    const seed = await publishSeed(ctx.store, this.runId, snapshot);
    const templates = promptTemplates(seed.resources, [LINEAGE_RESOURCE]);
    this.maxTemplateLength = settings.maxTemplateLength ?? Math.max(4000, 3 * Math.max(...templates.map((t) => templateOf(seed, t).template.length)));
    ctx.progress.note(this.projection());

    ctx.progress.phase(`GEPA ${this.runId}: scoring the seed on ${paretoSize} Pareto validation tasks`, 0);
    const seedScores = await this.scoreOnPareto(seed);
    let stop: Stop | undefined = "stoppedBy" in seedScores ? this.budgetStop(seedScores.stoppedBy, "scoring the seed on the Pareto tasks") : undefined;
    if (!stop) {
      if (!("stoppedBy" in seedScores)) this.pool.push({ candidate: seed, scores: seedScores.scores, next: 0 });
      stop = await this.evolve(templates);
    }
    return this.finish(seed, stop);
  }

  /** The iterations, until a budget, an interruption or `maxProposals` ends them. */
  private async evolve(templates: string[]): Promise<Stop> {
    const { ctx, settings } = this;
    for (let iteration = 1; iteration <= settings.maxProposals; iteration++) {
      if (ctx.signal.aborted) return { reason: "interrupted", detail: `interrupted after ${iteration - 1} proposal(s)` };
      const stop = await this.iterate(iteration, templates);
      if (stop) return stop;
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
    const component = this.components[parent.next % this.components.length]!;
    parent.next++;
    const parentRewards = parentRuns.ended.map(rewardOrZero);
    const base = { iteration, parent: parent.candidate.id, component, parentScore: mean(parentRewards) };
    const record = (r: Omit<ProposalRecord, keyof typeof base>) => void this.proposals.push({ ...base, ...r });

    if (settings.perfectScore !== null && parentRewards.every((r) => r >= settings.perfectScore!)) {
      record({ status: "skipped", detail: `the parent scored the perfect ${settings.perfectScore} on every minibatch task: nothing to reflect on` });
      return undefined;
    }
    const dataset = await reflectiveDataset(ctx.store, ctx.adapter, component, templateOf(parent.candidate, component), parentRuns.ended);
    if (dataset.records.length === 0) {
      record({ status: "skipped", detail: `'${component}' shaped no LLM call of the ${size} minibatch runs` });
      return undefined;
    }
    const childId = `c${iteration}`;
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
      return undefined;
    }
    const key = fingerprint({ id: childId, resources: { ...parent.candidate.resources, [component]: { ...templateOf(parent.candidate, component), template: outcome.template } } }, this.components);
    const twin = this.seen.get(key);
    if (twin !== undefined) {
      record({ status: "duplicate", detail: twin === parent.candidate.id ? `the rewrite left '${component}' as it was` : `the rewrite recreates ${twin}` });
      return undefined;
    }
    const feedback = { rollouts: parentRuns.ended.map((r) => r.rolloutId), score: dataset.score, text: dataset.text };
    const child = await publishChild(ctx.store, parent.candidate, { id: childId, component, template: outcome.template, feedback, calls: outcome.calls });
    this.seen.set(key, child.id);
    const childRuns = await this.runOn(child, minibatch.map((t) => ctx.train[t]!), "train", (j) => `m${iteration}.${child.id}.${j}`);
    if ("stoppedBy" in childRuns) return this.budgetStop(childRuns.stoppedBy, `proposal ${iteration}'s child minibatch`);
    if (ctx.signal.aborted) return { reason: "interrupted", detail: `interrupted during proposal ${iteration}` };
    const gate = minibatchGate(parentRewards, childRuns.ended.map(rewardOrZero));
    if (!gate.accepted) {
      record({ status: "rejected-by-gate", child: child.id, gate, detail: gate.reason });
      return undefined;
    }
    record({ status: "accepted", child: child.id, gate, detail: gate.reason });
    ctx.progress.phase(`GEPA proposal ${iteration}: scoring ${child.id} on ${this.paretoTasks.length} Pareto validation tasks`, 0);
    const scored = await this.scoreOnPareto(child);
    if ("stoppedBy" in scored) return this.budgetStop(scored.stoppedBy, `scoring the accepted ${child.id} on the ${this.paretoTasks.length} Pareto tasks (it passed the minibatch gate but is not in the pool)`);
    this.pool.push({ candidate: child, scores: scored.scores, next: parent.next });
    ctx.progress.note(`GEPA: ${child.id} (from ${parent.candidate.id}, '${component}') scores ${mean(scored.scores).toFixed(3)} on the Pareto tasks`);
    return undefined;
  }

  /** Default components: the prompt templates whose text shaped a call of the first minibatch. */
  private async chooseComponents(templates: string[], runs: Rollout[]): Promise<Stop | undefined> {
    const { ctx, settings } = this;
    const seed = this.pool[0]!.candidate;
    if (settings.components) {
      this.components = [...new Set(settings.components)];
      this.fixed = templates.filter((t) => !this.components.includes(t)).map((name) => ({ name, why: "not named in components" }));
    } else {
      this.components = await usedComponents(ctx.store, ctx.adapter, templates.map((name) => [name, templateOf(seed, name)] as [string, PromptTemplateResource]), runs);
      const unseen = templates.filter((t) => !this.components.includes(t));
      this.fixed = unseen.map((name) => ({ name, why: "never seen in the agent's LLM calls" }));
      if (unseen.length > 0) ctx.logger.warn(`GEPA: the agent's LLM calls never showed the prompt template(s) ${unseen.join(", ")}: they are not evolved (name them in components to evolve them anyway)`);
    }
    if (this.components.length === 0) {
      return { reason: "no-components", detail: `no prompt template (${templates.join(", ")}) shaped any LLM call of the seed's first ${runs.length} runs, so there is nothing to evolve: name components explicitly if the agent uses them in a way GEPA cannot see` };
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
    const least = this.paretoTasks.length + proposal;
    if (maxRollouts !== undefined && maxRollouts < least) {
      throw new ValidationError("GEPA options", [
        { path: "maxRollouts", message: `${maxRollouts} is too few: scoring the seed on the ${this.paretoTasks.length} Pareto tasks takes ${this.paretoTasks.length} and one proposal ${proposal} (parent and child on the minibatch), so at least ${least}` },
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
      const left = settings.maxRollouts - pareto;
      const most = Math.min(settings.maxProposals, Math.floor(left / proposal));
      const least = Math.min(settings.maxProposals, Math.floor(left / (proposal + pareto)));
      room = ` maxRollouts allows ${least === most ? most : `${least} (if every child is accepted) to ${most} (if none is)`} proposal(s).`;
    }
    return (
      `GEPA run ${this.runId}: ${pareto} Pareto validation tasks (${pareto} rollouts for the seed), then up to ${settings.maxProposals} proposals of ${proposal} minibatch rollouts and one reflection call each, ` +
      `plus ${pareto} rollouts for each child the gate accepts.${room} ${limits.length > 0 ? `Limits: ${limits.join(", ")}.` : "No budget limits set."}`
    );
  }

  /** Runs `candidate` on the Pareto tasks; rewards in task order. */
  private async scoreOnPareto(candidate: Candidate): Promise<{ scores: number[] } | { stoppedBy: BudgetLimit }> {
    const ran = await this.runOn(candidate, this.paretoTasks.map((t) => this.ctx.val[t]!), "val", (j) => `p.${candidate.id}.${this.paretoTasks[j]}`);
    if ("stoppedBy" in ran) return ran;
    return { scores: ran.ended.map(rewardOrZero) };
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

  private scored(): ScoredCandidate[] {
    return this.pool.map((m) => ({ id: m.candidate.id, scores: m.scores }));
  }

  private member(id: string): PoolMember {
    return this.pool.find((m) => m.candidate.id === id)!;
  }

  private async finish(seed: Candidate, stop: Stop): Promise<GEPAResult> {
    const { ctx } = this;
    const scored = this.scored();
    const seedMember = this.pool.find((m) => m.candidate.id === seed.id);
    const bestScored = scored.length > 0 ? bestByMean(scored) : undefined;
    const best = bestScored ? this.member(bestScored.id).candidate : seed;
    let published: GEPAResult["published"] = null;
    if (bestScored && !ctx.signal.aborted) {
      const snapshot = await ctx.store.addResources(best.resources, { resourcesId: snapshotId(this.runId, "best") });
      published = { resourcesId: snapshot.resourcesId, candidate: best.id };
    }
    const weights = selectionWeights(scored);
    const front = new Set(nonDominated(scored));
    const pool: PoolEntry[] = this.pool.map((m) => ({
      candidateId: m.candidate.id,
      resourcesId: m.candidate.resourcesId,
      parents: m.candidate.lineage.parents,
      component: m.candidate.lineage.component || null,
      feedback: m.candidate.lineage.feedback,
      score: meanScore({ id: m.candidate.id, scores: m.scores }),
      wins: weights.get(m.candidate.id) ?? 0,
      onFront: front.has(m.candidate.id),
    }));
    const seedScore = seedMember ? mean(seedMember.scores) : Number.NaN;
    const bestScore = bestScored ? meanScore(bestScored) : Number.NaN;
    const n = this.paretoTasks.length;
    const summary = !bestScored
      ? `nothing scored: ${stop.detail}`
      : best.id === seed.id
        ? `no candidate beat the seed on the ${n} Pareto tasks (${seedScore.toFixed(3)}); the held-out check is not built yet`
        : `${best.id} scores ${bestScore.toFixed(3)} against the seed's ${seedScore.toFixed(3)} on the ${n} Pareto tasks it was selected on (not a held-out check)`;
    ctx.progress.note(`GEPA run ${this.runId}: ${summary}. Stopped: ${stop.detail}`);
    const spend = this.budget.spend();
    if (spend.unpricedModels.length > 0) ctx.logger.warn(`GEPA: no price for ${spend.unpricedModels.join(", ")}: their calls count as $0 (pass prices to GEPA)`);
    return {
      runId: this.runId,
      best: { candidateId: best.id, resourcesId: best.resourcesId, resources: best.resources, score: bestScore, n: bestScored ? n : 0 },
      seed: { resourcesId: seed.resourcesId, score: seedScore, n: seedMember ? n : 0 },
      verdict: "not checked",
      summary,
      published,
      components: { evolved: this.components, fixed: this.fixed },
      pool,
      proposals: this.proposals,
      spend,
      stoppedBecause: stop.reason,
      stopDetail: stop.detail,
    };
  }
}

function indices(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

function mean(xs: readonly number[]): number {
  return xs.length === 0 ? Number.NaN : xs.reduce((a, b) => a + b, 0) / xs.length;
}
