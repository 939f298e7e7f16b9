/**
 * Training runs as the store keeps them: a header per run (algorithm, status, settings, result)
 * and an append-only log of entries (an RL step, an APO/GEPA candidate, a score, the spend so far).
 * Algorithms write them while they run, so any store — and any reader of it, the dashboard first —
 * can show what a run did and follow one in progress, without the process that ran it.
 */
import { z } from "zod";
import { IdSchema, PolicyVersionSchema, TimestampSchema } from "./common.js";
import { JsonObjectSchema } from "./json.js";
import { TokenFiguresSchema } from "./tokens.js";

/** `running` until the algorithm ends it; `stopped` is an interrupted run (Ctrl-C, abort) that may be resumed; a run that spent its budget is `completed`. */
export const RunStatusSchema = z.enum(["running", "completed", "stopped", "failed"]);
export type RunStatus = z.infer<typeof RunStatusSchema>;

/** A lower-case name such as `rl`, `apo`, `gepa`, `rl.step`, `candidate`. */
const NAME_PATTERN = /^[a-z][a-z0-9_.-]*$/;
const NameSchema = z.string().min(1).max(64).regex(NAME_PATTERN, "must be a lower-case name: a–z first, then a–z, 0–9, . _ -");

/** What an algorithm says about its run. The first call creates the run; later ones update it. */
export const RunUpdateSchema = z.strictObject({
  runId: IdSchema,
  /** The algorithm that owns the run; a later update naming another one is refused (two algorithms sharing a runId). */
  algorithm: NameSchema,
  /** `running` when the run is created without one; an update without one keeps the stored status. */
  status: RunStatusSchema.optional(),
  /** The settings the run was started with (JSON), shown as they are. Replaces the stored ones when given. */
  config: JsonObjectSchema.optional(),
  /** The run's result or progress digest (JSON). Replaces the stored one when given. */
  summary: JsonObjectSchema.optional(),
});
export type RunUpdate = z.input<typeof RunUpdateSchema>;
export type ParsedRunUpdate = z.infer<typeof RunUpdateSchema>;

export const TrainingRunSchema = z.object({
  runId: IdSchema,
  algorithm: NameSchema,
  status: RunStatusSchema,
  createdAt: TimestampSchema,
  /** When the header or the log last changed. */
  updatedAt: TimestampSchema,
  config: JsonObjectSchema,
  summary: JsonObjectSchema.nullable(),
  /** Entries in the run's log; also the sequence of the last one. */
  entries: z.number().int().nonnegative(),
});
export type TrainingRun = z.infer<typeof TrainingRunSchema>;

/** One entry to append to a run's log. */
export const RunEntryInputSchema = z.strictObject({
  /** What the entry is, e.g. `rl.step`; readers pick entries by kind (see `RunEntryKinds`). */
  kind: NameSchema,
  /** Makes the entry idempotent: an entry whose key the run's log already has is skipped and counted as a duplicate (a resumed run re-records safely). */
  key: IdSchema.optional(),
  /** When it happened (ms since epoch); the store's clock when left out. */
  at: TimestampSchema.optional(),
  data: JsonObjectSchema,
});
export type RunEntryInput = z.input<typeof RunEntryInputSchema>;
export type ParsedRunEntryInput = z.infer<typeof RunEntryInputSchema>;

export const RunEntriesRequestSchema = z.strictObject({
  runId: IdSchema,
  entries: z.array(RunEntryInputSchema).min(1, "must hold at least one entry").max(1000),
});

export const RunEntrySchema = z.object({
  runId: IdSchema,
  /** 1, 2, 3, … in the order the store received the entries. */
  sequence: z.number().int().min(1),
  kind: NameSchema,
  key: IdSchema.nullable(),
  at: TimestampSchema,
  data: JsonObjectSchema,
});
export type RunEntry = z.infer<typeof RunEntrySchema>;

