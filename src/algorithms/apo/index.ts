export { APO, type APOResult, type ChildRecord, type RoundRecord, type ArmScore, type StopReason } from "./apo.js";
export type { APOOptions } from "./options.js";
export { DEFAULT_PRICES, type Price, type Spend } from "../budget.js";
export { DEFAULT_PROMPTS as DEFAULT_APO_PROMPTS, type OptimizerPrompts } from "./prompts.js";
export type { OptimizerClient } from "../optimizer.js";
