import type { Route } from "../http/index.js";
import type { Store } from "../store/index.js";
import { createOtlpIngestRoute } from "./otlp-ingest.js";
import { createRewardRoute } from "./reward-route.js";
import { type StoreServerOptions, parseStoreServerOptions } from "./options.js";
import { type StoreServer, serveParsed } from "./store-server.js";

/**
 * Serves `options.store` over HTTP with the default routes — OTLP/HTTP trace ingest
 * (`POST /v1/traces`) and the reward endpoint — plus `options.extraRoutes`; a route of yours for
 * the same method and path replaces the default one. Resolves once listening.
 *
 * @example
 * const server = await startStoreServer({ store: createStore("sqlite:./runs/tracetrain.db"), port: 4747 });
 * // runners elsewhere: createStore(server.url)
 */
export async function startStoreServer(options: StoreServerOptions): Promise<StoreServer> {
  const parsed = parseStoreServerOptions(options);
  return serveParsed({ ...parsed, extraRoutes: withDefaultRoutes(parsed.store, parsed.extraRoutes) });
}

/** The caller's routes, then each default route whose method and path none of them takes. */
function withDefaultRoutes(store: Store, routes: readonly Route[]): Route[] {
  const taken = new Set(routes.map((r) => `${r.method} ${r.path}`));
  return [...routes, ...[createOtlpIngestRoute(store), createRewardRoute(store)].filter((r) => !taken.has(`${r.method} ${r.path}`))];
}