export const AddRunEntriesResultSchema = z.object({
  added: z.number().int().nonnegative(),
  /** Entries skipped because the log already had their key. */
  duplicates: z.number().int().nonnegative(),
});
export type AddRunEntriesResult = z.infer<typeof AddRunEntriesResultSchema>;

const CursorSchema = z.string().min(1).max(512);

/** Runs, most recently updated first. */
export const RunQuerySchema = z.strictObject({
  algorithm: z.array(NameSchema).max(16).optional(),
  status: z.array(RunStatusSchema).max(4).optional(),
  limit: z.number().int().min(1).max(1000).default(100),
  cursor: CursorSchema.optional(),
});
export type RunQuery = z.input<typeof RunQuerySchema>;
export type ParsedRunQuery = z.infer<typeof RunQuerySchema>;

/** A run's log in sequence order; `afterSequence` reads only what is new since a reader's last look. */
export const RunEntryQuerySchema = z.strictObject({
  runId: IdSchema,
  kind: z.array(NameSchema).max(16).optional(),
  afterSequence: z.number().int().nonnegative().optional(),
  limit: z.number().int().min(1).max(10_000).default(1000),
  cursor: CursorSchema.optional(),
});
export type RunEntryQuery = z.input<typeof RunEntryQuerySchema>;
export type ParsedRunEntryQuery = z.infer<typeof RunEntryQuerySchema>;

/** Resources snapshots, newest version first. */
export const ResourcesQuerySchema = z.strictObject({
  limit: z.number().int().min(1).max(1000).default(100),
  cursor: CursorSchema.optional(),
});
export type ResourcesQuery = z.input<typeof ResourcesQuerySchema>;
export type ParsedResourcesQuery = z.infer<typeof ResourcesQuerySchema>;

// ---- what the built-in algorithms record (the dashboard reads these kinds) -----------------

/** The entry kinds the built-in algorithms write, and the schema of each one's `data`. */
export const RunEntryKinds = {
  rlStep: "rl.step",
  sftRound: "sft.round",
  evaluation: "evaluation",
  candidate: "candidate",
  score: "score",
  front: "front",
  spend: "spend",
  behaviour: "behaviour",
} as const;

/** What a behaviour filter found in some rollouts (a step's, a round's), and what it did. */
export const BehaviourCountsSchema = z.object({
  /** Rollouts reviewed. */
  rollouts: z.number().int().nonnegative(),
  /** Findings in them (per rollout: one finding about a task group counts once for each rollout it names). */
  findings: z.number().int().nonnegative(),
  byDetector: z.record(z.string(), z.number().int().nonnegative()),
  bySeverity: z.record(z.string(), z.number().int().nonnegative()),
  byAction: z.record(z.string(), z.number().int().nonnegative()),
  /** Rollouts whose reward a `penalize` finding lowered. */
  penalized: z.number().int().nonnegative(),
  /** Rollouts left out of training data (`exclude` or `stop`). */
  excluded: z.number().int().nonnegative(),
  /** Sum of the penalties (0 or negative). */
  penalty: z.number().max(0),
});
export type BehaviourCounts = z.infer<typeof BehaviourCountsSchema>;

/** The finding that stopped a run. */
export const BehaviourStopSchema = z.object({
  detector: z.string(),
  rule: z.string(),
  severity: z.string(),
  message: z.string(),
  /** The rollout it was found in (absent for a finding about the run). */
  rolloutId: z.string().optional(),
  attemptId: z.string().optional(),
  /** The finding's span (absent for a finding about the run). */
  findingSpanId: z.string().optional(),
});
export type BehaviourStop = z.infer<typeof BehaviourStopSchema>;

/** `behaviour`: what the behaviour filter found in one step (RL) or round (APO, GEPA). */
export const BehaviourEntrySchema = z.object({
  /** `step-3`, `round-2`, `iteration-5`. */
  label: z.string().min(1).max(128),
  counts: BehaviourCountsSchema,
  /** Findings about the run as a whole (run detectors), with the action each got. */
  runFindings: z.array(z.object({ detector: z.string(), rule: z.string(), severity: z.string(), message: z.string(), action: z.string() })).default([]),
  /** The finding that stops the run after this step or round, if one did. */
  stop: BehaviourStopSchema.nullable(),
});
export type BehaviourEntry = z.infer<typeof BehaviourEntrySchema>;

