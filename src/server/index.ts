export { startStoreServer, type StoreServer, type StoreServerOptions, type ExtraRoute } from "./store-server.js";
export { HttpStore, type HttpStoreOptions } from "./http-store.js";
export { Routes } from "./protocol.js";
export { createOtlpIngestRoute, type OtlpIngestOptions } from "./otlp-ingest.js";
