/**
 * The HTTP layer: wraps `globalThis.fetch` and records every LLM call made through it — OpenAI
 * chat completions, legacy completions, the Responses API and Anthropic messages, plain or
 * streamed — whatever client made it (the Vercel AI SDK, the Anthropic SDK, hand-written fetch).
 *
 * The agent's own `Request` and `Response` are never touched: the request body is read from what
 * the agent passed (or a clone of its `Request`), and the response through `response.clone()`,
 * read in the background, so the agent gets the same `Response` object, body unread, at the same
 * moment. Outside a traced rollout, inside a call an SDK layer already records (`suppressed ===
 * "fetch"`), or for any other URL, the wrapper only forwards the call.
 */
import type { JsonObject } from "../../types/index.js";
import type { ActiveSpan } from "../active-span.js";
import { toJsonValue } from "../attribute-value.js";
import { currentFrame } from "../context.js";
import { nowMs } from "../ids.js";
import type { Instrumentation, InstallResult } from "../instrumentation.js";
import { type LlmResponse, recordFirstChunk, recordLlmError, recordLlmResponse, startLlmSpan } from "../llm-call.js";
import { type StreamAccumulator, type WireApi, createAccumulator, providerOf, requestFromBody, responseFromBody, wireApiOfPath } from "./openai-wire.js";
import { SseParser, type SseEvent } from "./sse.js";

type Fetch = typeof globalThis.fetch;
type FetchInput = Parameters<Fetch>[0];
type FetchInit = Parameters<Fetch>[1];

export function createFetchInstrumentation(): Instrumentation {
  let original: Fetch | undefined;
  let wrapper: Fetch | undefined;
  const state = { active: false };
  return {
    name: "fetch",
    async install(): Promise<InstallResult> {
      if (typeof globalThis.fetch !== "function") return { installed: false, reason: "globalThis.fetch is not a function in this runtime" };
      if (!state.active) {
        original = globalThis.fetch;
        wrapper = tracedFetch(original, state);
        state.active = true;
        globalThis.fetch = wrapper;
      }
      return { installed: true };
    },
    uninstall(): void {
      state.active = false;
      // If something wrapped fetch after us, putting the original back would remove its wrapper
      // too; ours stays inside it and, inactive, only forwards.
      if (original && globalThis.fetch === wrapper) globalThis.fetch = original;
      original = undefined;
      wrapper = undefined;
    },
  };
}

function tracedFetch(original: Fetch, state: { active: boolean }): Fetch {
  return function fetch(this: unknown, ...args: Parameters<Fetch>): Promise<Response> {
    const frame = currentFrame();
    if (frame === undefined || frame.suppressed === "fetch" || !state.active) return original.apply(this, args);
    let target: Target | undefined;
    try {
      target = llmTarget(args[0], args[1]);
    } catch {
      target = undefined; // an input only the real fetch can judge
    }
    if (target === undefined) return original.apply(this, args);
    return tracedCall(original, this, args, target);
  };
}

interface Target {
  api: WireApi;
  endpoint: string;
  serverAddress: string | undefined;
  serverPort: number | undefined;
}

function isRequest(input: unknown): input is Request {
  return typeof Request === "function" && input instanceof Request;
}

