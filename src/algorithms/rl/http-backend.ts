/**
 * A training backend on the other side of HTTP — a verl or TRL trainer, a training service, or
 * another process's backend exposed with `serveTrainingBackend` — spoken to in protocol
 * `tracetrain-rl/1` (docs/rl-backend-protocol.md). Every answer is checked against the protocol's
 * schema, and anything else becomes a typed error naming the route, the status and the field.
 *
 * Retries: the read-only GETs are retried with backoff when the backend is unreachable, times out
 * or answers 5xx. POSTs are resent only when the request provably never left this machine
 * (connection refused, unknown host): a train request that may have reached the backend is never
 * resent blindly, because applying a batch twice corrupts training. The caller may resend it with
 * the same `step`; the backend answers 409 for a step it already applied (see backend-errors.ts).
 */
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { z } from "zod";
import { ConflictError, TracetrainError, ValidationError, type ValidationIssue, parseOrThrow, toValidationIssues } from "../../types/index.js";
import { errorCode, sleep } from "../../util/index.js";
import {
  type BackendInfo,
  BackendInfoSchema,
  type CheckpointRequest,
  CheckpointRequestSchema,
  type CheckpointResponse,
  CheckpointResponseSchema,
  type EndpointsResponse,
  EndpointsResponseSchema,
  PROTOCOL,
  ProtocolErrorSchema,
  type TrainRequest,
  TrainRequestSchema,
  type TrainResponse,
  TrainResponseSchema,
} from "./protocol.js";
import type { TrainingBackend } from "./training-backend.js";
import { BackendAbortedError, BackendAuthError, BackendError, BackendResponseError, BackendTimeoutError, BackendUnavailableError } from "./backend-errors.js";
import { type HttpTrainingBackendOptions, type ParsedHttpTrainingBackendOptions, parseHttpTrainingBackendOptions } from "./backend-options.js";

/** Protocol answers are small; a larger one is hostile or not the protocol, and is not buffered. */
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

type RouteName = keyof ParsedHttpTrainingBackendOptions["timeoutMs"];
const ROUTES = {
  info: { method: "GET", path: "/v1/info", idempotent: true },
  endpoints: { method: "GET", path: "/v1/endpoints", idempotent: true },
  train: { method: "POST", path: "/v1/train", idempotent: false },
  checkpoint: { method: "POST", path: "/v1/checkpoint", idempotent: false },
} as const satisfies Record<RouteName, { method: string; path: string; idempotent: boolean }>;

/** An error body as our server sends it: the protocol's, plus the optional list of issues of a 400. */
const ErrorDetailsSchema = z.object({ issues: z.array(z.object({ path: z.string(), message: z.string() })).max(100) });

export class HttpTrainingBackend implements TrainingBackend {
  /** The backend's root URL (without `/v1`). */
  readonly url: string;
  private readonly base: URL;
  private readonly token: string | undefined;
  private readonly timeouts: ParsedHttpTrainingBackendOptions["timeoutMs"];
  private readonly retries: readonly number[];
  private readonly transport: Transport;
  private readonly closing = new AbortController();

  constructor(url: string, options: HttpTrainingBackendOptions = {}) {
    this.base = backendBase(url);
    this.url = this.base.href.replace(/\/$/, "");
    const parsed = parseHttpTrainingBackendOptions(options);
    this.token = parsed.token;
    this.timeouts = parsed.timeoutMs;
    this.retries = parsed.retryDelaysMs;
    this.transport = parsed.fetch ? fetchTransport(parsed.fetch) : nodeTransport;
  }

  async info(): Promise<BackendInfo> {
    return this.call("info", BackendInfoSchema, undefined, undefined);
  }

  async endpoints(): Promise<EndpointsResponse> {
    return this.call("endpoints", EndpointsResponseSchema, undefined, undefined);
  }

