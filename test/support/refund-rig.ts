/**
 * Runs an optimizer (GEPA, APO, …) on the refund-desk task with the real example agent (openai
 * SDK, one tool) against the example's simulated models (examples/refund-desk/simulation), and
 * scores resources on held-out tasks the same way.
 */
import OpenAI from "openai";
import { type Algorithm, type APOOptions, type FitResult, type ResourcesMap, type Store, Trainer, type TrainerOptions } from "tracetrain";
import { MemoryStore } from "tracetrain/store";
import { type MockLlm, startMockLlm } from "tracetrain/testing";
import { refundDesk, SEED_PROMPTS } from "../../examples/refund-desk/agent.js";
import { type RefundTask, SPLITS } from "../../examples/refund-desk/orders.js";
import { combinedResponder, type RefundSimulationOptions } from "../../examples/refund-desk/simulation/index.js";

export { combinedResponder, startSimulatedRefundModels } from "../../examples/refund-desk/simulation/index.js";
export { SPLITS };

export const AGENT_MODEL = "refund-agent";

export interface RefundRigOptions extends RefundSimulationOptions {
  store?: Store;
  train?: readonly RefundTask[];
  val?: readonly RefundTask[];
  /** The agent's texts to start from (default the seed prompts); the LLM resource is added. */
  prompts?: Record<string, unknown>;
  /** Trainer options to set as well (the rig runs quietly by default). */
  trainer?: Pick<TrainerOptions, "progress" | "checkEndpoints" | "runners">;
}

export interface RefundRigRun<R> {
  fit: FitResult<R>;
  result: R;
  /** Requests the optimizer model answered, and their prompts in order. */
  optimizerCalls: number;
  optimizerPrompts: string[];
  /** LLM requests the agent made. */
  agentCalls: number;
  warnings: string[];
  store: Store;
}

function quietLogger(warnings: string[]) {
  return { debug() {}, info() {}, warn: (m: string) => void warnings.push(m), error: (m: string) => void warnings.push(m) };
}

/** Runs the algorithm `make` builds (given the optimizer client) on the refund-desk task over a fresh simulated endpoint. */
export async function runRefundAlgorithm<R>(make: (client: APOOptions["client"]) => Algorithm<R>, options: RefundRigOptions = {}): Promise<RefundRigRun<R>> {
  const llm: MockLlm = await startMockLlm({ responder: combinedResponder(options) });
  const store = options.store ?? new MemoryStore();
  const warnings: string[] = [];
  const trainer = new Trainer({
    store,
    runners: 8,
    progress: false,
    logger: quietLogger(warnings),
    handleSignals: false,
    initialResources: { ...(options.prompts ?? SEED_PROMPTS), main: { kind: "llm", baseUrl: llm.baseUrl, model: AGENT_MODEL } } as never,
    algorithm: make(new OpenAI({ baseURL: llm.baseUrl, apiKey: "test", maxRetries: 0 })),
    ...options.trainer,
  });
  try {
    const fit = await trainer.fit(refundDesk, { train: options.train ?? SPLITS.train, val: options.val ?? SPLITS.val });
    // Model calls only: the trainer's endpoint check (GET /v1/models) is not one.
    const bodies = llm.requests.filter((r) => r.method === "POST").map((r) => r.body as { tools?: unknown; messages?: Array<{ content?: unknown }> } | undefined);
    const optimizerPrompts = bodies.filter((b) => !Array.isArray(b?.tools)).map((b) => String(b?.messages?.[0]?.content ?? ""));
    return { fit, result: fit.result, optimizerCalls: optimizerPrompts.length, optimizerPrompts, agentCalls: bodies.length - optimizerPrompts.length, warnings, store };
  } finally {
    await trainer.close();
    await llm.close();
  }
}

/**
 * The mean reward (failures as 0) of the agent with `prompts` on `tasks`, over a fresh simulated
 * endpoint — so the same prompts get the same noise draws, whichever run published them.
 */
export async function scoreRefundPrompts(prompts: ResourcesMap | Record<string, unknown>, tasks: readonly RefundTask[], options: RefundSimulationOptions = {}): Promise<number> {
  const rewards = await refundRewards(prompts, tasks, options);
  return [...rewards.values()].reduce((a, b) => a + b, 0) / tasks.length;
}

/** The reward of the agent with `prompts` on each of `tasks`, by task id; a failed rollout is an error, not a 0. */
export async function refundRewards(prompts: ResourcesMap | Record<string, unknown>, tasks: readonly RefundTask[], options: RefundSimulationOptions = {}): Promise<Map<string, number>> {
  const llm = await startMockLlm({ responder: combinedResponder(options) });
  const warnings: string[] = [];
  const trainer = new Trainer({
    store: "memory",
    runners: 8,
    progress: false,
    logger: quietLogger(warnings),
    handleSignals: false,
    initialResources: { ...prompts, main: { kind: "llm", baseUrl: llm.baseUrl, model: AGENT_MODEL } } as never,
  });
  try {
    const result = await trainer.evaluate(refundDesk, tasks);
    if (result.failed > 0 || result.missingRewards > 0) throw new Error(`${result.failed} of ${tasks.length} evaluation rollouts failed and ${result.missingRewards} gave no reward: ${warnings.join("; ")}`);
    return new Map(result.tasks.map((t) => [taskId(t.task), t.reward ?? 0]));
  } finally {
    await trainer.close();
    await llm.close();
  }
}

function taskId(task: unknown): string {
  if (typeof task === "object" && task !== null && "id" in task && typeof task.id === "string") return task.id;
  throw new Error(`not a refund-desk task: ${JSON.stringify(task)}`);
}
