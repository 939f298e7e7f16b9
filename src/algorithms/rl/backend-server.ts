/**
 * Serves any `TrainingBackend` over protocol `tracetrain-rl/2` (routes under `/v2`), and over
 * `tracetrain-rl/1` (under `/v1`) for clients that know only that, translated exactly through
 * protocol-v1-mapping.ts (docs/rl-backend-protocol.md): the
 * in-process reference backend for `tracetrain backend serve --reference`, an exporter, or a test
 * double — and, being the protocol's reference server, the behaviour a Python server should copy.
 *
 * Plain `node:http` with the store server's plumbing (router, body limits, token checks, exposure
 * checks, JSON error bodies). Requests are validated before the backend sees them; the backend's
 * answers are validated before the client sees them. One train, supervise, checkpoint or restore runs at a time, in
 * arrival order: a backend owns one set of weights, and a resent step queued behind the original
 * then meets the backend's 409 instead of racing it.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import { z } from "zod";
import { ConflictError, type Logger, TracetrainError, ValidationError, type ValidationIssue, parseOrThrow, toValidationIssues } from "../../types/index.js";
import { errorBody } from "../../http/index.js";
import { ClientGone, answerClientError, bearerToken, closeGracefully, disconnectSignal, listenOn, readBody, trackedListener, requestUrl, tokenDigest, tokenMatches } from "../../http/index.js";
import { Router } from "../../http/index.js";
import {
  BackendInfoSchema,
  CheckpointRequestSchema,
  CheckpointResponseSchema,
  EndpointsResponseSchema,
  type ParsedBackendInfo,
  RestoreRequestSchema,
  RestoreResponseSchema,
  SuperviseChatSampleSchema,
  SuperviseRequestSchema,
  SuperviseSampleSchema,
  TrainRequestSchema,
  TrainResponseSchema,
  TrainSampleSchema,
} from "./protocol.js";
import { TrainRequestV1Schema, TrainSampleV1Schema } from "./protocol-v1.js";
import { infoToV1, trainRequestFromV1, trainResponseToV1 } from "./protocol-v1-mapping.js";
import type { TrainingBackend } from "./training-backend.js";
import { checkSuperviseRequest, checkTrainRequest } from "./train-request-checks.js";
import { BackendResponseError, BackendUnsupportedError } from "./backend-errors.js";
import { type ServeTrainingBackendOptions, parseServeTrainingBackendOptions } from "./backend-options.js";

export interface TrainingBackendServer {
  /** The root URL, e.g. `http://127.0.0.1:8321` (routes are under `/v2`, and `/v1` for version-1 clients). */
  url: string;
  /** Stops listening, aborts running requests, waits for them. The backend stays open: its owner closes it. */
  close(): Promise<void>;
}

/** Receiving a request (not answering it: a train step may take far longer) must finish within this. */
const REQUEST_RECEIVE_TIMEOUT_MS = 10 * 60_000;

type Handler = (body: unknown, signal: AbortSignal) => Promise<unknown>;

export async function serveTrainingBackend(backend: TrainingBackend, options: ServeTrainingBackendOptions = {}): Promise<TrainingBackendServer> {
  const { host, port, logger, bodyLimitBytes: bodyLimit, token } = parseServeTrainingBackendOptions(options);
  const tokenCheck = token === undefined ? undefined : tokenDigest(token);
  const shutdown = new AbortController();
  let url = "";
  const router = buildRouter(backend, () => url);
  const inFlight = new Set<Promise<void>>();

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const method = request.method ?? "GET";
    try {
      const url = requestUrl(request.url);
      if (tokenCheck && !tokenMatches(bearerToken(request), tokenCheck)) throw new TracetrainError("unauthorized", "missing or wrong bearer token");
      const match = router.match(method, url.pathname);
      if (match === undefined) throw new TracetrainError("not_found", `no route ${method} ${url.pathname.slice(0, 200)}`);
      if (match === "method") {
        request.resume();
        sendJson(response, 405, { error: { code: "method_not_allowed", message: `${url.pathname} does not accept ${method.slice(0, 20)}` } }, { allow: allowed(url.pathname) });
        return;
      }
      const body = method === "POST" ? parseJson(await readBody(request, bodyLimit)) : undefined;
      const signal = disconnectSignal(response, shutdown.signal);
      const result = await callBackend(() => match.handler(body, signal), match.pattern, signal, logger);
      if (!response.destroyed) sendJson(response, 200, result);
    } catch (error) {
      if (error instanceof ClientGone) return; // nobody is left to answer
      const { status, body } = answerFor(error);
      // The backend's own failures were logged where they happened; only the server's surprises are left.
      if (status === 500 && !(error instanceof TracetrainError)) logger.error("training backend server: internal error", { error, method, url: request.url });
      if (!response.headersSent && !response.destroyed) sendJson(response, status, body);
      if (status === 413) request.resume(); // drain the rest so the connection closes cleanly
    }
  }

  const server: Server = createServer(trackedListener(inFlight, handle, (error) => logger.error("unexpected failure answering a request", { error })));
  server.on("clientError", (error: NodeJS.ErrnoException, socket) => answerClientError(error, socket));
  server.on("checkExpectation", (request, response) => {
    sendJson(response, 417, new TracetrainError("validation", `unsupported Expect header: ${String(request.headers.expect).slice(0, 100)}`).toJSON());
  });
  server.requestTimeout = REQUEST_RECEIVE_TIMEOUT_MS;
  server.headersTimeout = 60_000;

  url = await listenOn(server, port, host);

  return {
    url,
    async close() {
      if (shutdown.signal.aborted) return;
      shutdown.abort();
      await closeGracefully(server, inFlight);
    },
  };
}

