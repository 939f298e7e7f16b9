/**
 * The store server: one process owns a store and serves it over HTTP to runners, trainers and
 * dashboards elsewhere. The host (`store-server.ts`) serves the store API and whatever routes it
 * is given; `startStoreServer` assembles it with the default plug-in routes.
 */
export { startStoreServer } from "./start.js";
export { serveStore, type StoreServer } from "./store-server.js";
export type { StoreServerOptions, ParsedStoreServerOptions, OtlpIngestOptions, ParsedOtlpIngestOptions } from "./options.js";
export { createOtlpIngestRoute } from "./otlp-ingest.js";
export { createRewardRoute, recordReward } from "./reward-route.js";
