/**
 * The LangChain.js layer (LangChain, LangGraph, `createAgent`), with no change to agent code.
 *
 * Every LangChain run — a chain, a graph node, a model call, a tool — builds its callback manager
 * through `CallbackManager.configure` / `_configureSync`. While a traced rollout is current, the
 * patched versions add our handler to the manager they return (child managers inherit it, and it
 * is never added twice); outside a trace they change nothing. The handler hands each run to the
 * {@link RunRecorder}, which maps LangChain's run tree to spans.
 *
 * A bridge makes the innermost LangChain run the parent of spans other layers start inside it —
 * above all the openai SDK layer's span when ChatOpenAI calls the SDK, which then records the call
 * exactly while the LangChain model span above it becomes its `llm_run` wrapper. LangChain's own
 * context (its AsyncLocalStorage) knows the current chain or tool run but not the model run, so
 * model generations (`BaseChatModel` / `BaseLLM`) are wrapped in a scope of their own.
 *
 * Handler callbacks are awaited (`awaitHandlers`): run in the background, they would lose the
 * rollout's context and start spans after the model call they describe had begun.
 *
 * Every copy of `@langchain/core` the application can load is patched (see package-copies.ts). All
 * copies share one AsyncLocalStorage (a global symbol) for the current run's config; a config whose
 * callback manager lacks our handler inside a trace comes from a copy that was not patched — the
 * bridge notes that in the trace report (the LLM calls inside are still recorded, by the openai or
 * fetch layer).
 */