  /**
   * Sends one batch and waits until the backend has applied it and its endpoints serve the new
   * policy. Checked here first, so a mistake is named by field before a large upload. Aborting
   * `signal` cuts the request; the backend may still apply the step (resend it to find out).
   */
  async train(request: TrainRequest, options: { signal?: AbortSignal } = {}): Promise<TrainResponse> {
    const body = parseOrThrow(TrainRequestSchema, request, "train request");
    return this.call("train", TrainResponseSchema, body, options.signal);
  }

  async checkpoint(request: CheckpointRequest = {}): Promise<CheckpointResponse> {
    return this.call("checkpoint", CheckpointResponseSchema, parseOrThrow(CheckpointRequestSchema, request, "checkpoint request"), undefined);
  }

  /** Aborts requests in flight; later calls fail. The backend itself keeps running. */
  async close(): Promise<void> {
    this.closing.abort();
  }

  /** One route, retried as its idempotency allows; the answer is checked with `schema`. */
  private async call<S extends z.ZodType>(route: RouteName, schema: S, body: unknown, signal: AbortSignal | undefined): Promise<z.output<S>> {
    const spec = ROUTES[route];
    const label = `${spec.method} ${spec.path}`;
    const text = body === undefined ? undefined : JSON.stringify(body);
    for (let attempt = 0; ; attempt++) {
      this.throwIfAborted(label, signal);
      try {
        const { status, contentType, text: answer } = await this.exchange(route, label, text, signal);
        return interpret(label, status, contentType, answer, schema, this.url);
      } catch (error) {
        const delay = this.retries[attempt];
        if (delay === undefined || !mayRetry(error, spec.idempotent)) throw error;
        await sleep(delay, signal ? AbortSignal.any([signal, this.closing.signal]) : this.closing.signal);
      }
    }
  }

