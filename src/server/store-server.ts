/**
 * The store over HTTP: one process owns a store and serves it to runners, trainers and dashboards
 * on other machines.
 *
 * Built on `node:http` rather than Fastify on purpose: the API is a small fixed set of JSON routes
 * whose bodies the store already validates with zod, and what matters is precise control of
 * connection lifecycles — long-polls that end when the client hangs up, server-sent events with
 * backpressure, graceful shutdown that releases every waiter — plus a hot path with nothing in it
 * but the store call. That is less code on raw `http` than on a framework, and no dependency.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import type { StoreEvent } from "../types/index.js";
import { MAX_SPAN_BATCH, STORE_EVENT_TYPES, TracetrainError, ValidationError, parseOrThrow } from "../types/index.js";
import type { Store } from "../store/index.js";
import {
  AddResourcesBodySchema,
  AddSpansBodySchema,
  EnqueueBodySchema,
  MAX_POLL_MS,
  Routes,
  RunEntriesBodySchema,
  WaitBodySchema,
  resourcesQueryFromParams,
  rolloutQueryFromParams,
  runEntryQueryFromParams,
  runQueryFromParams,
  spanQueryFromParams,
} from "../store/index.js";
import {
  CLIENT_CLOSED,
  ClientGone,
  type Params,
  type Route,
  type RouteContext,
  Router,
  ServerMetrics,
  answerClientError,
  bearerToken,
  closeGracefully,
  disconnectSignal,
  errorBody,
  listenOn,
  parseJsonBody,
  readBody,
  requestUrl,
  sendJson,
  tokenDigest,
  tokenMatches,
  trackedListener,
} from "../http/index.js";
import { type ParsedStoreServerOptions, type StoreServerOptions, parseStoreServerOptions } from "./options.js";

export interface StoreServer {
  /** The base URL, e.g. `http://127.0.0.1:4747`. */
  readonly url: string;
  readonly metrics: ServerMetrics;
  /** Stops accepting connections, ends event streams and long-polls, waits for in-flight requests. */
  close(): Promise<void>;
}

interface Call {
  params: Params;
  query: URLSearchParams;
  body: unknown;
  /** Fires when the client hangs up or the server shuts down (created when first read). */
  readonly signal: AbortSignal;
  response: ServerResponse;
}

/** A handler returns the JSON to send, or STREAMING when it wrote the response itself. */
type Handler = (call: Call) => Promise<unknown>;
const STREAMING = Symbol("streaming");

/**
 * Serves `store` and exactly the routes in `options.extraRoutes`; resolves once listening. The
 * host knows no plug-in: `startStoreServer` (`./start.ts`) is what adds the default routes.
 */
export async function serveStore(options: StoreServerOptions): Promise<StoreServer> {
  return serveParsed(parseStoreServerOptions(options));
}