/**
 * The routes of both versions; each validates what comes in and what the backend hands back.
 * Version-1 routes translate to the backend's version-2 interface and back.
 */
function buildRouter(backend: TrainingBackend, url: () => string): Router<Handler> {
  const serial = serializer();
  const info = async (): Promise<ParsedBackendInfo> => {
    const answer = checkAnswer(BackendInfoSchema, await backend.info(), "info");
    // A backend without a restore (supervise) method cannot restore (take supervised steps), whatever its info says.
    const missing = {
      ...(backend.restore === undefined ? { restore: false } : {}),
      ...(backend.supervise === undefined ? { supervised: false, supervised_chat: false } : {}),
    };
    return { ...answer, capabilities: { ...answer.capabilities, ...missing } };
  };
  const checkpoint = async (body: unknown, signal: AbortSignal) => {
    const request = parseOrThrow(CheckpointRequestSchema, body ?? {}, "checkpoint request");
    return serial(signal, async () => checkAnswer(CheckpointResponseSchema, await backend.checkpoint(request), "checkpoint"));
  };
  const endpoints = async () => checkAnswer(EndpointsResponseSchema, await backend.endpoints(), "endpoints");
  const train = (request: z.output<typeof TrainRequestSchema>, signal: AbortSignal) =>
    serial(signal, async () => checkAnswer(TrainResponseSchema, await backend.train(request, { signal }), "train"));
  return new Router<Handler>()
    .add("GET", "/v2/info", info)
    .add("GET", "/v2/endpoints", endpoints)
    .add("POST", "/v2/train", async (body, signal) => {
      const request = parseTrainRequest(body, TrainEnvelopeSchema, TrainSampleSchema);
      if (request.hyperparameters !== undefined || request.chunk !== undefined) checkTrainRequest(request, await info(), "POST /v2/train", url());
      return train(request, signal);
    })
    .add("POST", "/v2/supervise", async (body, signal) => {
      const request = parseSuperviseRequest(body);
      const supervise = backend.supervise?.bind(backend);
      if (supervise === undefined) {
        const feature = (request.samples?.length ?? 0) > 0 ? "supervised" : "supervised_chat";
        throw new BackendUnsupportedError("POST /v2/supervise", feature, "this backend takes no supervised steps (it has no supervise method)");
      }
      checkSuperviseRequest(request, await info(), "POST /v2/supervise", url());
      return serial(signal, async () => checkAnswer(TrainResponseSchema, await supervise(request, { signal }), "supervise"));
    })
    .add("POST", "/v2/checkpoint", checkpoint)
    .add("POST", "/v2/restore", async (body, signal) => {
      const request = parseOrThrow(RestoreRequestSchema, body, "restore request");
      const restore = backend.restore?.bind(backend);
      if (restore === undefined || !(await info()).capabilities.restore) {
        throw new BackendUnsupportedError("POST /v2/restore", "restore", "this backend cannot restore checkpoints (capabilities.restore is false)");
      }
      return serial(signal, async () => checkAnswer(RestoreResponseSchema, await restore(request), "restore"));
    })
    .add("GET", "/v1/info", async () => infoToV1(await info()))
    .add("GET", "/v1/endpoints", endpoints)
    .add("POST", "/v1/train", async (body, signal) => trainResponseToV1(await train(trainRequestFromV1(parseTrainRequest(body, TrainEnvelopeV1Schema, TrainSampleV1Schema)), signal)))
    .add("POST", "/v1/checkpoint", checkpoint);
}

const TrainEnvelopeSchema = TrainRequestSchema.extend({ samples: z.array(z.unknown()).min(1) });
const SuperviseEnvelopeSchema = z.object({ ...SuperviseRequestSchema.shape, samples: z.array(z.unknown()).optional(), chat: z.array(z.unknown()).optional() });
const TrainEnvelopeV1Schema = TrainRequestV1Schema.extend({ samples: z.array(z.unknown()).min(1) });

