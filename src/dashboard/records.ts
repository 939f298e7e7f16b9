/**
 * The parts of the store's wire records the pages read. The browser build cannot import
 * src/types (zod, Node), so this is the reading side of those schemas, kept to what is shown.
 */

export type RolloutStatus = "queuing" | "running" | "requeuing" | "succeeded" | "failed" | "cancelled";
export type RolloutMode = "train" | "val" | "test";

export interface Attempt {
  rolloutId: string;
  attemptId: string;
  sequence: number;
  workerId: string | null;
  status: string;
  startedAt: number;
  endedAt: number | null;
  error: { kind: string; message: string } | null;
  finalReward: number | null;
  spanCount: number;
}

export interface Rollout {
  rolloutId: string;
  input: unknown;
  mode: RolloutMode;
  resourcesId: string | null;
  status: RolloutStatus;
  createdAt: number;
  endedAt: number | null;
  finalReward: number | null;
  attempts: Attempt[];
  config: { heartbeatTimeoutMs?: number };
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** A span whole (`GET …/attempts/:attemptId/spans/:spanId`). */
export interface Span {
  traceId: string;
  spanId: string;
  parentId: string | null;
  name: string;
  startTime: number;
  endTime: number;
  status: { code: string; message?: string };
  attributes: Record<string, unknown>;
  events: Array<{ name: string; time: number; attributes: Record<string, unknown> }>;
  sequence: number;
}

export interface ChatMessage {
  role: string;
  content?: unknown;
  name?: string;
  tool_calls?: unknown[];
  tool_call_id?: string;
}

export interface ChatCall {
  callId: string;
  agentName: string | null;
  model: string | null;
  selected: boolean;
  exclusion: string | null;
  reward: number | null;
  prompt: ChatMessage[];
  /** Null: the call recorded no token ids (text only). */
  promptTokenIds: number[] | null;
  responses: Array<{ message: ChatMessage | null; finishReason: string | null; tokenIds: number[] | null; logprobs: number[] | null }>;
  toolUses: Array<{ id?: string; name: string; arguments?: unknown; result?: unknown; spanId?: string }>;
  problems: string[];
  layers: string[];
  mergedSpanIds: string[];
}

export interface CaptureCoverage {
  layers: Array<{ layer: string; spans: number; calls: number }>;
  merged: number;
  warnings: string[];
}

export interface TraceDiagnostics {
  callsFound: number;
  callsSelected: number;
  callsWithTokenIds: number;
  creditPolicy: string;
  finalReward: number | null;
  summary: string;
  dropped: Array<{ spanId: string; reason: string; detail: string }>;
  warnings: string[];
}

/** Tokens of a set of calls (src/types/tokens.ts `TokenCounts`). */
export interface TokenCountsData {
  input: number;
  output: number;
  total: number;
  calls: number;
  costUsd: number | null;
}

/** What calls spent, and where the counts came from (src/types/tokens.ts `TokenFigures`). */
export interface TokenFiguresData extends TokenCountsData {
  source: "usage" | "counted" | "mixed" | "none";
  callsBySource: { usage: number; counted: number };
  byModel: Record<string, TokenCountsData>;
  unpricedModels: string[];
  judge: TokenCountsData;
}

/** `GET …/attempts/:attemptId/chat`. */
export interface ChatView {
  rolloutId: string;
  attemptId: string;
  agents: string[];
  selection: { agents: string[] | null; credit: string };
  calls: ChatCall[];
  coverage: CaptureCoverage;
  diagnostics: TraceDiagnostics;
  /** Absent from a server older than token accounting. */
  tokens?: TokenFiguresData;
}

/** One span as the waterfall draws it (`GET …/attempts/:attemptId/trace`). */
export interface SpanOutline {
  spanId: string;
  parentId: string | null;
  name: string;
  startTime: number;
  endTime: number;
  sequence: number;
  status: string;
  type: string | null;
  layer: string | null;
  agent: string | null;
  reward: number | null;
}

export interface TraceOutline {
  rolloutId: string;
  attemptId: string;
  spans: SpanOutline[];
}

/** A training run's header (`GET /v1/runs`, `GET /v1/runs/:runId`). */
export interface TrainingRun {
  runId: string;
  algorithm: string;
  status: "running" | "completed" | "stopped" | "failed";
  createdAt: number;
  updatedAt: number;
  config: Record<string, unknown>;
  summary: Record<string, unknown> | null;
  /** Entries in the run's log; also the sequence of the last one. */
  entries: number;
}

/** One entry of a run's log (`GET /v1/runs/:runId/entries`); `data` is read by kind below. */
export interface RunEntry {
  runId: string;
  sequence: number;
  kind: string;
  key: string | null;
  at: number;
  data: Record<string, unknown>;
}

/** `rl.step` data: the fields the RL page draws. */
export interface RLStepData {
  step: number;
  trainReward: number | null;
  valReward?: number;
  zeroAdvantageShare: number;
  mergeRatio: number | null;
  staleness: number;
  seconds: { rollouts: number; adapt: number; train: number; eval: number };
  tokensPerReward?: number | null;
  tokens?: TokenFiguresData;
  totalTokensPerReward?: number | null;
  lengthPenalty?: { mean: number; penalizedShare: number };
  policyVersion: string | number;
  newPolicyVersion: string | number;
}

/** `sft.round` data: what one SFT round kept, trained on and measured (src/types/training-run.ts `SFTRoundEntrySchema`). */
export interface SFTRoundData {
  round: number;
  policyVersion: string | number;
  newPolicyVersion: string | number;
  source: "policy" | "teacher";
  filter: { ended: number; failed: number; noReward: number; excludedByBehaviour: number; noSelectedCalls: number; belowThreshold: number; beyondTopK: number; kept: number };
  stats: { trainReward: number | null; keptReward: number | null; keptShare: number | null; trainedTokens: number | null; valReward?: number };
  seconds: { rollouts: number; adapt: number; train: number; eval: number };
  metrics: Record<string, number | null>;
  tokens?: TokenFiguresData;
  tokensPerReward?: number | null;
}

/** `evaluation` data: a mean reward outside the steps (`initial` is RL's step 0). */
export interface EvaluationData {
  label: string;
  split: "train" | "val" | "test";
  mean: number | null;
  n: number;
  ci95?: [number, number] | null;
}

/** `candidate` data: an APO/GEPA prompt candidate, where it came from and why. */
export interface CandidateData {
  candidateId: string;
  resourcesId: string;
  origin: "seed" | "edit" | "reflection" | "merge";
  parents: string[];
  edits: Array<{ component: string; before: string; after: string }>;
  rationale: string | null;
  iteration: number;
  accepted: boolean;
}

/** `score` data: a candidate's score on a set of tasks; the latest per (candidate, on) is current. */
export interface ScoreData {
  candidateId: string;
  on: string;
  mean: number | null;
  n: number;
  ci95: [number, number] | null;
  tokens?: TokenFiguresData;
  tokensPerReward?: number | null;
}

/** `front` data: the Pareto front (GEPA) or beam (APO) and, for a front, the tasks each candidate wins. */
export interface FrontData {
  iteration: number;
  candidateIds: string[];
  wins?: Record<string, number>;
}

/** `spend` data: what the run has used so far against its limits (null: no limit). */
export interface SpendData {
  rollouts: number;
  optimizerTokens: number;
  usd: number | null;
  limits: { maxRollouts: number | null; maxOptimizerTokens: number | null; maxUsd: number | null };
}

/** A training run was created or updated, or its log grew. */
export interface RunEvent {
  type: "run";
  runId: string;
  status: TrainingRun["status"];
  entries: number;
  at: number;
}

/** A store event, as `GET /v1/events` sends it. */
export type StoreEvent =
  | RunEvent
  | { type: "rollout"; rolloutId: string; status: RolloutStatus }
  | { type: "attempt"; rolloutId: string; attemptId: string; status: string }
  | { type: "spans"; rolloutId: string; attemptId: string; count: number }
  | { type: "resources"; resourcesId: string; version: number };

export type Resource =
  | { kind: "prompt_template"; template: string; engine: "mustache" | "fstring" }
  | { kind: "llm"; baseUrl: string; model: string; apiKey?: string; sampling?: Record<string, unknown>; policyVersion?: string | number }
  | { kind: "json"; value: unknown };

/** An immutable, versioned set of named resources. */
export interface ResourcesSnapshot {
  resourcesId: string;
  version: number;
  createdAt: number;
  resources: Record<string, Resource>;
}

/** A runner process known to the store through its dequeues and heartbeats (`GET /v1/workers`). */
export interface Worker {
  workerId: string;
  status: "idle" | "busy";
  firstSeenAt: number;
  lastSeenAt: number;
  lastDequeueAt: number | null;
  activeAttempts: number;
  stats: Record<string, unknown> | null;
}
