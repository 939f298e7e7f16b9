/** Small helpers with no tracetrain vocabulary: error chains, sleeping, bounded concurrency, seeded randomness, duck typing, token counting, loading optional packages, reading dataset files, URLs fit to show. */
export { describeErrorChain, errorChain, errorCode, errorName } from "./error-chain.js";
export { hasMethods } from "./has-methods.js";
export { mapLimited } from "./map-limited.js";
export { o200k } from "./o200k.js";
export { requirePackage } from "./optional-package.js";
export { redactUrl } from "./redact-url.js";
export { SeededRandom, randomFor } from "./random.js";
export { sleep } from "./sleep.js";
export { DATASET_FORMATS, type DatasetFormat, type DatasetOptions, DatasetOptionsSchema, loadDataset } from "./dataset.js";
