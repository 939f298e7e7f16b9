/**
 * The simulated models of an offline run, served by tracetrain's mock LLM on one loopback port:
 * the desk's agents (`desk-model.ts`) and GEPA's reflection model (`reflection-model.ts`).
 */
import { type MockLlm, startMockLlm } from "tracetrain/testing";
import { deskResponder, type DeskModelOptions } from "./desk-model.js";
import { isReflection, reflectionResponder } from "./reflection-model.js";

export { deskResponder, type DeskModelOptions } from "./desk-model.js";
export { isReflection, rankedFixes, reflectionResponder } from "./reflection-model.js";
export * from "./rules.js";

export function startSimulatedModels(options: DeskModelOptions): Promise<MockLlm> {
  const desk = deskResponder(options);
  return startMockLlm({ responder: (request) => (isReflection(request) ? reflectionResponder(request) : desk(request)) });
}
