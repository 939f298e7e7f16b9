/**
 * The LLM gateway: an OpenAI-compatible HTTP proxy that attributes every call to a rollout
 * attempt (by its URL prefix) and records it — with the exact token ids and logprobs the engine
 * sampled — into the store, for agents that cannot be instrumented in-process: another language,
 * a CLI tool, a sandboxed container. See scope.ts for the URL scheme, capture.ts for token
 * capture, relay.ts for streaming, gate.ts for pausing around weight updates.
 *
 * Built on node:http rather than a framework: a proxy needs raw control of both sockets (flush
 * the first streamed byte at once, propagate backpressure and hang-ups both ways), which a
 * framework's request/reply model would only get in the way of.
 */
import { RequestMetrics, metricLines } from "../http/index.js";
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import type { Store } from "../store/index.js";
import type { ActiveSpan } from "../tracer/index.js";
import { Attr } from "../types/index.js";
import { type WireApi, providerOf, requestFromBody } from "../llm/index.js";
import { recordLlmError } from "../tracer/index.js";
import type { LlmResource, Logger, RolloutMode } from "../types/index.js";
import { TracetrainError, ValidationError, consoleLogger } from "../types/index.js";
import { STATUS_OF } from "../http/index.js";
import { ClientGone, answerClientError, bearerToken, checkExposure, listenOn, readBody, requestUrl, tokenDigest, tokenMatches } from "../http/index.js";
import { AttemptDirectory } from "./attempts.js";
import { type CapturePlan, NOTHING_ADDED, addCaptureRequests } from "./capture.js";
import { Gate, GatewayPausedError, type WhilePaused } from "./gate.js";
import { isScopedKeyFor, scopedKey } from "./keys.js";
import { type GatewayPolicy, type GatewayPolicyInput, applyPolicy, parsePolicy } from "./policy.js";
import { probeCapabilities } from "./probe.js";
import { CallRecorder } from "./recorder.js";
import { relay } from "./relay.js";
import { type Scope, parsePath, scopedBaseUrl } from "./scope.js";
import { type RetryPolicy, UpstreamClient, forwardableHeaders } from "./upstream-request.js";
import { type Capabilities, type Upstream, type UpstreamInput, UpstreamPool, needsProbe, resolveUpstreams } from "./upstreams.js";

export interface GatewayOptions {
  /** Where calls are recorded: any Store (in-process, or an HttpStore for a remote store server). */
  store: Store;
  /** The OpenAI-compatible servers calls go to. */
  upstreams: UpstreamInput[];
  /** Default 127.0.0.1. A non-loopback host needs `token` (or `insecure`). */
  host?: string;
  /** Default 4748; 0 picks a free port. */
  port?: number;
  /** Required from agents as `Authorization: Bearer …` (or `x-api-key`); per-rollout keys from {@link Gateway.keyFor} also work. */
  token?: string;
  insecure?: boolean;
  /** Record calls made without a rollout prefix, each as an online rollout of its own (default false: only proxied). */
  recordUnscoped?: boolean;
  /**
   * When to ask upstreams for exact token ids and logprobs: for calls of `train` rollouts
   * (default), `always`, or `never`. Only upstreams that support it are asked (see `capabilities`).
   */
  captureTokens?: "train" | "always" | "never";
  /** Take what the gateway asked for on its own out of the answers agents receive (default true). */
  stripCaptured?: boolean;
  /**
   * Finish each recorded answer only once its call is in the store (default true), so a rollout
   * that ends right after its last call never misses that call. The answer's bytes still stream
   * at once; only its end waits, for about one store write, shared by concurrent calls. `false`
   * answers without waiting and delivers spans in the background (up to ~100 ms later).
   */
  answerWhenStored?: boolean;
  /** While paused: hold new calls until resumed (`wait`, default) or answer 429 with `Retry-After` (`reject`). */
  whilePaused?: WhilePaused;
  pauseRetryAfterSeconds?: number;
  policy?: GatewayPolicyInput;
  retry?: Partial<RetryPolicy>;
  /** Largest request body accepted (default 32 MiB). */
  bodyLimitBytes?: number;
  /** How long an upstream may stay silent before the call fails (default 10 minutes). */
  upstreamTimeoutMs?: number;
  /** Ask each upstream at start what it supports, unless told in its `capabilities` (default true). */
  probe?: boolean;
  /** How long "this attempt is active" is trusted without hearing from the store (default 2000 ms). */
  attemptCacheMs?: number;
  logger?: Logger;
}

