/**
 * The openai SDK layer: patches `create` on the prototypes of the SDK's chat completions,
 * completions and responses resources, so every client — created before or after install — is
 * covered, and records each call from the request the agent passed and the response the SDK parsed
 * (which keeps unknown JSON fields, so vLLM's token ids are there).
 *
 * The agent gets back exactly what the SDK returned: the same `APIPromise` object, resolving to the
 * same value (the same `Stream`, whose chunks pass through unchanged). Observation hooks into that
 * object's own plumbing instead of chaining on it, because chaining (`.then`) would make the SDK
 * parse the body — which breaks `.asResponse()`, whose caller expects to read the body itself:
 *  - `responsePromise` (the HTTP round trip) is replaced by a copy that records errors on the way;
 *  - `parseResponse` (run when the agent awaits, `.withResponse()`s or `.parse()`s) is wrapped to
 *    see the parsed value; a `Stream`'s iterator is wrapped to see each chunk as the agent pulls it;
 *  - `asResponse()` alone never parses, so it is wrapped to record from a clone of the raw response.
 * The SDK's fetch runs with the fetch layer suppressed, so a call is recorded once.
 */
import { createRequire } from "node:module";
import type { JsonObject } from "../../types/index.js";
import type { ActiveSpan } from "../active-span.js";
import { toJsonValue } from "../../types/index.js";
import { currentFrame } from "../context.js";
import type { Instrumentation, InstallResult } from "../instrumentation.js";
import { recordFirstChunk, recordLlmError, recordLlmResponse, startLlmSpan } from "../llm-call.js";
import { runInSpan } from "../spans.js";
import { finishStream, recordPartialFailure, recordResponseCopy } from "../llm-response.js";
import { type WireApi, createAccumulator, requestFromBody, responseFromBody } from "../../llm/index.js";

export interface OpenAIInstrumentationOptions {
  /**
   * The `openai` module (its namespace, or the `OpenAI` class) to patch, instead of importing it —
   * for a copy the default import would not reach (another version, a bundled one).
   */
  module?: unknown;
}

type Method = (this: unknown, ...args: unknown[]) => unknown;
type Rec = Record<string, unknown>;

/** Where each patched resource sends its requests, relative to the client's base URL. */
const RESOURCE_PATHS: Record<"chat" | "completions" | "responses", string> = {
  chat: "/chat/completions",
  completions: "/completions",
  responses: "/responses",
};

const PACKAGE = "openai";

export function createOpenAIInstrumentation(options: OpenAIInstrumentationOptions = {}): Instrumentation {
  let restorers: Array<() => void> = [];
  return {
    name: "openai",
    async install(): Promise<InstallResult> {
      if (restorers.length > 0) return { installed: true };
      let modules: unknown[];
      try {
        modules = options.module === undefined ? await loadOpenAI() : [options.module];
      } catch (error) {
        return { installed: false, reason: `the openai package could not be loaded: ${error instanceof Error ? error.message : String(error)}` };
      }
      const patched = new Set<object>();
      for (const module of modules) {
        const client = clientClass(module);
        if (client === undefined) continue;
        const resources: Array<[WireApi & keyof typeof RESOURCE_PATHS, unknown]> = [
          ["chat", field(field(client, "Chat"), "Completions")],
          ["completions", field(client, "Completions")],
          ["responses", field(client, "Responses")],
        ];
        for (const [api, resource] of resources) {
          const proto = field(resource, "prototype");
          if (!isRecord(proto) || patched.has(proto)) continue;
          const restore = patchCreate(proto, api);
          if (restore) {
            patched.add(proto);
            restorers.push(restore);
          }
        }
      }
      if (restorers.length === 0) return { installed: false, reason: "no OpenAI client class with chat.completions, completions or responses was found in the openai module" };
      return { installed: true };
    },
    uninstall(): void {
      for (const restore of restorers.reverse()) restore();
      restorers = [];
    },
  };
}

/**
 * The package's ESM build and, when it resolves, its CommonJS build: they are separate copies with
 * separate prototypes, and an agent may load either.
 */
async function loadOpenAI(): Promise<unknown[]> {
  // A computed specifier keeps bundlers from inlining the optional package.
  const specifier = PACKAGE;
  const esm: unknown = await import(specifier);
  const modules = [esm];
  try {
    modules.push(createRequire(import.meta.url)(specifier) as unknown);
  } catch {
    // an ESM-only install: the import above is the only copy
  }
  return modules;
}

function isRecord(value: unknown): value is Rec {
  return (typeof value === "object" || typeof value === "function") && value !== null;
}

function field(value: unknown, key: string): unknown {
  return isRecord(value) ? value[key] : undefined;
}

