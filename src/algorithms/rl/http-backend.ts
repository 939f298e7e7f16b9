/**
 * A training backend on the other side of HTTP — a verl or TRL trainer, a training service, or
 * another process's backend exposed with `serveTrainingBackend` — spoken to in protocol
 * `tracetrain-rl/2` (docs/rl-backend-protocol.md), or in `tracetrain-rl/1` when the backend knows
 * only that. Every answer is checked against the protocol's schema, and anything else becomes a
 * typed error naming the route (which carries the version spoken), the status and the field.
 *
 * Negotiation: the first call reads `GET /v2/info`; a 404 there means a version-1 backend, which
 * must then answer `GET /v1/info` with `tracetrain-rl/1`. From then on every route is spoken in
 * that version, translated both ways (protocol-v1-mapping.ts) so callers always see version 2.
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
import { ConflictError, type Logger, TracetrainError, ValidationError, type ValidationIssue, parseOrThrow, toValidationIssues } from "../../types/index.js";
import { errorCode, sleep } from "../../util/index.js";
import {
  BackendInfoSchema,
  type CheckpointRequest,
  CheckpointRequestSchema,
  type CheckpointResponse,
  CheckpointResponseSchema,
  type EndpointsResponse,
  EndpointsResponseSchema,
  PROTOCOL,
  type ParsedBackendInfo,
  ProtocolErrorSchema,
  type RestoreRequest,
  RestoreRequestSchema,
  type RestoreResponse,
  RestoreResponseSchema,
  type SuperviseRequest,
  SuperviseRequestSchema,
  type TrainRequest,
  TrainRequestSchema,
  type TrainResponse,
  TrainResponseSchema,
} from "./protocol.js";
import { BackendInfoV1Schema, PROTOCOL_V1, TrainResponseV1Schema } from "./protocol-v1.js";
import { infoFromV1, samplingDroppedWarning, trainRequestToV1, trainResponseFromV1 } from "./protocol-v1-mapping.js";
import type { TrainingBackend } from "./training-backend.js";
import { checkSuperviseRequest, checkTrainRequest } from "./train-request-checks.js";
import {
  BackendAbortedError,
  BackendAuthError,
  BackendError,
  BackendResponseError,
  BackendTimeoutError,
  BackendUnavailableError,
  BackendUnsupportedError,
  type UnsupportedFeature,
} from "./backend-errors.js";
import { type HttpTrainingBackendOptions, type ParsedHttpTrainingBackendOptions, parseHttpTrainingBackendOptions } from "./backend-options.js";

/** Protocol answers are small; a larger one is hostile or not the protocol, and is not buffered. */
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

/** A protocol version this client speaks: the number in the routes' `/v<n>` prefix. */
type Version = 1 | 2;
const PROTOCOL_OF = { 1: PROTOCOL_V1, 2: PROTOCOL } as const satisfies Record<Version, string>;

type RouteName = keyof ParsedHttpTrainingBackendOptions["timeoutMs"];
const ROUTES = {
  info: { method: "GET", idempotent: true },
  endpoints: { method: "GET", idempotent: true },
  train: { method: "POST", idempotent: false },
  supervise: { method: "POST", idempotent: false },
  checkpoint: { method: "POST", idempotent: false },
  restore: { method: "POST", idempotent: false },
} as const satisfies Record<RouteName, { method: string; idempotent: boolean }>;

/** `POST /v2/train`: the method and path a route has in one version. */
function routeLabel(version: Version, route: RouteName): string {
  return `${ROUTES[route].method} /v${version}/${route}`;
}

/** An error body as our server sends it: the protocol's, plus the optional list of issues of a 400. */
const ErrorDetailsSchema = z.object({ issues: z.array(z.object({ path: z.string(), message: z.string() })).max(100) });
/** A 501's details: which capability the backend lacks. */
const FeatureDetailsSchema = z.object({ feature: z.enum(["hyperparameters", "chunked_train", "restore", "supervised", "supervised_chat", "protocol"] satisfies UnsupportedFeature[]) });

/** What negotiation settled: the version spoken and the backend's latest info (for capability checks). */
interface Spoken {
  version: Version;
  info: ParsedBackendInfo;
}

export class HttpTrainingBackend implements TrainingBackend {
  /** The backend's root URL (without `/v2` or `/v1`). */
  readonly url: string;
  private readonly base: URL;
  private readonly token: string | undefined;
  private readonly timeouts: ParsedHttpTrainingBackendOptions["timeoutMs"];
  private readonly retries: readonly number[];
  private readonly transport: Transport;
  private readonly logger: Logger;
  private readonly closing = new AbortController();
  private readonly warnSampling: () => void;
  private spoken: Spoken | undefined;
  private negotiating: Promise<Spoken> | undefined;