/** The LLM API a fetch call goes to, if it is a POST to one of their paths; cheap for other calls. */
function llmTarget(input: FetchInput, init: FetchInit): Target | undefined {
  const request = isRequest(input) ? input : undefined;
  const method = init?.method ?? request?.method ?? "GET";
  if (method !== "POST" && method.toUpperCase() !== "POST") return undefined;
  const href = typeof input === "string" ? input : input instanceof URL ? input.href : request ? request.url : String(input);
  const end = href.search(/[?#]/);
  const api = wireApiOfPath(end === -1 ? href : href.slice(0, end));
  if (api === undefined) return undefined;
  try {
    const url = new URL(href);
    const port = url.port === "" ? (url.protocol === "https:" ? 443 : url.protocol === "http:" ? 80 : undefined) : Number(url.port);
    return { api, endpoint: url.pathname, serverAddress: url.hostname, serverPort: port };
  } catch {
    return { api, endpoint: end === -1 ? href : href.slice(0, end), serverAddress: undefined, serverPort: undefined };
  }
}

const utf8 = new TextDecoder();

/**
 * The request body as text, without consuming anything the agent passes on: a string or bytes as
 * given, a Blob or a `Request` read through a copy (asynchronously). A stream body cannot be copied
 * without taking it from the agent, so such a call is recorded without its request.
 */
function requestBodyText(input: FetchInput, init: FetchInit): string | Promise<string | undefined> | undefined {
  const body = init?.body;
  if (body !== undefined && body !== null) {
    if (typeof body === "string") return body;
    if (ArrayBuffer.isView(body)) return utf8.decode(body);
    if (body instanceof ArrayBuffer) return utf8.decode(new Uint8Array(body));
    if (typeof Blob === "function" && body instanceof Blob) return body.text().catch(() => undefined);
    return undefined;
  }
  if (isRequest(input) && input.body !== null && !input.bodyUsed) {
    try {
      return input.clone().text().catch(() => undefined);
    } catch {
      return undefined;
    }
  }
  return undefined;
}

function parseJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** `/messages` is also the Assistants API's path for adding a message to a thread: not an LLM call. */
function isLlmCall(api: WireApi, body: unknown): boolean {
  if (api !== "anthropic" || typeof body !== "object" || body === null) return true;
  return Array.isArray((body as { messages?: unknown }).messages);
}

function startSpan(target: Target, bodyText: string | undefined, startTime: number): ActiveSpan | undefined {
  try {
    const body = parseJson(bodyText);
    if (!isLlmCall(target.api, body)) return undefined;
    const request = requestFromBody(target.api, body);
    request.provider = providerOf(target.api);
    request.endpoint = target.endpoint;
    request.serverAddress = target.serverAddress;
    request.serverPort = target.serverPort;
    return startLlmSpan("fetch", request, { startTime });
  } catch {
    return undefined;
  }
}

function tracedCall(original: Fetch, thisArg: unknown, args: Parameters<Fetch>, target: Target): Promise<Response> {
  const startTime = nowMs();
  let body: string | Promise<string | undefined> | undefined;
  try {
    // Before the call: the original fetch consumes a Request's body.
    body = requestBodyText(args[0], args[1]);
  } catch {
    body = undefined;
  }
  const span: ActiveSpan | undefined | Promise<ActiveSpan | undefined> =
    typeof body === "object" ? body.then((text) => startSpan(target, text, startTime)) : startSpan(target, body, startTime);
  if (span === undefined) return original.apply(thisArg, args);
  let pending: Promise<Response>;
  try {
    pending = original.apply(thisArg, args);
  } catch (error) {
    whenSpan(span, (s) => recordLlmError(s, error));
    throw error;
  }
  return pending.then(
    (response) => {
      observeResponse(span, target.api, response);
      return response;
    },
    (error: unknown) => {
      whenSpan(span, (s) => recordLlmError(s, error));
      throw error;
    },
  );
}

/**
 * Runs `fn` with the span once there is one — at once when it already exists — or `otherwise`
 * when it turns out there is none. Never throws, never leaves a rejection unhandled.
 */
function whenSpan(span: ActiveSpan | Promise<ActiveSpan | undefined>, fn: (span: ActiveSpan) => void | Promise<void>, otherwise?: () => void): void {
  const run = (resolved: ActiveSpan | undefined) => {
    try {
      if (resolved) void Promise.resolve(fn(resolved)).catch(() => undefined);
      else otherwise?.();
    } catch {
      // recording never fails the agent's call
    }
  };
  if (span instanceof Promise) span.then(run, () => undefined);
  else run(span);
}

/** Copies the response now (before the agent can read it) and records it from the copy in the background. */
function observeResponse(span: ActiveSpan | Promise<ActiveSpan | undefined>, api: WireApi, response: Response): void {
  let copy: Response;
  try {
    copy = response.clone();
  } catch (error) {
    whenSpan(span, (s) => recordLlmError(s, error, { status: response.status }));
    return;
  }
  // Not an LLM call after all: release the copy, so its half of the body is not buffered.
  whenSpan(span, (s) => recordResponseCopy(s, api, copy), () => void copy.body?.cancel().catch(() => undefined));
}

/**
 * Records an LLM call's HTTP response from a copy the caller took: an error body for a status of
 * 400 or more, else the JSON body or, for `text/event-stream`, the events as they arrive (so the
 * span ends when the stream does). Resolves when the span has ended; never rejects.
 */
export async function recordResponseCopy(span: ActiveSpan, api: WireApi, copy: Response): Promise<void> {
  try {
    if (copy.status >= 400) {
      const body = parseJson(await copy.text());
      recordLlmError(span, httpError(copy.status, body), { status: copy.status, body: errorBody(body) });
    } else if ((copy.headers.get("content-type") ?? "").includes("text/event-stream")) {
      await recordEventStream(span, api, copy);
    } else {
      const text = await copy.text();
      const body = parseJson(text);
      if (body === undefined) recordLlmError(span, new Error(`the LLM response body is not JSON (${text.length} characters)`), { status: copy.status });
      else recordLlmResponse(span, responseFromBody(api, body));
    }
  } catch (error) {
    recordLlmError(span, error, { status: copy.status });
  }
}

function httpError(status: number, body: unknown): Error {
  const json = toJsonValue(body);
  const inner = typeof json === "object" && json !== null && !Array.isArray(json) ? (json.error ?? json) : json;
  const detail = typeof inner === "object" && inner !== null && !Array.isArray(inner) && typeof inner.message === "string" ? `: ${inner.message}` : "";
  const error = new Error(`HTTP ${status}${detail}`);
  error.name = "HttpError";
  return error;
}

function errorBody(body: unknown): JsonObject | undefined {
  if (body === undefined) return undefined;
  const json = toJsonValue(body);
  return typeof json === "object" && json !== null && !Array.isArray(json) ? json : { body: json };
}

async function recordEventStream(span: ActiveSpan, api: WireApi, copy: Response): Promise<void> {
  const accumulator = createAccumulator(api);
  const parser = new SseParser();
  const feed = (events: SseEvent[]) => {
    for (const event of events) {
      if (event.data === "[DONE]") continue;
      const data = parseJson(event.data);
      if (data === undefined) continue;
      recordFirstChunk(span);
      accumulator.add(data, event.event);
    }
  };
  if (copy.body !== null) {
    const reader = copy.body.getReader();
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        feed(parser.push(decoder.decode(value, { stream: true })));
      }
      feed(parser.push(decoder.decode()));
      feed(parser.end());
    } catch (error) {
      recordPartialFailure(span, accumulator, error);
      return;
    }
  }
  finishStream(span, accumulator);
}

/**
 * Ends a stream's span: its response (through `record`, by default recorded as is), or what
 * arrived and the error the stream reported in-band.
 */
export function finishStream(
  span: ActiveSpan,
  accumulator: StreamAccumulator,
  record: (response: LlmResponse) => void = (response) => recordLlmResponse(span, response),
): void {
  const failure = accumulator.error;
  if (failure === undefined) {
    record(accumulator.result());
    return;
  }
  const error = new Error(failure.message);
  error.name = "StreamError";
  recordPartialFailure(span, accumulator, error, errorBody(failure.body));
}

/**
 * Records a call that failed part-way (a stream that broke, or that its consumer abandoned): the
 * response attributes of what did arrive, then the error, which ends the span.
 */
export function recordPartialFailure(span: ActiveSpan, accumulator: StreamAccumulator, error: unknown, body?: JsonObject): void {
  if (accumulator.received) recordLlmResponse(span, accumulator.result(), { end: false });
  recordLlmError(span, error, body === undefined ? {} : { body });
}

