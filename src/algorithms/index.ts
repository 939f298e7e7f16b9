export type { Algorithm, AlgorithmContext, ProgressReporter } from "./algorithm.js";
export { evaluate, summarize, EvaluateOptionsSchema, type EvaluateOptions, type EvaluationResult, type TaskScore } from "./evaluate.js";
export { runBatch, type BatchOptions } from "./rollout-batch.js";
export { promptCoverage, coverageOfRun, coverageWarning, type ComponentCoverage } from "./coverage.js";
export { substitutionsResource, withSubstitutions } from "./substitutions.js";
export type { RunRecordStats } from "./run-log.js";
export * from "./apo/index.js";
export * from "./rl/index.js";
export * from "./gepa/index.js";
