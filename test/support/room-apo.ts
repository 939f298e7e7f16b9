/**
 * Runs APO on the room-selection task with the real example agent (openai SDK, tool calls) against
 * the example's simulated models (examples/room-selector/simulation).
 */
import OpenAI from "openai";
import { type Agent, type Algorithm, APO, type APOOptions, type APOResult, type FitResult, type Store, Trainer, type TrainerOptions } from "tracetrain";
import { MemoryStore } from "tracetrain/store";
import type { RunEntry } from "tracetrain/schemas";
import { interruptible, untilEntry } from "./run-records.js";
import { roomSelector, SEED_PROMPTS } from "../../examples/room-selector/agent.js";
import { type MockLlm, startMockLlm } from "tracetrain/testing";
import { loadRooms, loadRoomTasks, type RoomTask } from "../../examples/room-selector/rooms.js";
import { type SimulationOptions, combinedResponder } from "../../examples/room-selector/simulation/index.js";

export { combinedResponder, startSimulatedRoomModels } from "../../examples/room-selector/simulation/index.js";

export const rooms = loadRooms();
const tasks = await loadRoomTasks();
/** A fixed split of the 57 tasks: every third for training, the rest to score on. */
export const train = tasks.filter((_, i) => i % 3 === 0);
export const val = tasks.filter((_, i) => i % 3 !== 0);

export interface RigOptions extends SimulationOptions {
  store?: Store;
  train?: RoomTask[];
  val?: RoomTask[];
  /** Wraps the optimizer client, e.g. to fail after some calls. */
  wrapClient?: (client: OpenAI) => APOOptions["client"];
  initialResources?: Record<string, unknown>;
  /** A mock LLM to use (and leave running) instead of a fresh one: a resumed run must find the same endpoint. */
  llm?: MockLlm;
  /** The agent to optimize instead of the example's (a variant of it). */
  agent?: Agent<RoomTask>;
  /** Trainer options to set as well (the rig runs quietly, checking endpoints, by default). */
  trainer?: Pick<TrainerOptions, "progress" | "checkEndpoints" | "behaviour">;
}

export interface RigRun<R = APOResult> {
  fit: FitResult<R>;
  result: R;
  /** Requests the optimizer model answered. */
  optimizerCalls: number;
  /** The prompts of those requests, in order. */
  optimizerPrompts: string[];
  /** Their request bodies. */
  optimizerBodies: Array<Record<string, unknown>>;
  /** LLM requests the agent made. */
  agentCalls: number;
  warnings: string[];
  store: Store;
}

export function runApo(apo: Omit<APOOptions, "client">, options: RigOptions = {}): Promise<RigRun> {
  return runRoomAlgorithm((client) => new APO({ model: "mock-optimizer", ...apo, client }), options);
}

/** Runs an optimizer made by `make` (given the optimizer client) on the room task, as {@link runApo} does APO. */
export async function runRoomAlgorithm<R>(make: (client: APOOptions["client"]) => Algorithm<R>, options: RigOptions = {}): Promise<RigRun<R>> {
  const llm: MockLlm = options.llm ?? (await startMockLlm({ responder: combinedResponder(options) }));
  const firstRequest = llm.requests.length;
  const store = options.store ?? new MemoryStore();
  const warnings: string[] = [];
  const logger = { debug() {}, info() {}, warn: (m: string) => void warnings.push(m), error: (m: string) => void warnings.push(m) };
  const client = new OpenAI({ baseURL: llm.baseUrl, apiKey: "test", maxRetries: 0 });
  const trainer = new Trainer({
    store,
    runners: 8,
    progress: false,
    logger,
    handleSignals: false,
    initialResources: (options.initialResources ?? { ...SEED_PROMPTS, main: { kind: "llm", baseUrl: llm.baseUrl, model: "room-agent" } }) as never,
    algorithm: make(options.wrapClient ? options.wrapClient(client) : client),
    ...options.trainer,
  });
  try {
    const fit = await trainer.fit(options.agent ?? roomSelector, { train: options.train ?? train, val: options.val ?? val });
    // Model calls only: the trainer's endpoint check (GET /v1/models) is not one.
    const calls = llm.requests.slice(firstRequest).filter((r) => r.method === "POST");
    const bodies = calls.map((r) => r.body as { tools?: unknown; messages?: Array<{ content?: unknown }> } | undefined);
    const optimizerBodies = bodies.filter((b) => !Array.isArray(b?.tools)) as Array<Record<string, unknown>>;
    const optimizerPrompts = optimizerBodies.map((b) => String((b.messages as Array<{ content?: unknown }> | undefined)?.[0]?.content ?? ""));
    return { fit, result: fit.result, optimizerCalls: optimizerPrompts.length, optimizerPrompts, optimizerBodies, agentCalls: bodies.length - optimizerPrompts.length, warnings, store };
  } finally {
    await trainer.close();
    if (!options.llm) await llm.close();
  }
}

/**
 * Runs the optimizer `make` builds on the room task and interrupts it in process, as Ctrl-C would,
 * once the store's log of run `runId` holds an entry `when` accepts.
 */
export async function runInterrupted<R>(make: (client: APOOptions["client"]) => Algorithm<R>, runId: string, when: (entry: RunEntry) => boolean, options: RigOptions & { store: Store }): Promise<RigRun<R>> {
  let interrupt!: () => void;
  const running = runRoomAlgorithm<R>((client) => {
    const wrapped = interruptible(make(client));
    interrupt = wrapped.interrupt;
    return wrapped.algorithm;
  }, options);
  await untilEntry(options.store, runId, when);
  interrupt();
  return running;
}