export interface GatewayStats {
  requests: number;
  recorded: number;
  retries: number;
  upstreamFailures: number;
  inFlight: number;
  paused: boolean;
}

export interface Gateway {
  /** `http://host:port` */
  readonly url: string;
  readonly policy: GatewayPolicy;
  /** Replaces the policy (model name, sampling per mode, policy version) for calls from now on. */
  setPolicy(policy: GatewayPolicyInput): void;
  /** Holds (or turns away) new calls; resolves once the calls already upstream have finished. */
  pause(): Promise<void>;
  resume(): void;
  /** Replaces the upstream list without a restart (probing new upstreams unless told their capabilities). */
  setUpstreams(upstreams: UpstreamInput[]): Promise<void>;
  upstreams(): Array<{ name: string; url: string; capabilities: Capabilities }>;
  /**
   * An `llm` resource for agents: its `baseUrl` holds `{rolloutId}` and `{attemptId}`, which
   * `ctx.llm()` fills in for each rollout, so an unmodified agent that uses `baseUrl` is
   * attributed. `model` defaults to the policy's model.
   */
  llmResource(options?: { model?: string }): LlmResource;
  /** The base URL (`…/v1`) of one rollout attempt, for agents started by hand. */
  baseUrlFor(scope: Scope): string;
  /** A key that works only for this attempt's prefix (needs `token`). */
  keyFor(scope: Pick<Scope, "rolloutId" | "attemptId">): string;
  stats(): GatewayStats;
  /** Delivers every recorded call to the store. */
  flush(): Promise<void>;
  /** Stops accepting calls, lets calls in flight finish, delivers what was recorded. The store stays open. */
  close(): Promise<void>;
}

/** A bounded metrics label for a request: a recorded endpoint, `/v1/*` for other proxied paths, or the path of an own route. */
function routeLabel(target: string | undefined): string {
  const path = (target ?? "").split("?")[0]!.replace(/^\/(?:rollout|r)\/[^/]+\/attempt\/[^/]+(?:\/agent\/[^/]+)?/, "");
  if (Object.hasOwn(RECORDED, path)) return path;
  if (path === "/healthz" || path === "/metrics") return path;
  return path.startsWith("/v1/") || path === "/v1" ? "/v1/*" : "other";
}