  constructor(url: string, options: HttpTrainingBackendOptions = {}) {
    this.base = backendBase(url);
    this.url = this.base.href.replace(/\/$/, "");
    const parsed = parseHttpTrainingBackendOptions(options);
    this.token = parsed.token;
    this.timeouts = parsed.timeoutMs;
    this.retries = parsed.retryDelaysMs;
    this.transport = parsed.fetch ? fetchTransport(parsed.fetch) : nodeTransport;
    this.logger = parsed.logger;
    this.warnSampling = samplingDroppedWarning(this.logger, this.url);
  }

  /**
   * The protocol version spoken with this backend, known after the first successful call
   * (`tracetrain-rl/2`, or `tracetrain-rl/1` for a backend without `/v2` routes); undefined before.
   */
  get protocol(): typeof PROTOCOL | typeof PROTOCOL_V1 | undefined {
    return this.spoken === undefined ? undefined : PROTOCOL_OF[this.spoken.version];
  }

  /**
   * What the backend says about itself, in version-2 terms with every default filled in. A
   * version-1 backend's info is translated: the capabilities it cannot have are false and it
   * accepts no hyperparameters (check `protocol` for the version actually spoken).
   */
  async info(): Promise<ParsedBackendInfo> {
    if (this.spoken === undefined) return (await this.negotiate()).info;
    const { version } = this.spoken;
    const info = version === 2 ? await this.call(2, "info", BackendInfoSchema, undefined, undefined) : infoFromV1(await this.call(1, "info", BackendInfoV1Schema, undefined, undefined));
    this.spoken = { version, info: BackendInfoSchema.parse(info) };
    return this.spoken.info;
  }

  async endpoints(): Promise<EndpointsResponse> {
    const { version } = await this.negotiate();
    return this.call(version, "endpoints", EndpointsResponseSchema, undefined, undefined);
  }

  /**
   * Sends one batch (or one `chunk` of it) and waits until the backend has applied it and its
   * endpoints serve the new policy. Checked here first — the schema, hyperparameter names against
   * `info().hyperparameters`, a chunk against `capabilities.chunked_train` — so a mistake is named
   * before a large upload. To a version-1 backend the request is translated exactly (see
   * protocol-v1-mapping.ts); hyperparameters and chunks cannot be, and raise BackendUnsupportedError.
   * Aborting `signal` cuts the request; the backend may still apply the step (resend it to find out).
   */
  async train(request: TrainRequest, options: { signal?: AbortSignal } = {}): Promise<TrainResponse> {
    const body = parseOrThrow(TrainRequestSchema, request, "train request");
    const { version, info } = await this.negotiate();
    if (version === 1) {
      const v1 = trainRequestToV1(body, routeLabel(1, "train"), this.warnSampling);
      return trainResponseFromV1(await this.call(1, "train", TrainResponseV1Schema, v1, options.signal));
    }
    checkTrainRequest(body, info, routeLabel(2, "train"), this.url);
    return this.call(2, "train", TrainResponseSchema, body, options.signal);
  }

  /**
   * Sends one supervised step (or one `chunk` of it) to `POST /v2/supervise` and waits until the
   * backend has applied it and its endpoints serve the new policy. Checked here first, before
   * anything is sent: the schema; a version-1 backend, which has no supervised steps; token
   * `samples` against `capabilities.supervised` and `chat` samples against
   * `capabilities.supervised_chat` (BackendUnsupportedError naming the capability); hyperparameters
   * and chunks as for `train`. Errors, retries and aborting are those of `train`: a step that may
   * have reached the backend is never resent blindly (resend the same `step`; 409 means applied).
   */
  async supervise(request: SuperviseRequest, options: { signal?: AbortSignal } = {}): Promise<TrainResponse> {
    const body = parseOrThrow(SuperviseRequestSchema, request, "supervise request");
    const { version, info } = await this.negotiate();
    const label = routeLabel(version, "supervise");
    const kind = (body.samples?.length ?? 0) > 0 ? "supervised" : "supervised_chat";
    if (version === 1) throw new BackendUnsupportedError(label, kind, `supervise: the backend at ${this.url} speaks ${PROTOCOL_V1}, which has no supervised steps`);
    checkSuperviseRequest(body, info, label, this.url);
    return this.call(2, "supervise", TrainResponseSchema, body, options.signal);
  }

  async checkpoint(request: CheckpointRequest = {}): Promise<CheckpointResponse> {
    const body = parseOrThrow(CheckpointRequestSchema, request, "checkpoint request");
    const { version } = await this.negotiate();
    return this.call(version, "checkpoint", CheckpointResponseSchema, body, undefined);
  }

