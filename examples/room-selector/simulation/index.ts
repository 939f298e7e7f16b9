/**
 * The example's offline mode: two simulated, deterministic models behind one OpenAI-compatible
 * endpoint on loopback, served by tracetrain's mock LLM (`tracetrain/testing`). Requests with
 * tools go to the agent model, the rest (APO's critiques and edits) to the optimizer model. They
 * show the pipeline working end to end; they are not a language model.
 */
import { type Responder, startMockLlm } from "tracetrain/testing";
import { loadRooms } from "../rooms.js";
import { type RoomOptimizerModelOptions, roomAgentModel, roomOptimizerModel } from "./models.js";

export { RULES, type RuleId } from "./rules.js";

export interface SimulationOptions {
  /** How the optimizer model behaves (default: helpful). */
  optimizer?: Omit<RoomOptimizerModelOptions, "rooms">;
  /** Chance of a wrong answer from the agent model (default 0). */
  noise?: number;
}

/** Both models as one responder: the agent model answers requests with tools, the optimizer model the rest. */
export function combinedResponder(options: SimulationOptions = {}): Responder {
  const rooms = loadRooms();
  const agentModel = roomAgentModel({ rooms, ...(options.noise === undefined ? {} : { noise: options.noise }) });
  const optimizerModel = roomOptimizerModel({ rooms, ...options.optimizer });
  return (request) => (Array.isArray(request.body.tools) ? agentModel(request) : optimizerModel(request));
}

/** Serves both simulated models on loopback; `port` 0 (the default) picks a free one. */
export async function startSimulatedRoomModels(options: SimulationOptions & { port?: number } = {}): Promise<{ baseUrl: string; close(): Promise<void> }> {
  const llm = await startMockLlm({ responder: combinedResponder(options), ...(options.port === undefined ? {} : { port: options.port }) });
  return { baseUrl: llm.baseUrl, close: () => llm.close() };
}