/** `rl.step`: one RL step, as its progress line reports it (RL's `StepRecord`). */
export const RLStepEntrySchema = z.object({
  step: z.number().int().min(1),
  /**
   * The policy the update started from (in `sync` mode, the one every rollout of the step sampled
   * from; in `async` mode they may be up to `maxStaleness` versions older), and the one it produced.
   */
  policyVersion: PolicyVersionSchema,
  newPolicyVersion: PolicyVersionSchema,
  trainReward: z.number().nullable(),
  /** Mean validation reward after this step's update, when the step evaluated. */
  valReward: z.number().optional(),
  /** Rollouts run for the step, refills included. */
  rollouts: z.number().int().nonnegative(),
  /**
   * Rollouts left out of the batch: failed for an infrastructure reason, without a reward, or (in
   * `async` mode) with a sample more than `maxStaleness` versions behind the update.
   */
  dropped: z.object({ failed: z.number().int(), noReward: z.number().int(), stale: z.number().int() }),
  /** Groups run, refills included. */
  groups: z.number().int().nonnegative(),
  /** Share of the step's groups (refills included) whose rollouts all scored alike: no signal, left out of the batch. */
  zeroAdvantageShare: z.number(),
  /** Dynamic sampling: refill rounds and groups run, the rollouts they added, and the no-signal share of the step's first groups. */
  refill: z.object({ rounds: z.number().int(), groups: z.number().int(), rollouts: z.number().int(), initialZeroAdvantageShare: z.number() }),
  samples: z.number().int().nonnegative(),
  samplesPerRollout: z.number(),
  /** Mean share of a rollout's calls merged into fewer samples (1: all in one, 0: none merged). */
  mergeRatio: z.number().nullable(),
  /** Calls recorded without token ids, which cannot be trained on and were left out. */
  textOnlyCalls: z.number().int().nonnegative(),
  /** Mean policy-version lag of the batch's samples behind the policy the update started from (0: all from it). */
  staleness: z.number(),
  /** Wall time per phase, in seconds (in `async` mode a step's rollouts overlap the previous update). */
  seconds: z.object({ rollouts: z.number(), adapt: z.number(), train: z.number(), eval: z.number() }),
  /** What the backend reported for the update. */
  metrics: z.record(z.string(), z.number().nullable()),
  /** Requests the update was sent in (more than 1 when the backend refused the whole step as too large; 0 when no update was sent). */
  chunks: z.number().int().nonnegative(),
  /** The step's update was skipped: no sample carried a learning signal, or the backend had applied it already. */
  skipped: z.enum(["no signal", "already applied"]).optional(),
  /**
   * Tokens the policy sampled for the step's rollouts per unit of train reward they earned (their
   * total reward): absent when some call of the step was recorded without token ids, null when
   * the rollouts earned no positive reward.
   */
  tokensPerReward: z.number().nullable().optional(),
  /** What every LLM call of the step's rollouts spent (refills and dropped rollouts included; judges apart), from usage or counted. */
  tokens: TokenFiguresSchema.optional(),
  /** `tokens.total` over the train reward of the rollouts judged (Σ tokens / Σ reward); null when that reward is ≤ 0. */
  totalTokensPerReward: z.number().nullable().optional(),
  /** The length penalty's effect on the rollouts judged: mean reward change (≤ 0) and the share it changed; absent without one. */
  lengthPenalty: z.object({ mean: z.number(), penalizedShare: z.number().min(0).max(1) }).optional(),
  /** What the behaviour filter found in the step's training rollouts and did (absent without a filter). */
  behaviour: BehaviourCountsSchema.optional(),
});
export type RLStepEntry = z.infer<typeof RLStepEntrySchema>;