/** The endpoints whose calls are recorded; anything else under /v1 is only proxied. */
const RECORDED: Record<string, WireApi> = {
  "/v1/chat/completions": "chat",
  "/v1/completions": "completions",
  "/v1/responses": "responses",
  "/v1/messages": "anthropic",
};

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const host = options.host ?? "127.0.0.1";
  checkExposure("gateway", host, options.token, options.insecure);
  const logger = options.logger ?? consoleLogger;
  const { store } = options;
  let policy = parsePolicy(options.policy ?? {});
  const retry: RetryPolicy = { tries: 3, baseDelayMs: 100, maxDelayMs: 2000, ...options.retry };
  if (!Number.isInteger(retry.tries) || retry.tries < 1) throw new ValidationError("gateway options", [{ path: "retry.tries", message: "expected an integer of at least 1" }]);
  const client = new UpstreamClient(retry);
  const pool = new UpstreamPool(await withCapabilities(options.upstreams));
  const gate = new Gate(options.whilePaused ?? "wait", options.pauseRetryAfterSeconds ?? 1);
  const attempts = new AttemptDirectory(store, options.attemptCacheMs ?? 2000);
  const recorder = new CallRecorder(store, logger);
  const bodyLimit = options.bodyLimitBytes ?? 32 * 1024 * 1024;
  const upstreamTimeoutMs = options.upstreamTimeoutMs ?? 600_000;
  const captureTokens = options.captureTokens ?? "train";
  const strip = options.stripCaptured ?? true;
  const answerWhenStored = options.answerWhenStored ?? true;
  const tokenCheck = options.token === undefined ? undefined : tokenDigest(options.token);
  const counters = { requests: 0, recorded: 0, retries: 0, upstreamFailures: 0 };
  const http = new RequestMetrics("tracetrain_gateway_http");

  /** Prometheus text: requests and latency by endpoint, what was recorded and retried, the gate, the policy. */
  function renderMetrics(): string {
    const version = policy.policyVersion;
    return `${[
      ...http.lines(),
      ...metricLines("tracetrain_gateway_calls_recorded_total", "counter", "LLM calls recorded as spans.", [["", counters.recorded]]),
      ...metricLines("tracetrain_gateway_upstream_retries_total", "counter", "Retries of upstream requests.", [["", counters.retries]]),
      ...metricLines("tracetrain_gateway_upstream_failures_total", "counter", "Requests no upstream answered.", [["", counters.upstreamFailures]]),
      ...metricLines("tracetrain_gateway_in_flight", "gauge", "Calls being forwarded now.", [["", gate.active]]),
      ...metricLines("tracetrain_gateway_paused", "gauge", "1 while paused (calls wait or are turned away).", [["", gate.isPaused ? 1 : 0]]),
      ...metricLines("tracetrain_gateway_upstreams", "gauge", "Upstreams in the pool.", [["", pool.list().length]]),
      ...(version === undefined ? [] : metricLines("tracetrain_gateway_policy_info", "gauge", "The policy version stamped on calls.", [[`version="${String(version).replace(/["\\\n]/g, "_")}"`, 1]])),
    ].join("\n")}\n`;
  }
  const inFlight = new Set<Promise<void>>();

  async function withCapabilities(inputs: UpstreamInput[]): Promise<Upstream[]> {
    const upstreams = resolveUpstreams(inputs);
    if (options.probe === false) return upstreams;
    await Promise.all(
      upstreams.map(async (upstream, i) => {
        if (!needsProbe(inputs[i]!)) return;
        const probed = await probeCapabilities(client, upstream, logger);
        // What the operator said wins over what the probe found.
        upstream.capabilities = { ...probed, ...definedOnly(inputs[i]!.capabilities) };
      }),
    );
    return upstreams;
  }

  /** Token data is asked of an upstream only if every upstream a retry may reach can give it. */
  function commonCapabilities(): Capabilities {
    const all = pool.list();
    return { tokenIds: all.every((u) => u.capabilities.tokenIds), logprobs: all.every((u) => u.capabilities.logprobs) };
  }

  function authorize(request: IncomingMessage, scope: Scope | undefined): void {
    if (tokenCheck === undefined) return;
    const presented = bearerToken(request) ?? headerValue(request, "x-api-key");
    if (tokenMatches(presented, tokenCheck)) return;
    if (scope && presented !== undefined && isScopedKeyFor(presented, options.token!, scope)) return;
    throw new TracetrainError("unauthorized", scope ? "missing or wrong gateway key for this rollout attempt" : "missing or wrong gateway token");
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    counters.requests++;
    const url = requestUrl(request.url);
    if (url.pathname === "/healthz") {
      sendJson(response, 200, { status: "ok", paused: gate.isPaused });
      return;
    }
    if (url.pathname === "/metrics" && request.method === "GET") {
      authorize(request, undefined);
      response.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
      response.end(renderMetrics());
      return;
    }
    const parsed = parsePath(url.pathname, request.headers);
    if (!parsed.ok) throw new TracetrainError("not_found", parsed.message);
    authorize(request, parsed.scope);
    const method = request.method ?? "GET";
    const api = method === "POST" ? RECORDED[parsed.path] : undefined;
    const gone = hangUpSignal(response);
    const mode: RolloutMode | undefined = parsed.scope ? (await attempts.check(parsed.scope)).mode : undefined;
    const raw = method === "GET" || method === "HEAD" ? undefined : await readBody(request, bodyLimit);
    const body = api === undefined ? undefined : jsonObject(raw);
    const leave = await gate.enter(gone);
    try {
      let plan: CapturePlan = NOTHING_ADDED;
      let span: ActiveSpan | undefined;
      let unscoped: Scope | undefined;
      if (api !== undefined && body !== undefined) {
        applyPolicy(body, policy, mode);
        if (captureTokens === "always" || (captureTokens === "train" && mode === "train")) plan = addCaptureRequests(api, body, commonCapabilities());
        if (parsed.scope === undefined && options.recordUnscoped) unscoped = await startUnscopedRollout(parsed.path);
        const scope = parsed.scope ?? unscoped;
        if (scope) {
          span = recorder.start({ scope, request: { ...requestFromBody(api, body), provider: providerOf(api), endpoint: parsed.path }, traceparent: headerValue(request, "traceparent"), policyVersion: policy.policyVersion });
          counters.recorded++;
        }
      }
      const ranked = pool.ranked(parsed.scope?.rolloutId);
      const outcome = await client.send(ranked, {
        method,
        path: parsed.path + url.search,
        headers: upstreamHeaders(request, options.token === undefined),
        body: body === undefined ? raw : Buffer.from(JSON.stringify(body)),
        signal: gone,
        timeoutMs: upstreamTimeoutMs,
      });
      counters.retries += outcome.retries;
      span?.setAttributes({ [Attr.gatewayUpstream]: outcome.upstream.name, [Attr.gatewayRetries]: outcome.retries, [Attr.serverAddress]: outcome.upstream.base.hostname });
      if (!outcome.ok) {
        counters.upstreamFailures++;
        if (span) recordLlmError(span, outcome.error);
        if (span && answerWhenStored) await recorder.stored();
        if (!gone.aborted) sendError(response, parsed.path, 502, "upstream_unreachable", `upstream '${outcome.upstream.name}' failed: ${outcome.error.message}`);
      } else {
        await relay({
          upstream: outcome.response,
          agent: response,
          recording: span && api ? { api, span, recorder } : undefined,
          plan: strip ? plan : NOTHING_ADDED,
          answerWhenStored,
        });
      }
      if (unscoped) await finishUnscopedRollout(unscoped, span);
    } finally {
      leave();
    }
  }

  async function startUnscopedRollout(path: string): Promise<Scope> {
    const started = await store.startRollout({ input: { gateway: path }, mode: "test", metadata: { source: "gateway", unscoped: true } });
    return { rolloutId: started.rollout.rolloutId, attemptId: started.attempt.attemptId };
  }

  async function finishUnscopedRollout(scope: Scope, span: ActiveSpan | undefined): Promise<void> {
    await recorder.flush();
    const failed = span?.toSpanInput().status?.code === "error";
    await store.completeAttempt(scope.rolloutId, scope.attemptId, failed ? { status: "failed", error: { kind: "agent_error", message: "the proxied call failed" } } : { status: "succeeded" });
  }

  const server: Server = createServer({ requireHostHeader: false }, (request, response) => {
    const started = performance.now();
    const done = handle(request, response).catch((error: unknown) => answerFailure(request, response, error, logger));
    inFlight.add(done);
    void done.finally(() => {
      inFlight.delete(done);
      http.observe(routeLabel(request.url), request.method ?? "GET", response.statusCode, (performance.now() - started) / 1000);
    });
  });
  server.on("clientError", (error: NodeJS.ErrnoException, socket) => answerClientError(error, socket));
  server.headersTimeout = 30_000;
  // Receiving a request (not answering it: streams may run for minutes) must not take forever.
  server.requestTimeout = 120_000;
  server.keepAliveTimeout = 65_000;
  const url = await listenOn(server, options.port ?? 4748, host);
  let closing: Promise<void> | undefined;

  return {
    url,
    get policy() {
      return policy;
    },
    setPolicy(next) {
      policy = parsePolicy(next);
    },
    pause: () => gate.pause(),
    resume: () => gate.resume(),
    async setUpstreams(next) {
      pool.replace(await withCapabilities(next));
    },
    upstreams: () => pool.list().map((u) => ({ name: u.name, url: new URL(`${u.base.pathname.replace(/\/$/, "")}/v1`, u.base).href, capabilities: { ...u.capabilities } })),
    llmResource(resourceOptions = {}) {
      const model = resourceOptions.model ?? policy.model;
      if (model === undefined) throw new ValidationError("llmResource", [{ path: "model", message: "name the model (or set one in the gateway policy)" }]);
      return {
        kind: "llm",
        baseUrl: `${url}/rollout/{rolloutId}/attempt/{attemptId}/v1`,
        model,
        ...(policy.policyVersion === undefined ? {} : { policyVersion: policy.policyVersion }),
      };
    },
    baseUrlFor: (scope) => scopedBaseUrl(url, scope),
    keyFor(scope) {
      if (options.token === undefined) throw new ValidationError("keyFor", [{ path: "token", message: "the gateway has no token, so it has no per-rollout keys either" }]);
      return scopedKey(options.token, scope);
    },
    stats: () => ({ ...counters, inFlight: gate.active, paused: gate.isPaused }),
    flush: () => recorder.flush(),
    close() {
      closing ??= (async () => {
        gate.close();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        await Promise.allSettled([...inFlight]);
        server.closeAllConnections();
        await closed;
        attempts.close();
        client.close();
        await recorder.flush();
      })();
      return closing;
    },
  };
}

/** The JSON object body of an LLM call; anything else is the agent's mistake (400). */
function jsonObject(raw: Buffer | undefined): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(raw?.toString("utf8") ?? "");
  } catch (error) {
    throw new ValidationError("request body", [{ path: "", message: `not valid JSON (${(error as Error).message})` }]);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ValidationError("request body", [{ path: "", message: "expected a JSON object" }]);
  }
  return value as Record<string, unknown>;
}

/** Aborts when the agent hangs up before its answer is complete (not after a normal finish). */
function hangUpSignal(response: ServerResponse): AbortSignal {
  const controller = new AbortController();
  response.once("close", () => {
    if (!response.writableFinished) controller.abort(new ClientGone("the client went away"));
  });
  return controller.signal;
}

/**
 * The agent's headers for the upstream. Its credentials are for the gateway when the gateway has a
 * token; without one the gateway is transparent, and an agent's own key goes on to an upstream
 * that has none configured (a configured key replaces it).
 */
function upstreamHeaders(request: IncomingMessage, passCredentials: boolean): Record<string, string> {
  const headers = forwardableHeaders(request.headers);
  if (passCredentials) {
    for (const name of ["authorization", "x-api-key"]) {
      const value = headerValue(request, name);
      if (value !== undefined) headers[name] = value;
    }
  }
  return headers;
}

function headerValue(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function definedOnly(capabilities: Partial<Capabilities> | undefined): Partial<Capabilities> {
  return Object.fromEntries(Object.entries(capabilities ?? {}).filter(([, v]) => v !== undefined));
}

function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { ...headers, "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) }).end(text);
}

/**
 * An error the gateway itself answers, in the format of the API the agent called, so its SDK
 * shows the message: Anthropic's `{type: "error", error: {type, message}}` on `/v1/messages`,
 * OpenAI's `{error: {message, type, code}}` everywhere else.
 */
function sendError(response: ServerResponse, path: string, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  const body = path.startsWith("/v1/messages") ? { type: "error", error: { type: code, message } } : { error: { message, type: code, param: null, code } };
  sendJson(response, status, body, headers);
}

function answerFailure(request: IncomingMessage, response: ServerResponse, error: unknown, logger: Logger): void {
  if (error instanceof ClientGone || response.destroyed) return;
  const path = requestUrl(request.url).pathname.replace(/^\/(?:rollout|r)\/[^/]+\/attempt\/[^/]+(?:\/agent\/[^/]+)?/, "");
  if (error instanceof GatewayPausedError) {
    sendError(response, path, 429, "paused", error.message, { "retry-after": String(error.retryAfterSeconds) });
    return;
  }
  if (error instanceof TracetrainError) {
    sendError(response, path, STATUS_OF[error.code], error.code, error.message);
    if (error.code === "payload_too_large") request.resume();
    return;
  }
  logger.error("the gateway failed to answer a request", { error, url: request.url });
  sendError(response, path, 500, "internal", "internal gateway error");
}

