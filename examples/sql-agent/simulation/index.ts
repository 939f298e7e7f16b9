/**
 * The example's offline mode: the simulated writer, checker, rewriter and optimizer models
 * (`models.ts`) behind one OpenAI-compatible endpoint on loopback, served by tracetrain's mock LLM.
 * They show the pipeline working end to end, deterministically; they are not a language model.
 */
import { type MockLlm, startMockLlm } from "tracetrain/testing";
import { sqlModels } from "./models.js";

export { sqlModels } from "./models.js";
export { RULES, rulesStated, type RuleId } from "./rules.js";

export function startSqlModels(seed: number): Promise<MockLlm> {
  return startMockLlm({ responder: sqlModels(seed) });
}