import type { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import { addBridge } from "../bridges.js";
import { currentFrame } from "../context.js";
import type { Instrumentation, InstallResult } from "../instrumentation.js";
import type { CaptureIssueInput } from "../../types/index.js";
import { RecordingGuard } from "./recording-guard.js";
import type { TraceState } from "../trace-state.js";
import { chatRequest, completionRequest } from "./langchain-messages.js";
import { type RunStart, RunRecorder, modelCallScope } from "./langchain-runs.js";
import { type PackageCopy, describeCopy, findLoadedCommonJsCopy, findPackageCopies, isCommonJsLoaded, loadBuild } from "./package-copies.js";

/** The handler's name: how a manager that already has it (from any copy of LangChain) is recognised. */
export const LANGCHAIN_HANDLER_NAME = "tracetrain";

type Method = (this: unknown, ...args: unknown[]) => unknown;
type Rec = Record<string, unknown>;
type HandlerBase = typeof BaseCallbackHandler;

/** The parts of one copy of `@langchain/core` (its ESM or its CommonJS build) that get hooked. */
interface LangChainCopy {
  callbackManager: Rec;
  handlerBase: HandlerBase;
  chatModelPrototype: Rec | undefined;
  llmPrototype: Rec | undefined;
}

const PACKAGE = "@langchain/core";
/** Frameworks that may bring a copy of their own. */
const DEPENDENTS = ["langchain", "@langchain/langgraph", "@langchain/openai", "@langchain/anthropic"];

/** The subpaths of `@langchain/core` that get hooked. */
const MODULES = {
  manager: "./callbacks/manager",
  base: "./callbacks/base",
  chatModels: "./language_models/chat_models",
  llms: "./language_models/llms",
} as const;

/** Where every copy of LangChain keeps the current run (`@langchain/core/singletons`). */
const RUN_STORAGE_KEY = Symbol.for("ls:tracing_async_local_storage");
/** The key of a run's config in that storage's value (`extra[LC_CHILD_KEY]`). */
const CHILD_CONFIG_KEY = Symbol.for("lc:child_config");

function isRec(value: unknown): value is Rec {
  return (typeof value === "object" || typeof value === "function") && value !== null;
}

function field(value: unknown, key: string): unknown {
  return isRec(value) ? value[key] : undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

export function createLangChainInstrumentation(): Instrumentation {
  let uninstallAll: (() => void) | undefined;
  return {
    name: "langchain",
    async install(): Promise<InstallResult> {
      if (uninstallAll) return { installed: true };
      const { copies, failures } = await loadLangChain();
      if (copies.length === 0) {
        return { installed: false, reason: failures.length > 0 ? `@langchain/core could not be loaded: ${failures.join("; ")}` : "@langchain/core is not installed" };
      }
      uninstallAll = hook(copies);
      const issues: CaptureIssueInput[] = failures.map((failure) => ({
        instrumentation: "langchain",
        code: "unpatched_copy",
        package: PACKAGE,
        message: `a copy of @langchain/core could not be loaded to be patched: ${failure}; its runs are not recorded (LLM calls inside them are, by the openai or fetch layer)`,
      }));
      return issues.length > 0 ? { installed: true, issues } : { installed: true };
    },
    uninstall(): void {
      uninstallAll?.();
      uninstallAll = undefined;
    },
  };
}

/**
 * The ESM build of every copy, and the CommonJS build of those whose CommonJS build is loaded
 * already: they are separate copies with separate classes. (Loading a CommonJS build just in case
 * would cost ~200 ms per process.)
 */
async function loadLangChain(): Promise<{ copies: LangChainCopy[]; failures: string[] }> {
  const copies: LangChainCopy[] = [];
  const failures: string[] = [];
  for (const copy of findPackageCopies(PACKAGE, DEPENDENTS)) {
    for (const format of isCommonJsLoaded(copy) ? (["esm", "cjs"] as const) : (["esm"] as const)) {
      try {
        const loaded = await loadCopy(copy, format);
        if (loaded) copies.push(loaded);
        else failures.push(`${describeCopy(copy)} has no CallbackManager with _configureSync or configure`);
      } catch (error) {
        failures.push(`${describeCopy(copy)}, ${format === "esm" ? "ESM" : "CommonJS"} build: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`);
      }
    }
  }
  return { copies, failures };
}

async function loadCopy(copy: PackageCopy, format: "esm" | "cjs"): Promise<LangChainCopy | undefined> {
  const optional = (subpath: string): Promise<unknown> => loadBuild(copy, subpath, format).catch(() => undefined);
  const [manager, base, chatModels, llms] = await Promise.all([
    loadBuild(copy, MODULES.manager, format),
    loadBuild(copy, MODULES.base, format),
    optional(MODULES.chatModels),
    optional(MODULES.llms),
  ]);
  return copyOf(manager, base, chatModels, llms);
}

function copyOf(manager: unknown, base: unknown, chatModels: unknown, llms: unknown): LangChainCopy | undefined {
  const callbackManager = field(manager, "CallbackManager");
  const handlerBase = field(base, "BaseCallbackHandler");
  if (!isRec(callbackManager) || typeof handlerBase !== "function") return undefined;
  if (typeof callbackManager._configureSync !== "function" && typeof callbackManager.configure !== "function") return undefined;
  const chatModelPrototype = field(field(chatModels, "BaseChatModel"), "prototype");
  const llmPrototype = field(field(llms, "BaseLLM"), "prototype");
  return {
    callbackManager,
    handlerBase: handlerBase as HandlerBase,
    chatModelPrototype: isRec(chatModelPrototype) ? chatModelPrototype : undefined,
    llmPrototype: isRec(llmPrototype) ? llmPrototype : undefined,
  };
}

/** Installs every hook; returns how to remove them all. */
function hook(copies: LangChainCopy[]): () => void {
  const state = { active: true };
  const recorder = new RunRecorder();
  const restorers: Array<() => void> = [];
  for (const copy of copies) {
    const handler = createHandler(copy.handlerBase, recorder);
    const join = joinManagers(state, handler);
    // `configure` delegates to `_configureSync` today; both are patched in case that changes (joining twice is a no-op).
    for (const key of ["_configureSync", "configure"]) restorers.push(patch(copy.callbackManager, key, join));
    for (const prototype of [copy.chatModelPrototype, copy.llmPrototype]) {
      if (!prototype) continue;
      restorers.push(patch(prototype, "_generateUncached", (original) => scopedCall(state, original)));
      restorers.push(patch(prototype, "_streamIterator", (original) => scopedIterator(state, original)));
    }
  }
  const patchedManagers = new Set<unknown>(copies.map((copy) => copy.callbackManager));
  const removeBridge = addBridge((trace) => {
    try {
      const config = currentRunConfig();
      const callbacks = field(config, "callbacks");
      if (config !== undefined && (callbacks === undefined || (isRec(callbacks) && !Array.isArray(callbacks) && !hasOurHandler(callbacks)))) {
        noteUnpatchedRun(trace, callbacks, patchedManagers);
        return undefined;
      }
      return recorder.currentRun(trace, isRec(callbacks) && !Array.isArray(callbacks) ? parentRunIdOf(callbacks) : undefined);
    } catch {
      return undefined;
    }
  });
  return () => {
    state.active = false;
    removeBridge();
    for (const restore of restorers.reverse()) restore();
  };
}

/**
 * Replaces `target[key]` with `wrap(original)`; returns how to put the original back. If someone
 * wrapped it again after us, their wrapper stays and ours (now inactive) passes calls through.
 */
function patch(target: Rec, key: string, wrap: (original: Method) => Method): () => void {
  const original = target[key];
  if (typeof original !== "function") return () => {};
  const own = Object.prototype.hasOwnProperty.call(target, key);
  const wrapper = wrap(original as Method);
  target[key] = wrapper;
  return () => {
    if (target[key] !== wrapper) return;
    if (own) target[key] = original;
    else delete target[key];
  };
}

/** The `configure` wrapper: inside a trace, the returned manager includes our handler. */
function joinManagers(state: { active: boolean }, handler: BaseCallbackHandler): (original: Method) => Method {
  return (original) =>
    function (this: unknown, ...args: unknown[]): unknown {
      if (!state.active || currentFrame() === undefined) return original.apply(this, args);
      // With no handlers at all LangChain returns no manager and drops the tags and metadata
      // (LangGraph's node names among them); an empty list makes it build one we can join.
      if (args[0] === undefined && args[1] === undefined) args[0] = [];
      const manager = original.apply(this, args);
      const handlers = field(manager, "handlers");
      const addHandler = field(manager, "addHandler");
      if (Array.isArray(handlers) && typeof addHandler === "function" && !handlers.some((h) => field(h, "name") === LANGCHAIN_HANDLER_NAME)) {
        addHandler.call(manager, handler, true);
      }
      return manager;
    };
}

/** A model generation, run in a model-call scope of its own (see {@link modelCallScope}). */
function scopedCall(state: { active: boolean }, original: Method): Method {
  return function (this: unknown, ...args: unknown[]): unknown {
    if (!state.active || currentFrame() === undefined) return original.apply(this, args);
    return modelCallScope()(() => original.apply(this, args));
  };
}

/**
 * A streaming generation: an async generator's body runs in the context of whoever calls `next()`,
 * so each step is entered in the same scope.
 */
function scopedIterator(state: { active: boolean }, original: Method): Method {
  return function (this: unknown, ...args: unknown[]): unknown {
    if (!state.active || currentFrame() === undefined) return original.apply(this, args);
    const enter = modelCallScope();
    const iterator = enter(() => original.apply(this, args));
    if (!isAsyncIterator(iterator)) return iterator;
    const scoped: AsyncIterableIterator<unknown> = {
      next: (...value: [] | [unknown]) => enter(() => iterator.next(...value)),
      return: (value?: unknown) => enter(() => (iterator.return ? iterator.return(value) : Promise.resolve({ done: true as const, value }))),
      throw: (error?: unknown) => enter(() => (iterator.throw ? iterator.throw(error) : Promise.reject(error))),
      [Symbol.asyncIterator]: () => scoped,
    };
    return scoped;
  };
}

function isAsyncIterator(value: unknown): value is AsyncIterator<unknown> {
  return isRec(value) && typeof value.next === "function";
}

/**
 * The config of the LangChain run current here, whichever copy of LangChain runs it: every copy
 * keeps it in one AsyncLocalStorage under a global symbol (once LangGraph, `@langchain/core/context`
 * or a custom-event dispatch has switched that storage on; until then there is none to read).
 * A run of a patched copy inside a trace always has a callback manager with our handler; a plain
 * list of handlers is what a caller passed, not a run's manager.
 */
function currentRunConfig(): Rec | undefined {
  const storage = (globalThis as { [RUN_STORAGE_KEY]?: unknown })[RUN_STORAGE_KEY];
  const getStore = field(storage, "getStore");
  if (typeof getStore !== "function") return undefined;
  const extra = field(getStore.call(storage), "extra");
  const config: unknown = isRec(extra) ? (extra as { [CHILD_CONFIG_KEY]?: unknown })[CHILD_CONFIG_KEY] : undefined;
  return isRec(config) ? config : undefined;
}

function hasOurHandler(callbacks: Rec): boolean {
  const handlers = callbacks.handlers;
  return Array.isArray(handlers) && handlers.some((h) => field(h, "name") === LANGCHAIN_HANDLER_NAME);
}

/** The run a manager belongs to: the parent run id of the managers its run hands to children. */
function parentRunIdOf(callbacks: Rec): string | undefined {
  const getParentRunId = callbacks.getParentRunId;
  return typeof getParentRunId === "function" ? str(getParentRunId.call(callbacks)) : str(callbacks._parentRunId);
}

/** Issue per manager class, so the (rare) search for its copy runs once. */
const unpatchedIssues = new WeakMap<object, CaptureIssueInput>();

/** The issue for a run without a manager: no class to tell its copy by. */
const UNKNOWN_COPY = {};

/**
 * A run inside a trace whose manager lacks our handler — or that has no manager at all: a copy of
 * LangChain that was not patched runs it (or, if the manager's class is one we patched, it was
 * configured outside tracetrain's hooks).
 */
function noteUnpatchedRun(trace: TraceState, callbacks: unknown, patchedManagers: ReadonlySet<unknown>): void {
  const constructor = field(callbacks, "constructor");
  const managerClass = typeof constructor === "function" ? constructor : UNKNOWN_COPY;
  let issue = unpatchedIssues.get(managerClass);
  if (issue === undefined) {
    // Without a manager to tell the copy by, a loaded CommonJS copy whose manager was not patched is the suspect.
    const isForeign = (exports: unknown): boolean => {
      const manager = field(exports, "CallbackManager");
      return managerClass === UNKNOWN_COPY ? typeof manager === "function" && !patchedManagers.has(manager) : manager === managerClass;
    };
    const foreign = patchedManagers.has(managerClass) ? undefined : findLoadedCommonJsCopy(PACKAGE, isForeign);
    const which = patchedManagers.has(managerClass)
      ? "a run whose callback manager was configured outside tracetrain's hooks (built before the rollout started?)"
      : `a run of a copy of @langchain/core tracetrain did not patch${foreign ? `: ${describeCopy(foreign)}` : " (a bundled copy, or one loaded from a place tracetrain does not look)"}`;
    issue = {
      instrumentation: "langchain",
      code: "unpatched_copy",
      package: PACKAGE,
      ...(foreign?.version === undefined ? {} : { version: foreign.version }),
      message: `LangChain ran ${which}; its chains, tools and agent names are missing from the trace (LLM calls inside are recorded by the openai or fetch layer). Dedupe the copies (npm ls @langchain/core)`,
    };
    unpatchedIssues.set(managerClass, issue);
  }
  trace.noteIssue(issue);
}

/** Recording must never break the agent: a failure is logged once and otherwise ignored. */
const recording = new RecordingGuard("the LangChain handler");

function guard(where: string, fn: () => void): void {
  recording.run(fn, where);
}

function runStart(runId: string, parentRunId: unknown, serialized: unknown, tags: unknown, metadata: unknown, runName: unknown): RunStart {
  return { runId, parentRunId: str(parentRunId), serialized, tags, metadata, runName: str(runName) };
}

/** Our callback handler, as a subclass of the given copy's `BaseCallbackHandler`; it forwards each callback to the recorder. */
function createHandler(Base: HandlerBase, recorder: RunRecorder): BaseCallbackHandler {
  class TracetrainCallbackHandler extends Base {
    override name = LANGCHAIN_HANDLER_NAME;
    override awaitHandlers = true;
    override raiseError = false;

    // One handler per copy of LangChain: a copy would be a second handler in the same manager.
    override copy(): BaseCallbackHandler {
      return this;
    }

    // The order LangChain calls it with (its type declaration lists `runType` fourth and the parent last).
    override handleChainStart(chain: unknown, _inputs: unknown, runId: string, parentRunId?: string, tags?: string[], metadata?: Record<string, unknown>, _runType?: string, runName?: string): void {
      guard("handleChainStart", () => recorder.chainStarted(runStart(runId, parentRunId, chain, tags, metadata, runName)));
    }
    override handleChainEnd(_outputs: unknown, runId: string): void {
      guard("handleChainEnd", () => recorder.runEnded(runId));
    }
    override handleChainError(error: unknown, runId: string): void {
      guard("handleChainError", () => recorder.runFailed(runId, error));
    }

    override handleChatModelStart(llm: unknown, messages: unknown[][], runId: string, parentRunId?: string, extraParams?: Record<string, unknown>, tags?: string[], metadata?: Record<string, unknown>, runName?: string): void {
      // The manager gives each prompt its own run, so a run has exactly one message list.
      guard("handleChatModelStart", () => recorder.llmStarted(runStart(runId, parentRunId, llm, tags, metadata, runName), chatRequest(messages[0] ?? [], extraParams, metadata)));
    }
    override handleLLMStart(llm: unknown, prompts: string[], runId: string, parentRunId?: string, extraParams?: Record<string, unknown>, tags?: string[], metadata?: Record<string, unknown>, runName?: string): void {
      guard("handleLLMStart", () => recorder.llmStarted(runStart(runId, parentRunId, llm, tags, metadata, runName), completionRequest(prompts[0], extraParams, metadata)));
    }
    override handleLLMNewToken(_token: string, _index: unknown, runId: string): void {
      guard("handleLLMNewToken", () => recorder.llmToken(runId));
    }
    // The stream-event protocol some handlers (LangGraph's "messages" stream mode) switch models to.
    override handleChatModelStreamEvent(_event: unknown, runId: string): void {
      guard("handleChatModelStreamEvent", () => recorder.llmToken(runId));
    }
    override handleLLMEnd(output: unknown, runId: string): void {
      guard("handleLLMEnd", () => recorder.llmEnded(runId, output));
    }
    override handleLLMError(error: unknown, runId: string): void {
      guard("handleLLMError", () => recorder.llmFailed(runId, error));
    }

    override handleToolStart(tool: unknown, input: string, runId: string, parentRunId?: string, tags?: string[], metadata?: Record<string, unknown>, runName?: string, toolCallId?: string): void {
      guard("handleToolStart", () => recorder.toolStarted(runStart(runId, parentRunId, tool, tags, metadata, runName), input, toolCallId));
    }
    override handleToolEnd(output: unknown, runId: string): void {
      guard("handleToolEnd", () => recorder.toolEnded(runId, output));
    }
    override handleToolError(error: unknown, runId: string): void {
      guard("handleToolError", () => recorder.runFailed(runId, error));
    }

    override handleRetrieverStart(retriever: unknown, query: string, runId: string, parentRunId?: string, tags?: string[], metadata?: Record<string, unknown>, name?: string): void {
      guard("handleRetrieverStart", () => recorder.retrieverStarted(runStart(runId, parentRunId, retriever, tags, metadata, name), query));
    }
    override handleRetrieverEnd(documents: unknown, runId: string): void {
      guard("handleRetrieverEnd", () => recorder.retrieverEnded(runId, documents));
    }
    override handleRetrieverError(error: unknown, runId: string): void {
      guard("handleRetrieverError", () => recorder.runFailed(runId, error));
    }
  }
  return new TracetrainCallbackHandler();
}