  /** One HTTP exchange under the route's timeout; network failures become typed errors. */
  private async exchange(route: RouteName, label: string, body: string | undefined, caller: AbortSignal | undefined): Promise<{ status: number; contentType: string; text: string }> {
    const timeoutMs = this.timeouts[route];
    const timer = new AbortController();
    const timeout = setTimeout(() => timer.abort(), timeoutMs);
    const signal = AbortSignal.any([timer.signal, this.closing.signal, ...(caller ? [caller] : [])]);
    const headers: Record<string, string> = { accept: "application/json", "user-agent": `tracetrain (${PROTOCOL})` };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`;
    try {
      const response = await this.transport(new URL(ROUTES[route].path.slice(1), this.base), { method: ROUTES[route].method, headers, body, signal });
      const text = await readCapped(response.body, MAX_RESPONSE_BYTES, label, response.status);
      return { status: response.status, contentType: response.contentType, text };
    } catch (error) {
      if (error instanceof TracetrainError) throw error;
      const unknown = unknownOutcome(label);
      if (timer.signal.aborted) throw new BackendTimeoutError(label, timeoutMs, `${label}: no complete answer from ${this.url} within ${timeoutMs} ms${unknown}`);
      if (caller?.aborted) throw new BackendAbortedError(label, `${label} was aborted by the caller${unknown}`);
      if (this.closing.signal.aborted) throw new BackendAbortedError(label, `${label} was cut short: the client was closed${unknown}`);
      const code = errorCode(error);
      const delivered = !NOT_DELIVERED.has(code ?? "");
      const what = delivered ? `the exchange with ${this.url} failed` : `cannot reach the backend at ${this.url}`;
      throw new BackendUnavailableError(label, undefined, `${label}: ${what} (${code ?? messageOf(error)})${delivered ? unknown : ""}`, { cause: error, delivered });
    } finally {
      clearTimeout(timeout);
    }
  }

  private throwIfAborted(label: string, signal: AbortSignal | undefined): void {
    if (this.closing.signal.aborted) throw new BackendAbortedError(label, `${label}: this HttpTrainingBackend was closed`);
    if (signal?.aborted) throw new BackendAbortedError(label, `${label} was aborted by the caller before it was sent`);
  }
}

// ---- answers --------------------------------------------------------------------------------------

/** A 2xx answer parsed with the route's schema, or the typed error an error status stands for. */
function interpret<S extends z.ZodType>(label: string, status: number, contentType: string, text: string, schema: S, url: string): z.output<S> {
  if (status < 200 || status >= 300) throw errorFor(label, status, contentType, text, url);
  const json = parseJson(text);
  if (json === NOT_JSON) throw new BackendResponseError(label, status, [{ path: "", message: `expected JSON, got ${describeBody(contentType, text)}` }]);
  const result = schema.safeParse(json);
  if (result.success) return result.data;
  throw new BackendResponseError(label, status, toValidationIssues(result.error, 20, json).map((issue) => explainProtocol(issue, json)));
}

/** A wrong protocol version deserves a plainer message than zod's "invalid literal". */
function explainProtocol(issue: ValidationIssue, json: unknown): ValidationIssue {
  if (issue.path !== "protocol" || typeof json !== "object" || json === null) return issue;
  const got = (json as Record<string, unknown>).protocol;
  if (got === undefined) return issue;
  return { path: "protocol", message: `expected "${PROTOCOL}", got ${clip(JSON.stringify(got) ?? String(got))} (this client speaks ${PROTOCOL} only)` };
}

/** The typed error for an error status; the server's own message is kept when it sent a protocol error. */
function errorFor(label: string, status: number, contentType: string, text: string, url: string): TracetrainError {
  const body = protocolError(contentType, text);
  const head = `${label} → HTTP ${status}`;
  const said = "error" in body ? `${body.error.message}${body.error.code ? ` (${body.error.code})` : ""}` : `the body is not a protocol error: ${body.problem}`;
  if (status === 400 || status === 422) {
    const issues = "error" in body && body.issues.length > 0 ? body.issues : [{ path: "", message: said }];
    const error = new ValidationError(`${label} request`, issues);
    error.message = `${head}: ${said}`;
    return error;
  }
  if (status === 401 || status === 403) return new BackendAuthError(label, status, `${head}: ${said} — check the bearer token`);
  if (status === 404) return new BackendError("not_found", label, status, `${head}: ${said} — is ${url} a ${PROTOCOL} backend?`);
  if (status === 409) return new ConflictError(`${head}: ${said}`, { route: label, status, code: "error" in body ? body.error.code : null });
  if (status === 413) return new BackendError("payload_too_large", label, status, `${head}: ${said} — send smaller batches or raise the backend's body limit`);
  if (status >= 500) return new BackendUnavailableError(label, status, `${head}: backend unavailable: ${said}${unknownOutcome(label)}`);
  if (status >= 400) return new BackendError("validation", label, status, `${head}: ${said}`);
  return new BackendResponseError(label, status, [{ path: "", message: `unexpected HTTP status ${status}; ${said}` }], "not a protocol answer");
}

type ParsedErrorBody = { error: { code: string; message: string }; issues: ValidationIssue[] } | { problem: string };

function protocolError(contentType: string, text: string): ParsedErrorBody {
  const json = parseJson(text);
  if (json === NOT_JSON) return { problem: `expected JSON {"error":{"code","message"}}, got ${describeBody(contentType, text)}` };
  const parsed = ProtocolErrorSchema.safeParse(json);
  if (!parsed.success) {
    const issue = toValidationIssues(parsed.error, 20, json)[0];
    return { problem: `${issue?.path || "body"}: ${issue?.message ?? "invalid"}; got ${excerpt(text)}` };
  }
  const details = ErrorDetailsSchema.safeParse((json as { error: { details?: unknown } }).error.details);
  return { error: { code: clip(parsed.data.error.code, 100), message: clip(parsed.data.error.message, 2000) }, issues: details.success ? details.data.issues : [] };
}

const NOT_JSON = Symbol("not JSON");

function parseJson(text: string): unknown {
  if (text.length === 0) return NOT_JSON;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return NOT_JSON;
  }
}

