export { agent, isAgent, type Agent, type AgentContext, type AgentFunction, type AgentOptions } from "./agent.js";
export { Runner, type RunnerOptions, type RunnerStats, type StepResult, type AbortCause } from "./runner.js";
export type { RunnerHooks } from "./hooks.js";
