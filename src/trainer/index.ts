export { Trainer, type FitResult, type DevRollout } from "./trainer.js";
export { DEFAULT_STORE, TrainerOptionsSchema, type TrainerOptions, type ParsedTrainerOptions } from "./options.js";
export { Progress, type ProgressMode } from "./progress.js";
export { formatSpanTree } from "./span-tree.js";
export { behaviourHooks, BehaviourHooksOptionsSchema, type BehaviourHooksOptions } from "./behaviour-hooks.js";
