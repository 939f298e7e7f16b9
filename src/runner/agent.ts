import { pathToFileURL } from "node:url";
import type { JsonValue, LlmResource, ResourcesMap, RolloutMode } from "../types/index.js";
import { z } from "zod";
import { IdSchema, ValidationError, parseOrThrow } from "../types/index.js";
import type { PromptTemplate } from "../types/index.js";

/** What an agent gets besides its task: where it is, what it may use, and when to stop. */
export interface AgentContext {
  /**
   * Which rollout this is. Delivery is at least once — a runner that dies after the agent
   * returned but before the result was stored gets the rollout retried, and the agent runs again —
   * so an agent with side effects (sending a message, writing a file, charging a card) keys them
   * by `rolloutId`, the same on every attempt, and can tell a rerun by `attempt` > 1.
   */
  readonly rollout: {
    /** The rollout: the same on every attempt — the idempotency key for side effects. */
    readonly rolloutId: string;
    /** This attempt: a new id on each retry. */
    readonly attemptId: string;
    /** This attempt's number: 1 for the first run, 2 for the first retry, … */
    readonly attempt: number;
    readonly mode: RolloutMode;
  };
  /** Every resource of the rollout's snapshot, by name. */
  readonly resources: ResourcesMap;
  /** The LLM resource `name`, or the only LLM resource when no name is given. */
  llm(name?: string): LlmResource;
  /** The prompt template resource `name`, or the only one when no name is given. */
  prompt(name?: string): PromptTemplate;
  /** The value of the JSON resource `name`. */
  json(name: string): JsonValue;
  /** Fires when the attempt is cancelled, times out or the runner shuts down. Pass it to your fetch/SDK calls. */
  readonly signal: AbortSignal;
}

/** An agent's function: returns the outcome reward, or nothing when it emits rewards itself. */
export type AgentFunction<T> = (task: T, ctx: AgentContext) => Promise<number | void> | number | void;

export const AgentOptionsSchema = z.strictObject({
  /** The agent's name. @default the function's name, or `"agent"` */
  name: z.string().min(1).optional(),
  /** Resource names the agent needs; checked against the resources before any rollout runs. @default [] */
  resources: z.array(IdSchema).default(() => []),
  /**
   * The module that exports this agent — pass `import.meta.url`. Worker processes and remote
   * runners import it to get the agent (they find it among the module's exports by name).
   * @default none: the agent runs only in this process
   */
  module: z.union([z.string().min(1), z.instanceof(URL)]).optional(),
});

export type AgentOptions = z.input<typeof AgentOptionsSchema>;
export type ParsedAgentOptions = z.output<typeof AgentOptionsSchema>;

const AGENT = Symbol.for("tracetrain.agent");

/** A wrapped agent, ready for a Runner or a Trainer. */
export interface Agent<T = unknown> {
  readonly [AGENT]: true;
  readonly name: string;
  readonly requiredResources: readonly string[];
  /** The URL of the module exporting this agent, when given. */
  readonly module: string | undefined;
  run(task: T, ctx: AgentContext): Promise<number | void>;
}

/**
 * Wraps an existing agent function — unchanged — for training. The function receives the task
 * and a context (resources, rollout ids, an abort signal); it may return the outcome reward or
 * call `emitReward` itself.
 */
export function agent<T = unknown>(fn: AgentFunction<T>, options: AgentOptions = {}): Agent<T> {
  if (typeof fn !== "function") {
    throw new ValidationError("agent", [{ path: "fn", message: `expected the agent function, got ${fn === null ? "null" : typeof fn}` }]);
  }
  const parsed = parseOrThrow(AgentOptionsSchema, options, "agent options");
  return {
    [AGENT]: true,
    name: parsed.name ?? (fn.name || "agent"),
    requiredResources: parsed.resources,
    module: parsed.module === undefined ? undefined : String(parsed.module),
    run: async (task, ctx) => fn(task, ctx),
  };
}

/** Whether `value` was made by {@link agent}. */
export function isAgent(value: unknown): value is Agent<unknown> {
  return typeof value === "object" && value !== null && (value as { [AGENT]?: unknown })[AGENT] === true;
}

/**
 * The agent a module exports: the one named `name` if given, else the only agent it exports.
 * Errors say what the module does export, so a wrong path or name is quick to fix.
 */
export function findAgent(exports: Record<string, unknown>, name: string | undefined, where: string): Agent<unknown> {
  const agents = Object.values(exports).filter(isAgent);
  const found = name === undefined ? (agents.length === 1 ? agents[0] : undefined) : agents.find((a) => a.name === name);
  if (found) return found;
  const list = agents.map((a) => `'${a.name}'`).join(", ") || "none";
  const wanted = name === undefined ? (agents.length > 1 ? "exactly one agent (name the one you want)" : "an agent made with agent(fn)") : `an agent named '${name}'`;
  throw new ValidationError("agent module", [{ path: where, message: `expected ${wanted}; the module exports these agents: ${list}` }]);
}

/** Imports the agent module at `path` (a file path or a URL) and finds its agent (see {@link findAgent}). */
export async function importAgent(path: string, name: string | undefined): Promise<Agent<unknown>> {
  const moduleUrl = /^[a-z]+:/i.test(path) ? path : pathToFileURL(path).href;
  return findAgent((await import(moduleUrl)) as Record<string, unknown>, name, path);
}