function describeBody(contentType: string, text: string): string {
  if (text.length === 0) return "an empty body";
  return `${contentType ? contentType.split(";")[0] : "a body without content type"}: ${excerpt(text)}`;
}

/** A short, quoted, single-line sample of what the server sent. */
function excerpt(text: string): string {
  return JSON.stringify(clip(text, 160));
}

/** One line of at most `max` characters: a hostile server does not get to flood our logs. */
function clip(text: string, max = 160): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

// ---- transport ------------------------------------------------------------------------------------

interface TransportRequest {
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
  signal: AbortSignal;
}

interface TransportResponse {
  status: number;
  contentType: string;
  body: AsyncIterable<Uint8Array> | null;
}

type Transport = (url: URL, request: TransportRequest) => Promise<TransportResponse>;

/**
 * `node:http(s)` with a fresh connection per request: a handful of requests per training step gain
 * nothing from keep-alive, and a fresh connection cannot be a pooled one the server is closing
 * just as a POST is written to it (which would leave it unknown whether the POST arrived).
 */
const nodeTransport: Transport = (url, { method, headers, body, signal }) =>
  new Promise((resolve, reject) => {
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    const allHeaders = body === undefined ? headers : { ...headers, "content-length": String(Buffer.byteLength(body)) };
    const request = send(url, { method, headers: allHeaders, signal, agent: false }, (response) => {
      resolve({ status: response.statusCode ?? 0, contentType: response.headers["content-type"] ?? "", body: response });
    });
    request.on("error", reject);
    request.end(body);
  });

function fetchTransport(fetchImpl: typeof fetch): Transport {
  return async (url, { method, headers, body, signal }) => {
    const response = await fetchImpl(url, { method, headers, signal, ...(body === undefined ? {} : { body }) });
    return { status: response.status, contentType: response.headers.get("content-type") ?? "", body: response.body === null ? null : streamChunks(response.body) };
  };
}

async function* streamChunks(stream: ReadableStream<Uint8Array>): AsyncIterable<Uint8Array> {
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    // Stopping early (too large, aborted) cancels the rest instead of downloading it.
    void reader.cancel().catch(() => undefined);
  }
}

/** Reads a body as UTF-8, refusing to buffer more than `limit` bytes. */
async function readCapped(body: AsyncIterable<Uint8Array> | null, limit: number, label: string, status: number): Promise<string> {
  if (body === null) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size > limit) throw new BackendResponseError(label, status, [{ path: "", message: `expected a protocol answer, got more than ${limit} bytes` }]);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

// ---- helpers --------------------------------------------------------------------------------------

/** What a failed train leaves the caller to do: its outcome is unknown, and the `step` contract settles it. */
function unknownOutcome(label: string): string {
  return label === `${ROUTES.train.method} ${ROUTES.train.path}` ? "; the update may or may not have been applied: resend the same step (409 means it was)" : "";
}

/** Per-route timeouts from the option: one number for all, or some routes overriding the defaults. */
/** Errors proving the request never reached the server, so even a POST may be resent. */
const NOT_DELIVERED = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN"]);

/** GETs are retried on any unavailability or timeout; POSTs only when they never left. */
function mayRetry(error: unknown, idempotent: boolean): boolean {
  if (error instanceof BackendUnavailableError) return idempotent || !error.delivered;
  return error instanceof BackendTimeoutError && idempotent;
}

/** The root URL of the backend: routes are resolved under it; a trailing `/v1` is forgiven. */
function backendBase(url: string): URL {
  let base: URL;
  try {
    base = new URL(url);
  } catch {
    throw new ValidationError("backend URL", [{ path: "url", message: `not a URL: ${JSON.stringify(url)}` }]);
  }
  if (base.protocol !== "http:" && base.protocol !== "https:") {
    throw new ValidationError("backend URL", [{ path: "url", message: `expected http:// or https://, got ${base.protocol}` }]);
  }
  base.search = "";
  base.hash = "";
  base.pathname = `${base.pathname.replace(/\/+$/, "").replace(/\/v1$/, "")}/`;
  return base;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
