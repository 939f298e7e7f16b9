/**
 * HTTP plumbing shared by everything in tracetrain that serves HTTP — the store server, the LLM
 * gateway, the RL backend server: body reading with limits, bearer tokens, loopback checks,
 * graceful close, a table router, JSON errors with their status codes, Prometheus metrics, and the
 * route plug-in contract.
 */
export * from "./http-common.js";
export { STATUS_OF, errorBody, errorFromBody } from "./http-errors.js";
export { MAX_JSON_DEPTH, parseJsonBody, parseJsonWithin, sendJson } from "./json.js";
export { RequestMetrics, ServerMetrics, metricLines } from "./metrics.js";
export { retryAfterMs } from "./retry-after.js";
export { Router, type Params } from "./router.js";
export type { Route, RouteContext } from "./route.js";
export { listenerFields, parseListenerOptions } from "./listener-options.js";
