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
import type { CaptureIssueInput, JsonObject } from "../../types/index.js";
import type { ActiveSpan } from "../active-span.js";
import { toJsonValue } from "../../types/index.js";
import { currentFrame } from "../context.js";
import type { Instrumentation, InstallResult } from "../instrumentation.js";
import { recordFirstChunk, recordLlmError, recordLlmResponse, startLlmSpan } from "../llm-call.js";
import { runInSpan } from "../spans.js";
import { finishStream, recordPartialFailure, recordResponseCopy } from "../llm-response.js";
import { type WireApi, createAccumulator, requestFromBody, responseFromBody } from "../../llm/index.js";
import { recordSubstituted, substitutedBody } from "./substitution.js";
import { type PackageCopy, describeCopy, findPackageCopies, isCommonJsLoaded, loadBuild } from "./package-copies.js";

export interface OpenAIInstrumentationOptions {
  /**
   * The `openai` module (its namespace, or the `OpenAI` class) to patch, instead of the copies the
   * application can load — for a copy those would not reach (a bundled one). Give the
   * instrumentation a `name` of its own to install it next to the built-in one.
   */
  module?: unknown;
  /** The instrumentation's name (default `openai`). */
  name?: string;
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
/** Frameworks that bring a copy of their own (another major than the application's, at times). */
const DEPENDENTS = ["@openai/agents", "@openai/agents-openai", "@langchain/openai"];

/** A build of the SDK that was patched: which copy (unknown for a module handed in) and which format. */
interface PatchedBuild {
  copy: PackageCopy | undefined;
  format: "esm" | "cjs" | "given";
}

/**
 * What each installed openai instrumentation patched, or why it could not: the fetch layer asks
 * when it records a call an SDK client made that no patch saw (see {@link unseenOpenAICallIssue}).
 */
const installs = new Map<Instrumentation, { patched: PatchedBuild[] } | { reason: string }>();

export function createOpenAIInstrumentation(options: OpenAIInstrumentationOptions = {}): Instrumentation {
  let restorers: Array<() => void> = [];
  let active = false;
  const instrumentation: Instrumentation = {
    name: options.name ?? "openai",
    async install(): Promise<InstallResult> {
      if (active) return { installed: true };
      const { builds, failures } = options.module === undefined ? await loadOpenAI() : { builds: [{ copy: undefined, format: "given" as const, module: options.module }], failures: [] };
      const patched: PatchedBuild[] = [];
      for (const build of builds) {
        const restore = patchClient(build.module);
        if (restore === undefined) continue;
        restorers.push(...restore);
        patched.push({ copy: build.copy, format: build.format });
      }
      if (patched.length === 0) {
        const reason =
          builds.length === 0
            ? `the openai package could not be loaded${failures.length > 0 ? `: ${failures.join("; ")}` : " (it is not installed)"}`
            : "no OpenAI client class with chat.completions, completions or responses was found in the openai module";
        installs.set(instrumentation, { reason });
        return { installed: false, reason };
      }
      installs.set(instrumentation, { patched });
      active = true;
      const issues: CaptureIssueInput[] = failures.map((failure) => ({
        instrumentation: instrumentation.name,
        code: "unpatched_copy",
        package: PACKAGE,
        message: `a copy of the openai SDK could not be loaded to be patched: ${failure}; calls it makes are recorded by the fetch layer only`,
      }));
      return issues.length > 0 ? { installed: true, issues } : { installed: true };
    },
    uninstall(): void {
      for (const restore of restorers.reverse()) restore();
      restorers = [];
      active = false;
      installs.delete(instrumentation);
    },
  };
  return instrumentation;
}

/**
 * Every copy of the SDK the application can load (see package-copies.ts). Of the one tracetrain
 * resolves, both builds: an agent may load either, and a CommonJS agent may load it later. Of other
 * copies, the ESM build and the CommonJS build if it is loaded already.
 */
async function loadOpenAI(): Promise<{ builds: Array<{ copy: PackageCopy; format: "esm" | "cjs"; module: unknown }>; failures: string[] }> {
  const builds: Array<{ copy: PackageCopy; format: "esm" | "cjs"; module: unknown }> = [];
  const failures: string[] = [];
  findPackageCopies(PACKAGE, DEPENDENTS).forEach((copy, index) => {
    const formats: Array<"esm" | "cjs"> = index === 0 || isCommonJsLoaded(copy) ? ["esm", "cjs"] : ["esm"];
    for (const format of formats) builds.push({ copy, format, module: undefined });
  });
  for (const build of builds) {
    try {
      build.module = await loadBuild(build.copy, ".", build.format);
    } catch (error) {
      failures.push(`${describeCopy(build.copy)}, ${build.format === "esm" ? "ESM" : "CommonJS"} build: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`);
    }
  }
  return { builds: builds.filter((build) => build.module !== undefined), failures };
}

/**
 * Patches `create` of the client class's resources; returns the restorers (none when another
 * instrumentation patched them already), or undefined when the module has no client class.
 */
function patchClient(module: unknown): Array<() => void> | undefined {
  const client = clientClass(module);
  if (client === undefined) return undefined;
  const resources: Array<[WireApi & keyof typeof RESOURCE_PATHS, unknown]> = [
    ["chat", field(field(client, "Chat"), "Completions")],
    ["completions", field(client, "Completions")],
    ["responses", field(client, "Responses")],
  ];
  const restorers: Array<() => void> = [];
  for (const [api, resource] of resources) {
    const proto = field(resource, "prototype");
    if (!isRecord(proto)) continue;
    const restore = patchCreate(proto, api);
    if (restore) restorers.push(restore);
  }
  return restorers;
}

/**
 * The issue to note when the fetch layer records a call an openai SDK client made (its request
 * carries the SDK's headers) that no openai patch saw: a copy of the SDK that was not patched made
 * it. Undefined when no openai instrumentation is installed or tried (the fetch layer is then the
 * intended recorder).
 */
export function unseenOpenAICallIssue(version: string | undefined): CaptureIssueInput | undefined {
  if (installs.size === 0) return undefined;
  const states = [...installs.values()];
  const patched = states.flatMap((state) => ("patched" in state ? state.patched : []));
  const failure = states.find((state): state is { reason: string } => "reason" in state);
  const sdk = `openai ${version ?? "(version unknown)"}`;
  const recorded = "the fetch layer recorded it from the HTTP exchange, without the SDK-level view";
  let message: string;
  if (patched.length === 0) {
    message = `an LLM call was made by the ${sdk} SDK, but tracetrain's openai instrumentation is not installed (${failure?.reason ?? "unknown reason"}); ${recorded}`;
  } else {
    const versions = patched.map((build) => (build.copy ? `${build.copy.version ?? "?"} ${build.format === "esm" ? "ESM" : "CommonJS"} at ${build.copy.root}` : "a module passed to createOpenAIInstrumentation"));
    const sameVersion = patched.some((build) => build.copy?.version === version);
    const cause = sameVersion
      ? "a build of the SDK tracetrain did not patch (a bundled copy, a copy installed elsewhere, or a CommonJS build loaded after instrument())"
      : "a copy of the SDK tracetrain did not patch (a dependency installed its own version, or the copy is bundled)";
    message = `an LLM call was made by the ${sdk} SDK, ${cause}; tracetrain patched ${[...new Set(versions)].join(", ")}; ${recorded}. Dedupe the copies (npm ls openai) or patch that module with createOpenAIInstrumentation({ module, name })`;
  }
  return { instrumentation: "openai", code: patched.length === 0 ? "not_installed" : "unpatched_copy", package: PACKAGE, ...(version === undefined ? {} : { version }), message };
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
/** Every wrapper made, so a prototype two instrumentations reach is patched once. */
const ourWrappers = new WeakSet<Method>();

/** Replaces `proto.create`; returns how to put the original back. */
function patchCreate(proto: Rec, api: keyof typeof RESOURCE_PATHS): (() => void) | undefined {
  const original = proto.create;
  if (typeof original !== "function") return undefined;
  const create = original as Method;
  if (ourWrappers.has(create)) return undefined;
  const own = Object.prototype.hasOwnProperty.call(proto, "create");
  const patched = wrappers.get(create) ?? wrapCreate(create, api);
  wrappers.set(create, patched);
  ourWrappers.add(patched);
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
    // The candidate's texts go in before the span records the request: it records what was sent.
    const substitution = substitutedBody(frame.trace, args[0]);
    if (substitution) args = [substitution.body, ...args.slice(1)];
    const span = startSpan(this, api, args[0]);
    if (span === undefined) return create.apply(this, args);
    recordSubstituted(span, substitution?.substituted);
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