/** `sft.round`: one SFT round — sample, filter, supervised update, evaluate — as its progress line reports it. */
export const SFTRoundEntrySchema = z.object({
  round: z.number().int().min(1),
  /** The policy the round's training rollouts sampled from (the student's, also when a teacher collected), and the one its update produced. */
  policyVersion: PolicyVersionSchema,
  newPolicyVersion: PolicyVersionSchema,
  /** Who wrote the trajectories: the policy itself (rejection sampling) or a teacher model (distillation). */
  source: z.enum(["policy", "teacher"]),
  /** Rollouts run for the round. */
  rollouts: z.number().int().nonnegative(),
  /**
   * What each filter did, in the order they run: rollouts that ended, then those left out as failed,
   * without a reward, excluded by the behaviour filter, without a call of the selected agents,
   * below the reward threshold, or beyond the top-k of their task group; `kept` is what remains.
   */
  filter: z.object({
    ended: z.number().int().nonnegative(),
    failed: z.number().int().nonnegative(),
    noReward: z.number().int().nonnegative(),
    excludedByBehaviour: z.number().int().nonnegative(),
    noSelectedCalls: z.number().int().nonnegative(),
    belowThreshold: z.number().int().nonnegative(),
    beyondTopK: z.number().int().nonnegative(),
    kept: z.number().int().nonnegative(),
  }),
  /**
   * The round's figures in one object (token efficiency adds its own here): the mean reward of the
   * rollouts judged and of those kept, the share kept, the tokens trained on (null for chat
   * samples, which the backend tokenizes), and the mean validation reward after the update when
   * the round evaluated.
   */
  stats: z.object({
    trainReward: z.number().nullable(),
    keptReward: z.number().nullable(),
    keptShare: z.number().nullable(),
    trainedTokens: z.number().int().nonnegative().nullable(),
    valReward: z.number().optional(),
  }),
  /** What was sent: exact token samples (with loss masks), chat samples (rendered by the backend), or nothing. */
  samples: z.object({ kind: z.enum(["tokens", "chat", "none"]), count: z.number().int().nonnegative() }),
  /** Selected calls of the kept rollouts recorded without token ids. */
  textOnlyCalls: z.number().int().nonnegative(),
  /** Wall time per phase, in seconds. */
  seconds: z.object({ rollouts: z.number(), adapt: z.number(), train: z.number(), eval: z.number() }),
  /** What the backend reported for the update. */
  metrics: z.record(z.string(), z.number().nullable()),
  /** Requests the update was sent in (0 when none was sent). */
  chunks: z.number().int().nonnegative(),
  /** No update: no rollout passed the filters, or the backend had applied the step already. */
  skipped: z.enum(["nothing kept", "already applied"]).optional(),
  /** What the behaviour filter found in the round's rollouts and did (only with a filter). */
  behaviour: BehaviourCountsSchema.optional(),
  /** What the round's collection rollouts spent — all of them, kept or not (the teacher's calls when distilling). */
  tokens: TokenFiguresSchema.optional(),
  /** `tokens.total` over the reward of the rollouts judged (Σ tokens / Σ reward); null when that reward is ≤ 0. */
  tokensPerReward: z.number().nullable().optional(),
});
export type SFTRoundEntry = z.infer<typeof SFTRoundEntrySchema>;

/** `evaluation`: a mean reward on a split outside the steps (RL's validation before the first step, a held-out check). */
export const EvaluationEntrySchema = z.object({
  /** What was scored: `initial`, `final`, `held-out`, or a candidate id. */
  label: z.string().min(1).max(128),
  split: z.enum(["train", "val", "test"]),
  mean: z.number().nullable(),
  n: z.number().int().nonnegative(),
  ci95: z.tuple([z.number(), z.number()]).nullable().optional(),
});
export type EvaluationEntry = z.infer<typeof EvaluationEntrySchema>;

