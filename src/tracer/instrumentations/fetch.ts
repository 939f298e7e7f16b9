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
 *
 * A call that carries the openai SDK's own headers should never get here inside a trace: the
 * openai layer records it and suppresses this one. When one does, a copy of the SDK that was not
 * patched made it; it is recorded here all the same (once), and the trace report says so.
 */
import { nowMs } from "../../types/index.js";
import { type WireApi, providerOf, requestFromBody, wireApiOfPath } from "../../llm/index.js";
import type { ActiveSpan } from "../active-span.js";
import { currentFrame } from "../context.js";
import type { Instrumentation, InstallResult } from "../instrumentation.js";
import { recordLlmError, startLlmSpan } from "../llm-call.js";
import { parseJsonText, recordResponseCopy } from "../llm-response.js";
import { unseenOpenAICallIssue } from "./openai.js";
import { guardSubstitution, recordSubstituted, substitutedBody } from "./substitution.js";
import type { TraceState } from "../trace-state.js";

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
    return tracedCall(original, this, args, target, frame.trace);
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

/** `/messages` is also the Assistants API's path for adding a message to a thread: not an LLM call. */
function isLlmCall(api: WireApi, body: unknown): boolean {
  if (api !== "anthropic" || typeof body !== "object" || body === null) return true;
  return Array.isArray((body as { messages?: unknown }).messages);
}

function startSpan(target: Target, bodyText: string | undefined, startTime: number): ActiveSpan | undefined {
  try {
    const body = parseJsonText(bodyText);
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

function tracedCall(original: Fetch, thisArg: unknown, args: Parameters<Fetch>, target: Target, trace: TraceState): Promise<Response> {
  const startTime = nowMs();
  let body: string | Promise<string | undefined> | undefined;
  try {
    // Before the call: the original fetch consumes a Request's body.
    body = requestBodyText(args[0], args[1]);
  } catch {
    body = undefined;
  }
  if (trace.substituter === undefined) return send(original, thisArg, args, target, body, startTime);
  // The candidate's texts must be in the body before it leaves: a body read asynchronously (a
  // Request, a Blob) holds the call back until it is read.
  if (typeof body !== "object") return sendSubstituted(original, thisArg, args, target, body, startTime, trace);
  return body.then((text) => sendSubstituted(original, thisArg, args, target, text, startTime, trace));
}

function sendSubstituted(original: Fetch, thisArg: unknown, args: Parameters<Fetch>, target: Target, text: string | undefined, startTime: number, trace: TraceState): Promise<Response> {
  const parsed = text === undefined ? undefined : parseJsonText(text);
  const substitution = parsed === undefined ? undefined : substitutedBody(trace, parsed);
  if (substitution === undefined) return send(original, thisArg, args, target, text, startTime);
  const replaced = JSON.stringify(substitution.body);
  const rebuilt = guardSubstitution(() => withBody(args, replaced));
  if (rebuilt === undefined) return send(original, thisArg, args, target, text, startTime);
  return send(original, thisArg, rebuilt, target, replaced, startTime, substitution.substituted);
}

/**
 * The fetch arguments with another body, the agent's own objects untouched: a `Request` is
 * rebuilt around the new body, an init copied. A stated content length would no longer hold, so
 * it is left for fetch to compute.
 */
function withBody(args: Parameters<Fetch>, body: string): Parameters<Fetch> {
  const [input, init] = args;
  if (init?.body === undefined && isRequest(input)) return [new Request(input, { body, headers: withoutContentLength(input.headers) }), init];
  return [input, { ...init, body, ...(init?.headers === undefined ? {} : { headers: withoutContentLength(init.headers) }) }];
}

function withoutContentLength(headers: HeadersLike): Headers {
  const copy = new Headers(headers);
  copy.delete("content-length");
  return copy;
}

function send(
  original: Fetch,
  thisArg: unknown,
  args: Parameters<Fetch>,
  target: Target,
  body: string | Promise<string | undefined> | undefined,
  startTime: number,
  substituted?: readonly string[],
): Promise<Response> {
  const span: ActiveSpan | undefined | Promise<ActiveSpan | undefined> =
    typeof body === "object" ? body.then((text) => startSpan(target, text, startTime)) : startSpan(target, body, startTime);
  if (span === undefined) return original.apply(thisArg, args);
  if (substituted) whenSpan(span, (s) => recordSubstituted(s, substituted));
  whenSpan(span, (s) => noteUnseenSdkCall(s, args[0], args[1]));
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

/** When an openai SDK client made this call (see the file comment), notes it in the trace. */
function noteUnseenSdkCall(span: ActiveSpan, input: FetchInput, init: FetchInit): void {
  const sdk = openaiSdkOf(input, init);
  if (sdk === undefined) return;
  const issue = unseenOpenAICallIssue(sdk.version);
  if (issue) span.trace.noteIssue(issue);
}

type HeadersLike = NonNullable<NonNullable<FetchInit>["headers"]>;

function headerOf(headers: HeadersLike, name: string): string | undefined {
  if (typeof Headers === "function" && headers instanceof Headers) return headers.get(name) ?? undefined;
  const entries: Iterable<readonly [string, string]> = Array.isArray(headers) ? (headers as Array<[string, string]>) : Object.entries(headers as Record<string, string>);
  for (const [key, value] of entries) if (key.toLowerCase() === name) return String(value);
  return undefined;
}

/**
 * The openai SDK's version, when the request carries the headers its clients send (`x-stainless-*`)
 * and no other Stainless-made SDK's user agent (`Anthropic/JS …`, `Groq/JS …`). The Agents SDK and
 * LangChain replace the user agent but keep the `x-stainless-*` headers.
 */
function openaiSdkOf(input: FetchInput, init: FetchInit): { version: string | undefined } | undefined {
  const headers = init?.headers ?? (isRequest(input) ? input.headers : undefined);
  if (headers === undefined || headerOf(headers, "x-stainless-lang") === undefined) return undefined;
  const sdkName = /^(\w+)\/JS /.exec(headerOf(headers, "user-agent") ?? "")?.[1];
  if (sdkName !== undefined && !sdkName.endsWith("OpenAI")) return undefined;
  return { version: headerOf(headers, "x-stainless-package-version") };
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
