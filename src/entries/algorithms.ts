/**
 * `tracetrain/algorithms`: the {@link Algorithm} contract and what helps write one (`runBatch`,
 * `summarize`, `rolloutTokenSummary`), and the details of the built-in ones — APO's price table and optimizer prompts.
 * `evaluate`, `APO` and `RL` themselves are at the root; RL's backend protocol is in `tracetrain/rl`.
 *
 * @packageDocumentation
 */
export {
  type Algorithm,
  type AlgorithmContext,
  type ProgressReporter,
  evaluate,
  EvaluateOptionsSchema,
  type EvaluateOptions,
  summarize,
  type EvaluationResult,
  type TaskScore,
  runBatch,
  type BatchOptions,
  rolloutTokenSummary,
  APO,
  type APOOptions,
  type APOResult,
  type ChildRecord,
  type RoundRecord,
  type ArmScore,
  type StopReason,
  DEFAULT_PRICES,
  type Price,
  type Spend,
  DEFAULT_APO_PROMPTS,
  type OptimizerPrompts,
  type OptimizerClient,
  promptCoverage,
  coverageOfRun,
  coverageWarning,
  type ComponentCoverage,
  substitutionsResource,
  type RunRecordStats,
  reviewRollouts,
  recordFindings,
  type BehaviourReview,
  type RolloutVerdict,
} from "../algorithms/index.js";