/** The OpenAI client class of a module namespace (`OpenAI` or `default`), or the class itself. */
function clientClass(module: unknown): unknown {
  for (const candidate of [field(module, "OpenAI"), field(module, "default"), field(field(module, "default"), "OpenAI"), module]) {
    if (typeof candidate === "function" && (field(candidate, "Chat") !== undefined || field(candidate, "Responses") !== undefined)) return candidate;
  }
  return undefined;
}

/**
 * The wrapper made for each original `create`, reused when the instrumentation is installed again:
 * a fresh closure would start cold (no type feedback, unoptimised) after every re-install.
 */
const wrappers = new WeakMap<Method, Method>();

/** Replaces `proto.create`; returns how to put the original back. */
function patchCreate(proto: Rec, api: keyof typeof RESOURCE_PATHS): (() => void) | undefined {
  const original = proto.create;
  if (typeof original !== "function") return undefined;
  const create = original as Method;
  const own = Object.prototype.hasOwnProperty.call(proto, "create");
  const patched = wrappers.get(create) ?? wrapCreate(create, api);
  wrappers.set(create, patched);
  proto.create = patched;
  return () => {
    if (proto.create !== patched) return; // patched again over us: leave that in place
    if (own) proto.create = create;
    else delete proto.create;
  };
}

function wrapCreate(create: Method, api: keyof typeof RESOURCE_PATHS): Method {
  const patched: Method = function (this: unknown, ...args: unknown[]): unknown {
    const frame = currentFrame();
    if (frame === undefined || frame.suppressed === "openai") return create.apply(this, args);
    const span = startSpan(this, api, args[0]);
    if (span === undefined) return create.apply(this, args);
    let result: unknown;
    try {
      result = runInSpan(span, () => create.apply(this, args), { suppressed: "fetch" });
    } catch (error) {
      try {
        recordLlmError(span, error);
      } catch {
        // the agent's error is what it must see
      }
      throw error;
    }
    try {
      observe(result, span, api, args[0]);
    } catch (error) {
      safely(() => span.recordException(error).end());
    }
    return result;
  };
  Object.defineProperty(patched, "name", { value: create.name });
  return patched;
}

/** Base URLs seen, and what they mean for a span (parsing a URL per call would be wasted work). */
const targets = new Map<string, { basePath: string; serverAddress: string | undefined; serverPort: number | undefined }>();

function targetOf(baseURL: unknown): { basePath: string; serverAddress: string | undefined; serverPort: number | undefined } | undefined {
  if (typeof baseURL !== "string") return undefined;
  let target = targets.get(baseURL);
  if (target === undefined) {
    try {
      const url = new URL(baseURL);
      const port = url.port === "" ? (url.protocol === "https:" ? 443 : 80) : Number(url.port);
      target = { basePath: url.pathname.replace(/\/+$/, ""), serverAddress: url.hostname, serverPort: port };
    } catch {
      target = { basePath: "", serverAddress: undefined, serverPort: undefined };
    }
    if (targets.size >= 64) targets.clear();
    targets.set(baseURL, target);
  }
  return target;
}

function startSpan(resource: unknown, api: keyof typeof RESOURCE_PATHS, body: unknown): ActiveSpan | undefined {
  try {
    const target = targetOf(field(field(resource, "_client"), "baseURL"));
    const request = requestFromBody(api, body);
    request.provider = "openai";
    if (target) {
      request.endpoint = target.basePath + RESOURCE_PATHS[api];
      request.serverAddress = target.serverAddress;
      request.serverPort = target.serverPort;
    }
    return startLlmSpan("openai", request);
  } catch {
    return undefined;
  }
}

/** What an APIPromise (openai-node's `core/api-promise`) is made of. */
interface ApiPromiseParts {
  responsePromise: Promise<unknown>;
  parseResponse: Method;
  asResponse: Method;
}

function isApiPromise(value: unknown): value is Rec & ApiPromiseParts {
  return (
    isRecord(value) &&
    value.responsePromise instanceof Promise &&
    typeof value.parseResponse === "function" &&
    typeof value.asResponse === "function"
  );
}

/** Status and error body of an SDK `APIError`. */
function errorDetails(error: unknown): { status?: number; body?: JsonObject } {
  const status = field(error, "status");
  const body = field(error, "error");
  const json = body === undefined ? undefined : toJsonValue(body);
  const details: { status?: number; body?: JsonObject } = {};
  if (typeof status === "number") details.status = status;
  if (typeof json === "object" && json !== null && !Array.isArray(json)) details.body = json;
  return details;
}

/** Runs recording code; a failure there must neither reach the agent nor become an unhandled rejection. */
function safely(record: () => void): void {
  try {
    record();
  } catch {
    // the call goes on as if uninstrumented
  }
}

