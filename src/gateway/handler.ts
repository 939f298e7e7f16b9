/**
 * Answers one request: the gateway's own routes (`/healthz`, `/metrics`), and everything else
 * forwarded upstream — attributed to its rollout attempt by its path, held while the gateway is
 * paused, and recorded when it is an LLM call of one of the {@link RECORDED} endpoints.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { ClientGone, bearerToken, parseJsonBody, readBody, requestUrl, sendJson, tokenMatches } from "../http/index.js";
import { type WireApi, providerOf, requestFromBody } from "../llm/index.js";
import { type ActiveSpan, type Substituter, recordLlmError } from "../tracer/index.js";
import { Attr, type RolloutMode, TracetrainError, ValidationError } from "../types/index.js";
import { answerFailure, sendError } from "./answers.js";
import { AgentDisconnected } from "./call-failures.js";
import { type CapturePlan, NOTHING_ADDED, addCaptureRequests } from "./capture.js";
import { isScopedKeyFor } from "./keys.js";
import { renderMetrics } from "./metrics.js";
import type { GatewayParts } from "./parts.js";
import { applyPolicy } from "./policy.js";
import { relay } from "./relay.js";
import { type Scope, headerValue, parsePath, withoutScope } from "./scope.js";
import { credentialHeaders, forwardableHeaders } from "./upstream-request.js";
import { finishUnscopedRollout, startUnscopedRollout } from "./unscoped.js";
import type { Upstream } from "./upstreams.js";

/** The endpoints whose calls are recorded; anything else under /v1 is only proxied. */
const RECORDED: Record<string, WireApi> = {
  "/v1/chat/completions": "chat",
  "/v1/completions": "completions",
  "/v1/responses": "responses",
  "/v1/messages": "anthropic",
};

/** Where a forwarded request goes, from its path. */
interface Target {
  /** The rollout attempt it belongs to, if any. */
  scope: Scope | undefined;
  /** The upstream path, from `/v1` on. */
  path: string;
  /** The query string, `?` included (or empty). */
  search: string;
}

/** An LLM call being forwarded: its API, its span, and the rollout started for it. */
interface Call {
  api: WireApi;
  /** The call's span; none for an unscoped call the gateway does not record. */
  span: ActiveSpan | undefined;
  /** The rollout started for this call when it came without one (`recordUnscoped`). */
  unscoped: Scope | undefined;
}

/** A request on its way upstream. */
interface Exchange {
  target: Target;
  method: string;
  /** The mode of the rollout the request belongs to (unknown for unscoped requests). */
  mode: RolloutMode | undefined;
  /** The candidate texts the rollout's calls carry in place of seed texts, if any. */
  substituter: Substituter | undefined;
  /** Aborts when the agent hangs up. */
  gone: AbortSignal;
  /** Present for a call to one of the {@link RECORDED} endpoints. */
  call: Call | undefined;
}

/** Handles a request; every failure is answered (in the called API's error format), never thrown. */
export function handleRequest(parts: GatewayParts, request: IncomingMessage, response: ServerResponse): Promise<void> {
  return route(parts, request, response).catch((error: unknown) => answerFailure(request, response, error, parts.options.logger));
}

/** A bounded metrics label for a request: a recorded endpoint, `/v1/*` for other proxied paths, or the path of an own route. */
export function routeLabel(target: string | undefined): string {
  const path = withoutScope((target ?? "").split("?")[0]!);
  if (Object.hasOwn(RECORDED, path)) return path;
  if (path === "/healthz" || path === "/metrics") return path;
  return path.startsWith("/v1/") || path === "/v1" ? "/v1/*" : "other";
}

async function route(parts: GatewayParts, request: IncomingMessage, response: ServerResponse): Promise<void> {
  parts.counters.requests++;
  const url = requestUrl(request.url);
  if (url.pathname === "/healthz") {
    sendJson(response, 200, { status: "ok", paused: parts.gate.isPaused });
    return;
  }
  if (url.pathname === "/metrics" && request.method === "GET") {
    authorize(parts, request, undefined);
    response.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
    response.end(renderMetrics(parts));
    return;
  }
  const parsed = parsePath(url.pathname, request.headers);
  if (!parsed.ok) throw new TracetrainError("not_found", parsed.message);
  authorize(parts, request, parsed.scope);
  await forward(parts, request, response, { scope: parsed.scope, path: parsed.path, search: url.search });
}