  /**
   * Makes the backend serve a checkpoint's policy again (`POST /v2/restore`). A version-1 backend
   * has no such route, and a version-2 one may lack `capabilities.restore`: both raise
   * BackendUnsupportedError without sending anything.
   */
  async restore(request: RestoreRequest): Promise<RestoreResponse> {
    const body = parseOrThrow(RestoreRequestSchema, request, "restore request");
    const { version, info } = await this.negotiate();
    const label = routeLabel(version, "restore");
    if (version === 1) throw new BackendUnsupportedError(label, "restore", `restore: the backend at ${this.url} speaks ${PROTOCOL_V1}, which has no restore route`);
    if (!info.capabilities.restore) throw new BackendUnsupportedError(label, "restore", `${label}: the backend at ${this.url} cannot restore checkpoints (info.capabilities.restore is false)`);
    return this.call(2, "restore", RestoreResponseSchema, body, undefined);
  }

  /** Aborts requests in flight; later calls fail. The backend itself keeps running. */
  async close(): Promise<void> {
    this.closing.abort();
  }

  /** The version settled by the first successful call; concurrent first calls share one negotiation. */
  private async negotiate(): Promise<Spoken> {
    if (this.spoken !== undefined) return this.spoken;
    this.negotiating ??= this.discover().finally(() => {
      this.negotiating = undefined;
    });
    return this.negotiating;
  }

  /** `GET /v2/info`, and on its 404 `GET /v1/info`: a backend without /v2 routes speaks version 1. */
  private async discover(): Promise<Spoken> {
    try {
      const info = await this.call(2, "info", BackendInfoSchema, undefined, undefined);
      return (this.spoken = { version: 2, info });
    } catch (error) {
      if (!(error instanceof BackendError && error.status === 404)) throw error;
    }
    try {
      const info = BackendInfoSchema.parse(infoFromV1(await this.call(1, "info", BackendInfoV1Schema, undefined, undefined)));
      return (this.spoken = { version: 1, info });
    } catch (error) {
      if (!(error instanceof BackendError && error.status === 404)) throw error;
      throw new BackendError("not_found", routeLabel(1, "info"), 404, `${this.url} answers neither GET /v2/info nor GET /v1/info (both 404): is it a ${PROTOCOL} or ${PROTOCOL_V1} backend?`, { cause: error });
    }
  }

  /** One route, retried as its idempotency allows; the answer is checked with `schema`. */
  private async call<S extends z.ZodType>(version: Version, route: RouteName, schema: S, body: unknown, signal: AbortSignal | undefined): Promise<z.output<S>> {
    const label = routeLabel(version, route);
    const text = body === undefined ? undefined : JSON.stringify(body);
    for (let attempt = 0; ; attempt++) {
      this.throwIfAborted(label, signal);
      try {
        const { status, contentType, text: answer } = await this.exchange(version, route, text, signal);
        return interpret({ label, version, route, url: this.url, bytesSent: text === undefined ? 0 : Buffer.byteLength(text) }, status, contentType, answer, schema);
      } catch (error) {
        const delay = this.retries[attempt];
        if (delay === undefined || !mayRetry(error, ROUTES[route].idempotent)) throw error;
        await sleep(delay, signal ? AbortSignal.any([signal, this.closing.signal]) : this.closing.signal);
      }
    }
  }

