export { Trainer, DEFAULT_STORE, type TrainerOptions, type FitResult, type DevRollout } from "./trainer.js";
export { Progress, type ProgressMode } from "./progress.js";
export { formatSpanTree } from "./span-tree.js";
