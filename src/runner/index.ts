/**
 * Running agents: `agent()` wraps an unmodified function; a {@link Runner} pulls rollouts from a
 * store, runs the agent inside a trace and completes the attempt; worker processes do the same in
 * other processes.
 */
export { agent, isAgent, findAgent, importAgent, type Agent, type AgentContext, type AgentFunction, type AgentOptions } from "./agent.js";
export { Runner, type RunnerOptions, type RunnerStats, type StepResult, type AbortCause } from "./runner.js";
export type { RunnerHooks } from "./hooks.js";
export { runWorker, type WorkerOptions } from "./worker.js";
export { WorkerPool, type WorkerPoolOptions } from "./worker-pool.js";