/** Hooks the SDK's result so the span records its outcome; see the file comment. */
function observe(result: unknown, span: ActiveSpan, api: WireApi, body: unknown): void {
  const fail = (error: unknown) => safely(() => recordLlmError(span, error, errorDetails(error)));
  if (!isApiPromise(result)) {
    // Not the APIPromise this was written against: observe it like any promise.
    if (result instanceof Promise) result.then((value) => recordValue(span, api, body, value), fail);
    return;
  }
  // Exactly one of the parsed value and the raw response records the success.
  let claimed = false;
  const response = result.responsePromise;
  result.responsePromise = response.then(undefined, (error: unknown) => {
    fail(error);
    throw error;
  });
  const parseResponse = result.parseResponse;
  result.parseResponse = function (this: unknown, ...args: unknown[]): unknown {
    const parsed = parseResponse.apply(this, args);
    if (!claimed) {
      claimed = true;
      // Registered before the SDK chains on it, so a Stream is wrapped before the agent has it.
      Promise.resolve(parsed).then((value) => recordValue(span, api, body, value), fail);
    }
    return parsed;
  };
  const asResponse = result.asResponse;
  Object.defineProperty(result, "asResponse", {
    configurable: true,
    writable: true,
    enumerable: false,
    value: function (this: unknown): unknown {
      const raw = asResponse.call(this);
      if (!(raw instanceof Promise)) return raw;
      return raw.then((http: unknown) => {
        // `.withResponse()` parses too, and its parse runs first: then the parsed value records.
        if (!claimed && http instanceof Response) {
          claimed = true;
          safely(() => void recordResponseCopy(span, api, http.clone()));
        }
        return http;
      });
    },
  });
}

function recordValue(span: ActiveSpan, api: WireApi, body: unknown, value: unknown): void {
  try {
    if (field(body, "stream") === true && isSdkStream(value)) wrapStream(value, span, api);
    else recordLlmResponse(span, responseFromBody(api, value));
  } catch (error) {
    safely(() => span.recordException(error).end());
  }
}

interface SdkStream {
  iterator: (this: unknown) => AsyncIterator<unknown>;
  controller?: unknown;
}

function isSdkStream(value: unknown): value is Rec & SdkStream {
  return isRecord(value) && typeof value.iterator === "function" && Symbol.asyncIterator in value;
}

class StreamInterruptedError extends Error {
  override name = "StreamInterruptedError";
}

/**
 * Wraps the iteration of one openai `Stream` instance. `[Symbol.asyncIterator]()`, `tee()` and
 * `toReadableStream()` all start from the instance's `iterator`, so wrapping that covers them all.
 * Every chunk reaches the agent unchanged; the span ends when the stream does — or fails, or is
 * abandoned (recorded as an error with what had arrived, unless every choice had finished).
 */
function wrapStream(stream: SdkStream, span: ActiveSpan, api: WireApi): void {
  const accumulator = createAccumulator(api);
  const iterate = stream.iterator;
  let started = false;
  let finished = false;
  const finish = (record: () => void) => {
    if (finished) return;
    finished = true;
    try {
      record();
    } catch {
      safely(() => span.end());
    }
  };
  const stop = (reason: string) =>
    finish(() => {
      if (accumulator.complete) finishStream(span, accumulator);
      else recordPartialFailure(span, accumulator, new StreamInterruptedError(reason));
    });
  // `stream.controller.abort()` makes the SDK end the iteration quietly, as if the stream were over.
  const aborted = () => field(field(stream.controller, "signal"), "aborted") === true;
  stream.iterator = function (this: unknown): AsyncIterator<unknown> {
    const inner = iterate.call(this);
    // A second iteration fails inside the SDK ("consumed stream"); it must not end our span.
    if (started) return inner;
    started = true;
    const wrapped: AsyncIterableIterator<unknown> = {
      next(...args: [] | [unknown]) {
        return inner.next(...args).then(
          (step) => {
            safely(() => {
              if (!step.done) {
                if (finished) return;
                recordFirstChunk(span);
                accumulator.add(step.value);
              } else if (aborted()) {
                stop("the stream was aborted before it ended");
              } else {
                finish(() => finishStream(span, accumulator));
              }
            });
            return step;
          },
          (error: unknown) => {
            finish(() => recordPartialFailure(span, accumulator, error, errorDetails(error).body));
            throw error;
          },
        );
      },
      return(value?: unknown) {
        stop("the consumer stopped reading the stream before it ended");
        return inner.return ? inner.return(value) : Promise.resolve({ done: true as const, value });
      },
      throw(error?: unknown) {
        finish(() => recordPartialFailure(span, accumulator, error));
        return inner.throw ? inner.throw(error) : Promise.reject(error instanceof Error ? error : new Error(String(error)));
      },
      [Symbol.asyncIterator]() {
        return wrapped;
      },
    };
    return wrapped;
  };
}