/**
 * A train request of either version, samples checked one by one and stopping at 20 problems: a
 * hostile batch of a million bad samples is refused in the time it takes to find 20, not after
 * describing them all.
 */
function parseTrainRequest<E extends z.ZodType<{ samples: unknown[] }>, S extends z.ZodType>(body: unknown, envelopeSchema: E, sampleSchema: S): Omit<z.output<E>, "samples"> & { samples: z.output<S>[] } {
  const envelope = parseOrThrow(envelopeSchema, body, "train request");
  const issues: ValidationIssue[] = [];
  const samples = parseEach(envelope.samples, sampleSchema, "samples", issues);
  if (issues.length > 0) throw new ValidationError("train request", issues);
  return { ...envelope, samples };
}

/** A supervise request, its token and chat samples checked one by one as a train request's are. */
function parseSuperviseRequest(body: unknown): z.output<typeof SuperviseRequestSchema> {
  const envelope = parseOrThrow(SuperviseEnvelopeSchema, body, "supervise request");
  const issues: ValidationIssue[] = [];
  const samples = envelope.samples === undefined ? undefined : parseEach(envelope.samples, SuperviseSampleSchema, "samples", issues);
  const chat = envelope.chat === undefined ? undefined : parseEach(envelope.chat, SuperviseChatSampleSchema, "chat", issues);
  if (issues.length > 0) throw new ValidationError("supervise request", issues);
  // The whole-request rules (at least one sample of either kind) are the schema's.
  return parseOrThrow(SuperviseRequestSchema, { ...envelope, ...(samples === undefined ? {} : { samples }), ...(chat === undefined ? {} : { chat }) }, "supervise request");
}

/** Parses each item, adding its problems (at `<key>.<i>.…`) to `issues` until there are 20. */
function parseEach<S extends z.ZodType>(items: readonly unknown[], schema: S, key: string, issues: ValidationIssue[]): z.output<S>[] {
  const parsed: z.output<S>[] = [];
  for (const [i, item] of items.entries()) {
    if (issues.length >= 20) break;
    const result = schema.safeParse(item);
    if (result.success) parsed.push(result.data);
    else issues.push(...toValidationIssues(result.error, 20 - issues.length, item, [key, i]));
  }
  return parsed;
}

/** The status and body of an error: a capability the backend lacks is 501 `not_supported`, naming it. */
function answerFor(error: unknown): { status: number; body: unknown } {
  if (error instanceof BackendUnsupportedError) return { status: 501, body: { error: { code: "not_supported", message: error.message, details: { feature: error.feature } } } };
  return errorBody(error);
}

/** A backend answering outside the protocol is a server bug: logged, and a 500 for the client. */
function checkAnswer<S extends z.ZodType>(schema: S, value: unknown, method: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new BackendResponseError(method, undefined, toValidationIssues(result.error, 5, value), "the answer breaks the protocol");
}

/**
 * The backend's errors, as the protocol maps them: its validation and conflict errors reach the
 * client with their message; anything else is logged here and reported as a bare 500, since a
 * trainer's internals (paths, stack traces) are no business of the client's.
 */
async function callBackend(run: () => Promise<unknown>, route: string, signal: AbortSignal, logger: Logger): Promise<unknown> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof ValidationError || error instanceof ConflictError || error instanceof BackendUnsupportedError || error instanceof ClientGone) throw error;
    if (signal.aborted) {
      // Not a backend failure: its call was cut short because the client left or the server is stopping.
      logger.warn(`${route} was interrupted (client gone or server shutting down)`, { error });
      throw new TracetrainError("unavailable", `${route} was interrupted: the server is shutting down`);
    }
    logger.error(`training backend failed on ${route}`, { error });
    throw new TracetrainError("internal", `the training backend failed on ${route}; see the server's log`);
  }
}

/** Runs tasks one at a time in arrival order; a task whose client left while it waited is skipped. */
function serializer(): <T>(signal: AbortSignal, task: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(signal: AbortSignal, task: () => Promise<T>): Promise<T> => {
    const run = tail.then(() => {
      if (signal.aborted) throw new ClientGone("the client left before its turn");
      return task();
    });
    tail = run.catch(() => undefined);
    return run;
  };
}

function allowed(path: string): string {
  return /^\/v[12]\/(train|supervise|checkpoint|restore)$/.test(path) ? "POST" : "GET";
}

function parseJson(body: Buffer): unknown {
  if (body.length === 0) return undefined;
  try {
    return JSON.parse(body.toString("utf8")) as unknown;
  } catch (error) {
    throw new ValidationError("request body", [{ path: "", message: `not valid JSON (${(error as Error).message.slice(0, 200)})` }]);
  }
}

function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { ...headers, "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) }).end(text);
}