/** {@link serveStore} with options already parsed (and exposure checked). */
export async function serveParsed(options: ParsedStoreServerOptions): Promise<StoreServer> {
  const { store, host, logger, bodyLimitBytes: bodyLimit } = options;
  const metrics = new ServerMetrics();
  const shutdown = new AbortController();
  const tokenCheck = options.token === undefined ? undefined : tokenDigest(options.token);
  const router = buildRouter(store, metrics, shutdown.signal);
  const extra = new Router<Route>();
  for (const route of options.extraRoutes) extra.add(route.method, route.path, route);
  const inFlight = new Set<Promise<void>>();

  // requireHostHeader off: a request without Host is answered by handle() with our JSON error, not Node's bare 400.
  const server: Server = createServer(
    { requireHostHeader: false },
    trackedListener(inFlight, handle, (error) => logger.error("unexpected failure answering a request", { error })),
  );
  // HTTP that Node's parser itself rejects (no Host, malformed headers, headers too large) gets our
  // JSON error body too, instead of Node's bare status line.
  server.on("clientError", (error: NodeJS.ErrnoException, socket) => answerClientError(error, socket));
  server.on("checkExpectation", (request, response) => {
    sendJson(response, 417, new TracetrainError("validation", `unsupported Expect header: ${request.headers.expect}`).toJSON());
  });
  // Long-polls hold requests open up to MAX_POLL_MS; everything else is far quicker.
  server.requestTimeout = MAX_POLL_MS + 30_000;
  server.headersTimeout = 30_000;
  server.keepAliveTimeout = 65_000;

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const started = performance.now();
    const method = request.method ?? "GET";
    let route = "unmatched";
    let status = 500;
    try {
      if (request.httpVersionMajor === 1 && request.httpVersionMinor === 1 && request.headers.host === undefined) {
        throw new ValidationError("request", [{ path: "host", message: "an HTTP/1.1 request needs a Host header" }]);
      }
      const url = requestUrl(request.url);
      if (url.pathname === "/healthz") {
        route = "/healthz";
        status = sendJson(response, 200, { status: "ok" });
        return;
      }
      const extraMatch = extra.match(method, url.pathname);
      const isPublic = extraMatch !== undefined && extraMatch !== "method" && extraMatch.handler.public === true;
      if (tokenCheck && !isPublic && !tokenMatches(bearerToken(request), tokenCheck)) throw new TracetrainError("unauthorized", "missing or wrong bearer token");
      if (options.readOnly && method !== "GET") throw new TracetrainError("not_supported", `this server is read-only: ${method} ${url.pathname} is refused (only GET requests are served)`);
      if (url.pathname === "/metrics" && method === "GET") {
        route = "/metrics";
        const text = metrics.render(await store.stats());
        response.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" }).end(text);
        status = 200;
        return;
      }
      if (extraMatch && extraMatch !== "method") {
        route = extraMatch.pattern;
        const context: RouteContext = { params: extraMatch.params, metrics, bodyLimitBytes: bodyLimit };
        await extraMatch.handler.handle(request, response, await readBody(request, bodyLimit), context);
        status = response.statusCode;
        return;
      }
      const match = router.match(method, url.pathname);
      if (match === undefined) throw new TracetrainError("not_found", `no route ${method} ${url.pathname}`);
      if (match === "method") throw new TracetrainError("not_found", `${url.pathname} does not accept ${method}`);
      route = match.pattern;
      const body = method === "POST" ? parseJsonBody(await readBody(request, bodyLimit)) : undefined;
      // Only long-polls and streams need to know about a hang-up: build that signal on first use.
      let signal: AbortSignal | undefined;
      const call: Call = {
        params: match.params,
        query: url.searchParams,
        body,
        response,
        get signal() {
          return (signal ??= disconnectSignal(response, shutdown.signal));
        },
      };
      const result = await match.handler(call);
      status = result === STREAMING ? 200 : sendJson(response, 200, result);
    } catch (error) {
      if (error instanceof ClientGone) {
        // Nothing failed here and nobody is left to answer: not an error, not a 5xx.
        status = CLIENT_CLOSED;
        return;
      }
      const { status: code, body } = errorBody(error);
      if (code === 500) logger.error("internal error", { error, method, url: request.url });
      status = response.headersSent ? response.statusCode : sendJson(response, code, body);
      if (code === 413) request.resume(); // drain the rest so the connection can be reused or closed cleanly
    } finally {
      metrics.observe(route, method, status, (performance.now() - started) / 1000);
    }
  }

  const url = await listenOn(server, options.port, host);

  return {
    url,
    metrics,
    async close() {
      if (shutdown.signal.aborted) return;
      shutdown.abort();
      await closeGracefully(server, inFlight);
      if (options.closeStore) await store.close();
    },
  };
}

