/**
 * The route plug-in contract: what a host (the store server) lends a route it did not build.
 * Routes such as OTLP ingest, the reward endpoint and the dashboard implement it; the host only
 * matches method and path and hands over the request, so it never needs to know them.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { ServerMetrics } from "./metrics.js";
import type { Params } from "./router.js";

/** A route the host serves; the handler owns the response (or throws a TracetrainError for the usual JSON error). */
export interface Route {
  /** HTTP method, e.g. `POST`. */
  method: string;
  /** Path pattern; `:name` segments match one path segment each (`/v1/rollouts/:rolloutId`). */
  path: string;
  handle(request: IncomingMessage, response: ServerResponse, body: Buffer, context: RouteContext): Promise<void>;
  /**
   * Served without the bearer token. Only for what holds no data (the dashboard's static shell:
   * a browser cannot send a bearer header when it loads a page). @default false
   */
  public?: boolean;
}

/** What the host lends a route besides the request. */
export interface RouteContext {
  /** The `:name` segments of the path, URL-decoded. */
  params: Params;
  /** The server's metrics (e.g. to count the spans a route ingested). */
  metrics: ServerMetrics;
  /** The server's body limit, for a route that inflates bodies to hold the result to it too. */
  bodyLimitBytes: number;
}