/** The gateway token, or the scoped key of the request's rollout attempt; nothing when the gateway has no token. */
function authorize(parts: GatewayParts, request: IncomingMessage, scope: Scope | undefined): void {
  const { tokenCheck } = parts;
  const token = parts.options.token;
  if (tokenCheck === undefined || token === undefined) return;
  const presented = bearerToken(request) ?? headerValue(request.headers, "x-api-key");
  if (tokenMatches(presented, tokenCheck)) return;
  if (scope && presented !== undefined && isScopedKeyFor(presented, token, scope)) return;
  throw new TracetrainError("unauthorized", scope ? "missing or wrong gateway key for this rollout attempt" : "missing or wrong gateway token");
}

/**
 * Forwards a request. A call to a recorded endpoint is recorded from the moment it is accepted for
 * its rollout attempt: whatever happens from then on — a body the gateway refuses, a pause, an
 * upstream failure, an exception anywhere — its span is ended and stored, failed unless an answer
 * was recorded. This is the one place a span's life is managed.
 */
async function forward(parts: GatewayParts, request: IncomingMessage, response: ServerResponse, target: Target): Promise<void> {
  const method = request.method ?? "GET";
  const api = method === "POST" ? RECORDED[target.path] : undefined;
  const gone = hangUpSignal(response);
  const active = target.scope ? await parts.attempts.check(target.scope) : undefined;
  const call = api === undefined ? undefined : await openCall(parts, request, target, api);
  let failure: unknown;
  try {
    const substituter = call && active ? await parts.substitutions.forSnapshot(active.resourcesId) : undefined;
    await exchange(parts, request, response, { target, method, mode: active?.mode, substituter, gone, call });
  } catch (error) {
    failure = error;
    throw error;
  } finally {
    if (call) await closeCall(parts, call, failure);
  }
}

/** Reads the request, waits for the gate, sends it upstream and relays the answer. */
async function exchange(parts: GatewayParts, request: IncomingMessage, response: ServerResponse, forwarding: Exchange): Promise<void> {
  const { options, counters } = parts;
  const { target, method, mode, substituter, call, gone } = forwarding;
  const raw = method === "GET" || method === "HEAD" ? undefined : await readBody(request, options.bodyLimitBytes);
  const body = call === undefined ? undefined : jsonObject(raw);
  const leave = await parts.gate.enter(gone);
  try {
    const plan = call === undefined || body === undefined ? NOTHING_ADDED : prepareCall(parts, call, target, body, mode, substituter);
    const outcome = await parts.client.send(parts.pool.ranked(target.scope?.rolloutId), {
      method,
      path: target.path + target.search,
      headers: forwardableHeaders(request.headers),
      credentials: options.token === undefined ? credentialHeaders(request.headers) : {},
      body: body === undefined ? raw : Buffer.from(JSON.stringify(body)),
      ...(body === undefined ? {} : { bodyFor: (upstream: Upstream) => bodyForUpstream(body, upstream) }),
      signal: gone,
      timeoutMs: options.upstreamTimeoutMs,
    });
    counters.retries += outcome.retries;
    const span = call?.span;
    span?.setAttributes({ [Attr.gatewayUpstream]: outcome.upstream.name, [Attr.gatewayRetries]: outcome.retries, [Attr.serverAddress]: outcome.upstream.base.hostname });
    if (outcome.upstream.model !== undefined) span?.setAttribute(Attr.requestModel, outcome.upstream.model);
    if (!outcome.ok) {
      counters.upstreamFailures++;
      if (span) recordLlmError(span, outcome.error);
      if (span && options.answerWhenStored) await parts.recorder.stored();
      if (!gone.aborted) sendError(response, target.path, 502, "upstream_unreachable", `upstream '${outcome.upstream.name}' failed: ${outcome.error.message}`);
      return;
    }
    await relay({
      upstream: outcome.response,
      agent: response,
      recording: call && span ? { api: call.api, span, recorder: parts.recorder } : undefined,
      plan: options.stripCaptured ? plan : NOTHING_ADDED,
      answerWhenStored: options.answerWhenStored,
    });
  } finally {
    leave();
  }
}