function buildRouter(store: Store, metrics: ServerMetrics, shutdown: AbortSignal): Router<Handler> {
  const router = new Router<Handler>();
  const add = (name: keyof typeof Routes, handler: Handler) => router.add(Routes[name].method, Routes[name].path, handler);
  const param = (call: Call, name: string) => call.params[name] ?? "";

  add("enqueue", async ({ body }) => {
    const envelope = parseOrThrow(EnqueueBodySchema, body, "enqueue body");
    // `{rollout}` and `{rollouts}` reach enqueue and enqueueMany, so errors name the call the client made.
    if ("rollout" in envelope) return { rollouts: [await store.enqueue(envelope.rollout as never)] };
    return { rollouts: await store.enqueueMany(envelope.rollouts as never) };
  });
  add("startRollout", async ({ body }) => store.startRollout(body as never));
  add("queryRollouts", async ({ query }) => store.queryRollouts(rolloutQueryFromParams(query)));
  add("getRollout", async (call) => store.getRollout(param(call, "rolloutId")));
  add("cancelRollout", async (call) => store.cancelRollout(param(call, "rolloutId"), (call.body ?? {}) as never));
  add("completeAttempt", async (call) => store.completeAttempt(param(call, "rolloutId"), param(call, "attemptId"), call.body as never));
  add("querySpans", async (call) => store.querySpans(spanQueryFromParams(param(call, "rolloutId"), call.query)));
  add("dequeue", async ({ body, signal }) => ({ claimed: await store.dequeue(capWait(body, "waitMs") as never, { signal }) }));
  add("addSpans", async ({ body }) => {
    const { spans } = parseOrThrow(AddSpansBodySchema, body, "spans body");
    // The byte limit is checked as the body arrives; this is the other limit a batch can hit, so its 413 names it too.
    if (spans.length > MAX_SPAN_BATCH) {
      throw new TracetrainError("payload_too_large", `${spans.length} spans in one request, over the limit of ${MAX_SPAN_BATCH} spans; send smaller batches`, { limit: "spans", max: MAX_SPAN_BATCH });
    }
    const result = await store.addSpans(spans as never);
    metrics.spansIngested += result.added;
    return result;
  });
  add("heartbeat", async ({ body }) => store.heartbeat(body as never));
  add("addResources", async ({ body }) => {
    const { resources, resourcesId } = parseOrThrow(AddResourcesBodySchema, body, "resources body");
    return store.addResources(resources as never, resourcesId === undefined ? {} : { resourcesId });
  });
  add("getResources", async (call) => store.getResources(param(call, "resourcesId")));
  add("queryResources", async ({ query }) => store.queryResources(resourcesQueryFromParams(query)));
  add("recordRun", async ({ body }) => store.recordRun(body as never));
  add("queryRuns", async ({ query }) => store.queryRuns(runQueryFromParams(query)));
  add("getRun", async (call) => store.getRun(param(call, "runId")));
  add("addRunEntries", async (call) => {
    const { entries } = parseOrThrow(RunEntriesBodySchema, call.body, "run entries body");
    return store.addRunEntries(param(call, "runId"), entries as never);
  });
  add("queryRunEntries", async (call) => store.queryRunEntries(runEntryQueryFromParams(param(call, "runId"), call.query)));
  add("waitForRollouts", async ({ body, signal }) => {
    const { rolloutIds, timeoutMs } = parseOrThrow(WaitBodySchema, capWait(body, "timeoutMs"), "wait body");
    return { rollouts: await store.waitForRollouts(rolloutIds as string[], { timeoutMs: timeoutMs as number, signal }) };
  });
  add("workers", async () => ({ workers: await store.workers() }));
  add("stats", async () => store.stats());
  add("events", async (call) => streamEvents(store, call, shutdown));
  return router;
}

/** Long-polls are capped so one request never holds a connection for long; clients simply poll again. */
function capWait(body: unknown, key: "waitMs" | "timeoutMs"): unknown {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return body;
  const value = (body as Record<string, unknown>)[key];
  if (value === undefined) return key === "timeoutMs" ? { ...body, [key]: MAX_POLL_MS } : body;
  return typeof value === "number" && value > MAX_POLL_MS ? { ...body, [key]: MAX_POLL_MS } : body;
}

/** A slow reader that lets this much pile up is disconnected rather than allowed to exhaust memory. */
const MAX_EVENT_BACKLOG = 8 * 1024 * 1024;

/** `GET /v1/events[?types=rollout,attempt]`: store events as server-sent events until the client leaves. */
async function streamEvents(store: Store, { query, signal, response }: Call, shutdown: AbortSignal): Promise<typeof STREAMING> {
  const known: readonly string[] = STORE_EVENT_TYPES;
  const wanted = new Set((query.get("types") ?? known.join(",")).split(",").filter(Boolean));
  const unknown = [...wanted].filter((t) => !known.includes(t));
  if (unknown.length > 0) throw new ValidationError("events query", [{ path: "types", message: `unknown event types: ${unknown.join(", ")}` }]);
  response.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
  response.write(": connected\n\n");
  await new Promise<void>((resolve) => {
    const send = (event: StoreEvent) => {
      if (response.writableLength > MAX_EVENT_BACKLOG) {
        response.end("event: error\ndata: {\"message\":\"too slow: the event stream was closed\"}\n\n");
        return finish();
      }
      response.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
    };
    const keepAlive = setInterval(() => response.write(": keep-alive\n\n"), 15_000);
    const types = [...wanted] as Array<StoreEvent["type"]>;
    for (const type of types) store.events.on(type, send as never);
    const finish = () => {
      clearInterval(keepAlive);
      for (const type of types) store.events.off(type, send as never);
      signal.removeEventListener("abort", finish);
      if (!response.writableEnded) response.end();
      resolve();
    };
    signal.addEventListener("abort", finish, { once: true });
    if (shutdown.aborted) finish();
  });
  return STREAMING;
}
