/**
 * `tracetrain/server`: serve a store over HTTP (runners, trainers and dashboards on other machines
 * use it through `createStore("http://…")`), with OTLP/HTTP trace ingest and a reward endpoint as
 * default routes, and the {@link Route} contract for routes of your own.
 *
 * @packageDocumentation
 */
export { startStoreServer, serveStore, type StoreServer, type StoreServerOptions, createOtlpIngestRoute, type OtlpIngestOptions, createRewardRoute } from "../server/index.js";
export type { Route, RouteContext } from "../http/index.js";
export { Routes } from "../store/index.js";