/** A changed component of a candidate: its text before (the parent's) and after. */
export const ComponentEditSchema = z.object({
  component: z.string().min(1),
  before: z.string(),
  after: z.string(),
});

/** `candidate`: a prompt candidate proposed by APO or GEPA, with where it came from and why. */
export const CandidateEntrySchema = z.object({
  candidateId: z.string().min(1).max(128),
  /**
   * The resources snapshot that holds it; null for a proposal refused before it was published (an
   * unusable edit, a duplicate). A resumed run that asks again where it was refused may then record
   * the same candidateId once more, published.
   */
  resourcesId: IdSchema.nullable(),
  /** seed, an APO edit, a GEPA reflection or a GEPA merge. */
  origin: z.enum(["seed", "edit", "reflection", "merge"]),
  parents: z.array(z.string()),
  /** The components it changed against its first parent (none for the seed). */
  edits: z.array(ComponentEditSchema),
  /** The critique or evaluator feedback that led to the edit. */
  rationale: z.string().nullable(),
  /** Round (APO) or iteration (GEPA) that made it. */
  iteration: z.number().int().nonnegative(),
  /** Whether it passed the gate into the pool (false: proposed and rejected). */
  accepted: z.boolean(),
  /** Why it was accepted or rejected, in words (the gate's reason, the edit's problem). */
  detail: z.string().nullable().optional(),
});
export type CandidateEntry = z.infer<typeof CandidateEntrySchema>;

/** `score`: a candidate's score on a set of tasks; the latest entry per (candidate, on) is current. */
export const ScoreEntrySchema = z.object({
  candidateId: z.string().min(1).max(128),
  /** Which scores: `minibatch`, `pareto`, `val`, `held-out`. */
  on: z.string().min(1).max(64),
  mean: z.number().nullable(),
  n: z.number().int().nonnegative(),
  ci95: z.tuple([z.number(), z.number()]).nullable(),
  /** What the scored rollouts' LLM calls spent (judges apart); absent in records written before tokens were counted. */
  tokens: TokenFiguresSchema.optional(),
  /** Σ tokens / Σ reward over the scored rollouts; null when their rewards sum to ≤ 0. */
  tokensPerReward: z.number().nullable().optional(),
});
export type ScoreEntry = z.infer<typeof ScoreEntrySchema>;

/** `front`: the current Pareto front (GEPA) or beam (APO) — the candidates still in play. */
export const FrontEntrySchema = z.object({
  iteration: z.number().int().nonnegative(),
  candidateIds: z.array(z.string()),
  /** For a Pareto front: per candidate, the tasks it wins (best score among the front). */
  wins: z.record(z.string(), z.number().int().nonnegative()).optional(),
});
export type FrontEntry = z.infer<typeof FrontEntrySchema>;

/** `spend`: what the run has used so far, and its limits (null: no limit). */
export const SpendEntrySchema = z.object({
  rollouts: z.number().int().nonnegative(),
  optimizerTokens: z.number().int().nonnegative(),
  usd: z.number().nonnegative().nullable(),
  limits: z.object({
    maxRollouts: z.number().nullable(),
    maxOptimizerTokens: z.number().nullable(),
    maxUsd: z.number().nullable(),
  }),
});
export type SpendEntry = z.infer<typeof SpendEntrySchema>;

/** The schema of each built-in entry kind's `data`, by kind: what writers check against and readers parse with. */
export const RunEntryDataSchemas = {
  [RunEntryKinds.rlStep]: RLStepEntrySchema,
  [RunEntryKinds.sftRound]: SFTRoundEntrySchema,
  [RunEntryKinds.evaluation]: EvaluationEntrySchema,
  [RunEntryKinds.candidate]: CandidateEntrySchema,
  [RunEntryKinds.score]: ScoreEntrySchema,
  [RunEntryKinds.front]: FrontEntrySchema,
  [RunEntryKinds.spend]: SpendEntrySchema,
  [RunEntryKinds.behaviour]: BehaviourEntrySchema,
} as const;