/**
 * Opens the span of a call (starting a rollout of its own for an unscoped call when those are
 * recorded). What was asked, and the policy version, are added once the call is let through
 * (see {@link prepareCall}): a call held by a pause is answered by the policy after it.
 */
async function openCall(parts: GatewayParts, request: IncomingMessage, target: Target, api: WireApi): Promise<Call> {
  const { options } = parts;
  const unscoped = target.scope === undefined && options.recordUnscoped ? await startUnscopedRollout(options.store, target.path) : undefined;
  const scope = target.scope ?? unscoped;
  if (scope === undefined) return { api, span: undefined, unscoped };
  const span = parts.recorder.start({
    scope,
    request: { ...requestFromBody(api, undefined), endpoint: target.path },
    traceparent: headerValue(request.headers, "traceparent"),
  });
  parts.counters.recorded++;
  return { api, span, unscoped };
}

/**
 * Prepares a call's request (the policy applied, token capture asked for where it is wanted and
 * can be had), records it on the call's span, and returns what capture added.
 */
function prepareCall(parts: GatewayParts, call: Call, target: Target, body: Record<string, unknown>, mode: RolloutMode | undefined, substituter: Substituter | undefined): CapturePlan {
  const { options, policy } = parts;
  applyPolicy(body, policy, mode);
  // The body is the gateway's own parse of the request: replacing its fields changes nothing of the agent's.
  const substitution = substituter?.substituteBody(body);
  if (substitution) Object.assign(body, substitution.body);
  const capture = options.captureTokens === "always" || (options.captureTokens === "train" && mode === "train");
  const plan = capture ? addCaptureRequests(call.api, body, parts.pool.common()) : NOTHING_ADDED;
  if (call.span) {
    parts.recorder.describe(call.span, { ...requestFromBody(call.api, body), provider: providerOf(call.api), endpoint: target.path }, policy.policyVersion);
    // top_k is no OpenAI field, so the wire readers skip it; RL needs it to know how a token was drawn.
    if (typeof body.top_k === "number") call.span.setAttribute(Attr.requestTopK, body.top_k);
    if (substitution) call.span.setAttribute(Attr.substituted, substitution.substituted);
  }
  return plan;
}

/**
 * Ends a call's span if nothing recorded its end — failed, with what went wrong — and waits for it
 * to be stored when answers wait for that; then completes the call's own rollout, if it has one.
 */
async function closeCall(parts: GatewayParts, call: Call, failure: unknown): Promise<void> {
  const { span } = call;
  if (span && !span.ended) {
    recordLlmError(span, asCallFailure(failure));
    if (parts.options.answerWhenStored) await parts.recorder.stored();
  }
  if (call.unscoped) await finishUnscopedRollout(parts.options.store, parts.recorder, call.unscoped, span);
}

/** What a span records for a call that ended without its answer recorded. */
function asCallFailure(failure: unknown): unknown {
  if (failure === undefined) return new Error("the call ended without an answer to record");
  return failure instanceof ClientGone ? new AgentDisconnected(failure.message) : failure;
}

/**
 * The body as one upstream gets it: with its own model name when it serves the policy under one
 * (a backend that serves each update as a new LoRA adapter names it per endpoint).
 */
function bodyForUpstream(body: Record<string, unknown>, upstream: Upstream): Buffer | undefined {
  return upstream.model === undefined ? undefined : Buffer.from(JSON.stringify({ ...body, model: upstream.model }));
}

/** The JSON object body of an LLM call; anything else is the agent's mistake (400). */
function jsonObject(raw: Buffer | undefined): Record<string, unknown> {
  const value = parseJsonBody(raw ?? Buffer.alloc(0));
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
