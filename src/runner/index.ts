/**
 * Running agents: `agent()` wraps an unmodified function; a {@link Runner} pulls rollouts from a
 * store, runs the agent inside a trace and completes the attempt; worker processes do the same in
 * other processes.
 */
export { agent, isAgent, findAgent, importAgent, type Agent, type AgentContext, type AgentFunction, type AgentOptions } from "./agent.js";
export { Runner, type RunnerStats, type StepResult, type AbortCause } from "./runner.js";
export {
  RunnerOptionsSchema,
  WorkerOptionsSchema,
  GraceMsSchema,
  MAX_CONCURRENCY,
  type RunnerOptions,
  type ParsedRunnerOptions,
  type WorkerOptions,
  type ParsedWorkerOptions,
} from "./options.js";
export type { RunnerHooks } from "./hooks.js";
export { runWorker } from "./worker.js";
export { WorkerPool, type WorkerPoolOptions } from "./worker-pool.js";
