/**
 * tracetrain — train AI agents from their own traces.
 *
 * The root entry is what most applications need: wrap an agent, train or evaluate it, read the
 * records. It loads no native module. Everything else sits behind a subpath:
 * `tracetrain/store` (store backends), `tracetrain/postgres`, `tracetrain/server`,
 * `tracetrain/gateway`, `tracetrain/adapters`, `tracetrain/algorithms`, `tracetrain/rl`,
 * `tracetrain/instrumentations`, `tracetrain/otel`, `tracetrain/schemas` (the zod schemas) and
 * `tracetrain/testing` (a mock LLM server and the store conformance suite).
 *
 * @packageDocumentation
 */

// Agent side: wrap an unmodified function; record rewards and steps by hand where you want to.
export { agent, type Agent, type AgentContext, type AgentFunction, type AgentOptions } from "./runner/index.js";
export { emitReward, withReward, emitMessage, emitObject, emitException, operation, withAgent } from "./tracer/index.js";
export type { RewardOptions, RewardWithFeedback } from "./types/index.js";

// Tracing without a trainer.
export { Tracer, type TracerOptions, type TraceOptions, type TraceOutcome } from "./tracer/index.js";

// Running and training.
export { createStore, type CreateStoreOptions, type Store, type StoreOptions } from "./store/index.js";
export { Runner, type RunnerOptions } from "./runner/index.js";
export { Trainer, type TrainerOptions, type FitResult } from "./trainer/index.js";

// Datasets: JSONL, JSON or CSV files of tasks, with `file:line` errors.
export { loadDataset, type DatasetOptions, type DatasetFormat } from "./util/index.js";

// Algorithms and the adapter that turns spans into their training data.
export { evaluate, type EvaluationResult, APO, type APOOptions, type APOResult, GEPA, type GEPAOptions, type GEPAResult, RL, type RLOptions, type RLResult, SFT, type SFTOptions, type SFTResult } from "./algorithms/index.js";
export type { Algorithm, AlgorithmContext } from "./algorithms/index.js";
export { TraceAdapter, type TraceAdapterOptions, type AdaptResult } from "./adapters/index.js";

// The behaviour filter: detectors, a policy for their findings, findings as spans of the trace.
export { BehaviourFilter, type BehaviourFilterOptions, type Detector, type RecordedFinding, findingsOf } from "./adapters/index.js";
export { behaviourHooks, type BehaviourHooksOptions } from "./trainer/index.js";
export type { Finding, FindingSeverity, BehaviourAction } from "./types/index.js";

// Records (their zod schemas are in `tracetrain/schemas`).
export type {
  Task,
  Rollout,
  RolloutConfig,
  Attempt,
  Span,
  SpanInput,
  Resource,
  ResourcesMap,
  ResourcesSnapshot,
  Transition,
  Trajectory,
  ChatMessage,
  TraceReport,
  TokenFigures,
  JsonValue,
  Logger,
} from "./types/index.js";
export { consoleLogger, jsonLogger } from "./types/index.js";

// Errors: every error tracetrain throws on purpose is a TracetrainError with a machine `code`.
export {
  TracetrainError,
  NotFoundError,
  ConflictError,
  ValidationError,
  DatasetError,
  type DatasetProblem,
  StoreClosedError,
  StoreUnavailableError,
  MissingDependencyError,
  type ErrorCode,
} from "./types/index.js";
