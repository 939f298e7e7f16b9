import type { Route } from "../http/index.js";
import { createOtlpIngestRoute } from "./otlp-ingest.js";
import { createRewardRoute } from "./reward-route.js";
import { createChatViewRoute } from "./chat-view-route.js";
import { createTokensRoute } from "./tokens-route.js";
import { createTraceRoutes } from "./trace-route.js";
import { createDashboardRoutes } from "./dashboard-static.js";
import { type StoreServerOptions, parseStoreServerOptions } from "./options.js";
import { type StoreServer, serveParsed } from "./store-server.js";

/**
 * Serves `options.store` over HTTP with the default routes — OTLP/HTTP trace ingest
 * (`POST /v1/traces`), the reward endpoint and the dashboard (at `/`, with its chat-view route
 * `GET /v1/rollouts/:rolloutId/attempts/:attemptId/chat`, the trace outline `…/trace` and one span
 * `…/spans/:spanId`) — plus `options.extraRoutes`; a route of yours for
 * the same method and path replaces the default one. Resolves once listening.
 *
 * @example
 * const server = await startStoreServer({ store: createStore("sqlite:./runs/tracetrain.db"), port: 4747 });
 * // runners elsewhere: createStore(server.url)
 */
export async function startStoreServer(options: StoreServerOptions): Promise<StoreServer> {
  const parsed = parseStoreServerOptions(options);
  const dashboard = parsed.dashboard === false ? [] : [...createDashboardRoutes(parsed.dashboard === true ? undefined : parsed.dashboard.dir), createChatViewRoute(parsed.store), createTokensRoute(parsed.store), ...createTraceRoutes(parsed.store)];
  return serveParsed({ ...parsed, extraRoutes: withDefaultRoutes(parsed.extraRoutes, [createOtlpIngestRoute(parsed.store), createRewardRoute(parsed.store), ...dashboard]) });
}

/** The caller's routes, then each default route whose method and path none of them takes. */
function withDefaultRoutes(routes: readonly Route[], defaults: readonly Route[]): Route[] {
  const taken = new Set(routes.map((r) => `${r.method} ${r.path}`));
  return [...routes, ...defaults.filter((r) => !taken.has(`${r.method} ${r.path}`))];
}