  /** One HTTP exchange under the route's timeout; network failures become typed errors. */
  private async exchange(version: Version, route: RouteName, body: string | undefined, caller: AbortSignal | undefined): Promise<{ status: number; contentType: string; text: string }> {
    const label = routeLabel(version, route);
    const timeoutMs = this.timeouts[route];
    const timer = new AbortController();
    const timeout = setTimeout(() => timer.abort(), timeoutMs);
    const signal = AbortSignal.any([timer.signal, this.closing.signal, ...(caller ? [caller] : [])]);
    const headers: Record<string, string> = { accept: "application/json", "user-agent": `tracetrain (${PROTOCOL_OF[version]})` };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`;
    try {
      const response = await this.transport(new URL(`v${version}/${route}`, this.base), { method: ROUTES[route].method, headers, body, signal });
      const text = await readCapped(response.body, MAX_RESPONSE_BYTES, label, response.status);
      return { status: response.status, contentType: response.contentType, text };
    } catch (error) {
      if (error instanceof TracetrainError) throw error;
      const unknown = unknownOutcome(route);
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

/** Where an answer came from: the route as spoken, for messages and for the typed error of a status. */
interface Exchanged {
  label: string;
  version: Version;
  route: RouteName;
  url: string;
  bytesSent: number;
}

/** A 2xx answer parsed with the route's schema, or the typed error an error status stands for. */
function interpret<S extends z.ZodType>(at: Exchanged, status: number, contentType: string, text: string, schema: S): z.output<S> {
  if (status < 200 || status >= 300) throw errorFor(at, status, contentType, text);
  const json = parseJson(text);
  if (json === NOT_JSON) throw new BackendResponseError(at.label, status, [{ path: "", message: `expected JSON, got ${describeBody(contentType, text)}` }]);
  const result = schema.safeParse(json);
  if (result.success) return result.data;
  throw new BackendResponseError(at.label, status, toValidationIssues(result.error, 20, json).map((issue) => explainProtocol(issue, json, at.version)));
}

/** A wrong protocol version deserves a plainer message than zod's "invalid literal". */
function explainProtocol(issue: ValidationIssue, json: unknown, version: Version): ValidationIssue {
  if (issue.path !== "protocol" || typeof json !== "object" || json === null) return issue;
  const got = (json as Record<string, unknown>).protocol;
  if (got === undefined) return issue;
  return {
    path: "protocol",
    message: `expected "${PROTOCOL_OF[version]}", got ${clip(JSON.stringify(got) ?? String(got))} (this client speaks ${PROTOCOL} under /v2 and ${PROTOCOL_V1} under /v1)`,
  };
}

/** The typed error for an error status; the server's own message is kept when it sent a protocol error. */
function errorFor(at: Exchanged, status: number, contentType: string, text: string): TracetrainError {
  const { label, url } = at;
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
  if (status === 404) return new BackendError("not_found", label, status, `${head}: ${said} — is ${url} a ${PROTOCOL_OF[at.version]} backend?`);
  if (status === 409) return new ConflictError(`${head}: ${said}`, { route: label, status, code: "error" in body ? body.error.code : null });
  if (status === 413) {
    const sent = `${(at.bytesSent / 1024 / 1024).toFixed(1)} MiB`;
    return new BackendError("payload_too_large", label, status, `${head}: ${said} — the request (${sent}) exceeds the backend's body limit; nothing was applied. Raise the limit, or split the step into chunks if the backend has capabilities.chunked_train`);
  }
  if (status === 501) return new BackendUnsupportedError(label, ("error" in body && body.feature) || featureOf(at.route), `${head}: the backend cannot do this: ${said}`, status);
  if (status >= 500) return new BackendUnavailableError(label, status, `${head}: backend unavailable: ${said}${unknownOutcome(at.route)}`);
  if (status >= 400) return new BackendError("validation", label, status, `${head}: ${said}`);
  return new BackendResponseError(label, status, [{ path: "", message: `unexpected HTTP status ${status}; ${said}` }], "not a protocol answer");
}

/** What a 501 without a `details.feature` is about, judged by its route. */
function featureOf(route: RouteName): UnsupportedFeature {
  return route === "restore" ? "restore" : route === "train" ? "chunked_train" : route === "supervise" ? "supervised" : "protocol";
}

type ParsedErrorBody = { error: { code: string; message: string }; issues: ValidationIssue[]; feature: UnsupportedFeature | undefined } | { problem: string };

function protocolError(contentType: string, text: string): ParsedErrorBody {
  const json = parseJson(text);
  if (json === NOT_JSON) return { problem: `expected JSON {"error":{"code","message"}}, got ${describeBody(contentType, text)}` };
  const parsed = ProtocolErrorSchema.safeParse(json);
  if (!parsed.success) {
    const issue = toValidationIssues(parsed.error, 20, json)[0];
    return { problem: `${issue?.path || "body"}: ${issue?.message ?? "invalid"}; got ${excerpt(text)}` };
  }
  const raw = (json as { error: { details?: unknown } }).error.details;
  const details = ErrorDetailsSchema.safeParse(raw);
  const feature = FeatureDetailsSchema.safeParse(raw);
  return {
    error: { code: clip(parsed.data.error.code, 100), message: clip(parsed.data.error.message, 2000) },
    issues: details.success ? details.data.issues : [],
    feature: feature.success ? feature.data.feature : undefined,
  };
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

/** What a failed train or supervise leaves the caller to do: its outcome is unknown, and the `step` contract settles it. */
function unknownOutcome(route: RouteName): string {
  return route === "train" || route === "supervise" ? "; the update may or may not have been applied: resend the same step (409 means it was)" : "";
}

/** Errors proving the request never reached the server, so even a POST may be resent. */
const NOT_DELIVERED = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN"]);

/** GETs are retried on any unavailability or timeout; POSTs only when they never left. */
function mayRetry(error: unknown, idempotent: boolean): boolean {
  if (error instanceof BackendUnavailableError) return idempotent || !error.delivered;
  return error instanceof BackendTimeoutError && idempotent;
}

/** The root URL of the backend: routes are resolved under it; a trailing `/v1` or `/v2` is forgiven. */
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
  base.pathname = `${base.pathname.replace(/\/+$/, "").replace(/\/v[12]$/, "")}/`;
  return base;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
