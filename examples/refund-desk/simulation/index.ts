/**
 * The example's offline mode: two simulated, deterministic models behind one OpenAI-compatible
 * endpoint on loopback, served by tracetrain's mock LLM (`tracetrain/testing`). Requests with
 * tools go to the agent model, the rest (GEPA's reflections, APO's critiques and edits) to the
 * optimizer model. They show the pipeline working end to end; they are not a language model.
 */
import { type Responder, startMockLlm } from "tracetrain/testing";
import { type RefundAgentModelOptions, type RefundOptimizerModelOptions, refundAgentModel, refundOptimizerModel } from "./models.js";

export { RULES, type RuleId, type ComponentKind, decideWith, lookupArguments, rulesStated } from "./rules.js";
export { observedRuns, rankedFixes, refundAgentModel, refundOptimizerModel } from "./models.js";

export interface RefundSimulationOptions extends RefundAgentModelOptions {
  /** How the optimizer model names the components. */
  optimizer?: RefundOptimizerModelOptions;
}

/** Both models as one responder: the agent model answers requests with tools, the optimizer model the rest. */
export function combinedResponder(options: RefundSimulationOptions = {}): Responder {
  const agentModel = refundAgentModel({ ...(options.noise === undefined ? {} : { noise: options.noise }), ...(options.blind === undefined ? {} : { blind: options.blind }) });
  const optimizerModel = refundOptimizerModel(options.optimizer);
  return (request) => (Array.isArray(request.body.tools) ? agentModel(request) : optimizerModel(request));
}

/** Serves both simulated models on loopback; `port` 0 (the default) picks a free one. */
export async function startSimulatedRefundModels(options: RefundSimulationOptions & { port?: number } = {}): Promise<{ baseUrl: string; close(): Promise<void> }> {
  const llm = await startMockLlm({ responder: combinedResponder(options), ...(options.port === undefined ? {} : { port: options.port }) });
  return { baseUrl: llm.baseUrl, close: () => llm.close() };
}
