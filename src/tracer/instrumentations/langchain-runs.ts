/**
 * Turns LangChain runs into spans. LangChain reports each run (chain, chat model, LLM, tool,
 * retriever) to its callback handlers with a run id and its parent's run id; the recorder keeps
 * one span per open run and uses that run tree as the span tree, rooted under whatever span was
 * current in our own context when the outermost run started.
 *
 * LangGraph shows up here as chains: a graph is a chain run, each node execution a chain run
 * whose metadata names the node. A node becomes an agent span named after the node, and that name
 * is the agent of every span inside it. An agent built with `createAgent` is one agent (named by
 * its `name`), and its internal nodes (`model_request`, `tools`) are steps of it, not agents.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { type ActiveSpan, describeError } from "../active-span.js";
import type { BridgedParent } from "../bridges.js";
import { type ContextFrame, currentFrame, runInFrame } from "../context.js";
import { Attr, Operations, type SpanType, SpanTypes } from "../../types/index.js";
import type { LlmRequest } from "../../llm/index.js";
import { recordFirstChunk, recordLlmError, recordLlmResponse, startLlmSpan } from "../llm-call.js";
import { startSpan } from "../spans.js";
import type { TraceState } from "../trace-state.js";
import { documentsOf, llmResponse, toolResult } from "./langchain-messages.js";

const LAYER = "langchain";
/** LangGraph tags its plumbing runs (`__start__`, edge routing) with this; they get no span of their own. */
const HIDDEN_TAG = "langsmith:hidden";
/** Entries of runs whose trace ended without them ending are dropped every this many new runs. */
const SWEEP_EVERY = 256;

interface RunEntry {
  readonly trace: TraceState;
  /** The run's span; for a hidden run, the span its children attach to instead. */
  readonly span: ActiveSpan;
  /** Whether the span is this run's own (a hidden run borrows its parent's and must not end it). */
  readonly owned: boolean;
  readonly agentName: string | undefined;
  /** LangGraph's checkpoint namespace: one per node execution, shared by everything inside it. */
  readonly graphTask: string | undefined;
  /** A `createAgent` graph: its nodes are steps of that one agent. */
  readonly agentGraph: boolean;
  readonly operation: LlmRequest["operation"] | undefined;
}

/** Where a new run's span goes: the frame to create it in and, for a child run, its parent. */
interface Placement {
  frame: ContextFrame;
  /** Undefined for a root run: `startSpan` then takes the current span (or a bridged framework run). */
  parent: ActiveSpan | undefined;
  parentEntry: RunEntry | undefined;
}

/** What every run start reports. */
export interface RunStart {
  runId: string;
  parentRunId: string | undefined;
  serialized: unknown;
  tags: unknown;
  metadata: unknown;
  runName: string | undefined;
}

/**
 * The model calls running here. Around each LangChain model generation the instrumentation opens
 * a scope; the model run's span is put in it, so a lower layer (the openai SDK patch) that starts
 * its own span for the same call finds exactly this run as its parent — even when several calls
 * run at once under one LangChain parent, which LangChain's own context cannot tell apart.
 */
interface ModelCallScope {
  runs: RunEntry[];
}
const modelCalls = new AsyncLocalStorage<ModelCallScope>();

/** A new model-call scope: the returned function runs code in it (the same scope every time). */
export function modelCallScope(): <T>(fn: () => T) => T {
  const scope: ModelCallScope = { runs: [] };
  return (fn) => modelCalls.run(scope, fn);
}

type Fields = Record<string, unknown>;

function fields(value: unknown): Fields {
  return typeof value === "object" && value !== null ? (value as Fields) : {};
}

function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** The class name a serialized runnable ends its id with (`["langgraph", "pregel", "CompiledStateGraph"]`). */
function className(serialized: unknown): string | undefined {
  const id = fields(serialized).id;
  return Array.isArray(id) ? str(id[id.length - 1]) : undefined;
}

function agentOf(span: ActiveSpan): string | undefined {
  return str(span.getAttribute(Attr.agentName));
}

/** LangGraph's control flow (interrupts, `Command` to a parent graph) travels as errors; they are not failures. */
function isControlFlow(error: unknown): boolean {
  return fields(error).is_bubble_up === true;
}

export class RunRecorder {
  private readonly runs = new Map<string, RunEntry>();
  private started = 0;

  chainStarted(run: RunStart): void {
    const place = this.place(run.parentRunId);
    if (!place) return;
    const metadata = fields(run.metadata);
    const graphTask = str(metadata.langgraph_checkpoint_ns);
    if (Array.isArray(run.tags) && run.tags.includes(HIDDEN_TAG)) {
      const span = place.parent ?? place.frame.span;
      this.add(run.runId, { trace: place.frame.trace, span, owned: false, agentName: place.frame.agentName, graphTask, agentGraph: false, operation: undefined });
      return;
    }
    const name = run.runName ?? str(fields(run.serialized).name) ?? className(run.serialized) ?? "chain";
    const agentGraph = className(run.serialized) === "CompiledStateGraph" && metadata.ls_integration === "langchain_create_agent";
    const node = str(metadata.langgraph_node);
    // Everything inside a node inherits its metadata; the node's own run is the first with a new task.
    const isNode = !agentGraph && node !== undefined && graphTask !== undefined && graphTask !== place.parentEntry?.graphTask && place.parentEntry?.agentGraph !== true;
    // An unnamed createAgent inside something that already names the agent stays part of that agent.
    const agent = isNode ? node : agentGraph ? (str(metadata.lc_agent_name) ?? (place.frame.agentName === undefined ? name : undefined)) : undefined;
    const span =
      agent === undefined
        ? this.open(place, run.runId, name, SpanTypes.chain, undefined, {})
        : this.open(place, run.runId, `${Operations.invokeAgent} ${agent}`, SpanTypes.agent, agent, {
            [Attr.operationName]: Operations.invokeAgent,
            [Attr.genAiAgentName]: agent,
          });
    if (span) this.add(run.runId, { trace: span.trace, span, owned: true, agentName: agentOf(span), graphTask, agentGraph, operation: undefined });
  }

  llmStarted(run: RunStart, request: LlmRequest): void {
    const place = this.place(run.parentRunId);
    if (!place) return;
    const span = runInFrame(place.frame, () => startLlmSpan(LAYER, request, place.parent ? { parent: place.parent } : {}));
    if (!span) return;
    span.setAttribute(Attr.frameworkRunId, run.runId);
    const entry: RunEntry = {
      trace: span.trace,
      span,
      owned: true,
      agentName: agentOf(span),
      graphTask: str(fields(run.metadata).langgraph_checkpoint_ns),
      agentGraph: false,
      operation: request.operation,
    };
    this.add(run.runId, entry);
    modelCalls.getStore()?.runs.push(entry);
  }

  toolStarted(run: RunStart, input: unknown, toolCallId: string | undefined): void {
    const place = this.place(run.parentRunId);
    if (!place) return;
    const name = run.runName ?? str(fields(run.serialized).name) ?? className(run.serialized) ?? "tool";
    const span = this.open(place, run.runId, `${Operations.executeTool} ${name}`, SpanTypes.tool, undefined, {
      [Attr.operationName]: Operations.executeTool,
      [Attr.toolName]: name,
      [Attr.toolCallId]: toolCallId,
      [Attr.toolCallArguments]: input,
    });
    if (span) this.add(run.runId, { trace: span.trace, span, owned: true, agentName: agentOf(span), graphTask: str(fields(run.metadata).langgraph_checkpoint_ns), agentGraph: false, operation: undefined });
  }

  retrieverStarted(run: RunStart, query: unknown): void {
    const place = this.place(run.parentRunId);
    if (!place) return;
    const name = run.runName ?? str(fields(run.serialized).name) ?? className(run.serialized) ?? "retriever";
    const span = this.open(place, run.runId, name, SpanTypes.retriever, undefined, { [Attr.retrievalQuery]: query });
    if (span) this.add(run.runId, { trace: span.trace, span, owned: true, agentName: agentOf(span), graphTask: str(fields(run.metadata).langgraph_checkpoint_ns), agentGraph: false, operation: undefined });
  }

  /** A streamed token arrived: the first one marks the time to first chunk. */
  llmToken(runId: string): void {
    const entry = this.runs.get(runId);
    if (entry?.owned) recordFirstChunk(entry.span);
  }

  llmEnded(runId: string, output: unknown): void {
    const entry = this.take(runId);
    if (entry) recordLlmResponse(entry.span, llmResponse(output, entry.operation ?? Operations.chat));
  }

  llmFailed(runId: string, error: unknown): void {
    const entry = this.take(runId);
    if (!entry) return;
    const status = fields(error).status;
    recordLlmError(entry.span, error, typeof status === "number" ? { status } : {});
  }

  toolEnded(runId: string, output: unknown): void {
    const entry = this.take(runId);
    if (!entry) return;
    const { result, toolCallId } = toolResult(output);
    if (entry.span.getAttribute(Attr.toolCallId) === undefined) entry.span.setAttribute(Attr.toolCallId, toolCallId);
    entry.span.setAttribute(Attr.toolCallResult, result).end();
  }

  retrieverEnded(runId: string, documents: unknown): void {
    this.take(runId)?.span.setAttribute(Attr.retrievalDocuments, documentsOf(documents)).end();
  }

  /** A chain ended (tools and retrievers end through their own methods). */
  runEnded(runId: string): void {
    this.take(runId)?.span.end();
  }

  /** Any non-LLM run failed. */
  runFailed(runId: string, error: unknown): void {
    const entry = this.take(runId);
    if (!entry) return;
    if (!isControlFlow(error)) entry.span.setAttribute(Attr.errorType, describeError(error).type).recordException(error);
    entry.span.end();
  }

  /**
   * The innermost LangChain run at this point of `trace`, for the bridge: the model run of the
   * model call in progress here, else the run LangChain's own context says is current.
   */
  currentRun(trace: TraceState, langChainRunId: string | undefined): BridgedParent | undefined {
    const scope = modelCalls.getStore();
    if (scope) {
      let open: RunEntry | undefined;
      let count = 0;
      for (const entry of scope.runs) {
        if (entry.trace !== trace || entry.span.ended) continue;
        open = entry;
        count++;
      }
      // A batch (several prompts in one generation) is ambiguous: fall back to the enclosing run.
      if (open && count === 1) return { span: open.span, agentName: open.agentName };
    }
    const entry = langChainRunId === undefined ? undefined : this.runs.get(langChainRunId);
    return entry && entry.trace === trace ? { span: entry.span, agentName: entry.agentName } : undefined;
  }

  /** How many runs are open (for tests: every run that ended was let go). */
  get openRuns(): number {
    return this.runs.size;
  }

  /**
   * Decides where a run's span goes. A child run goes under its parent run's span — unless our
   * own context opened a span inside the parent run since (the user's `withAgent` inside a graph
   * node), which is then the closer parent. A root run goes under the current span.
   */
  private place(parentRunId: string | undefined): Placement | undefined {
    const frame = currentFrame();
    const parentEntry = parentRunId === undefined ? undefined : this.runs.get(parentRunId);
    if (parentEntry && (frame === undefined || frame.trace === parentEntry.trace)) {
      if (frame && !frame.span.ended && frame.span.startTime > parentEntry.span.startTime) return { frame, parent: frame.span, parentEntry };
      if (parentEntry.trace.ended) return undefined;
      return {
        frame: { trace: parentEntry.trace, span: parentEntry.span, agentName: parentEntry.agentName, suppressed: frame?.suppressed },
        parent: parentEntry.span,
        parentEntry,
      };
    }
    return frame ? { frame, parent: undefined, parentEntry: undefined } : undefined;
  }

  private open(place: Placement, runId: string, name: string, type: SpanType, agentName: string | undefined, attributes: Record<string, unknown>): ActiveSpan | undefined {
    return runInFrame(place.frame, () =>
      startSpan(name, {
        layer: LAYER,
        type,
        ...(place.parent ? { parent: place.parent } : {}),
        ...(agentName === undefined ? {} : { agentName }),
        attributes: { ...attributes, [Attr.frameworkRunId]: runId },
      }),
    );
  }

  private add(runId: string, entry: RunEntry): void {
    this.runs.set(runId, entry);
    if (++this.started % SWEEP_EVERY === 0) this.sweep();
  }

  private take(runId: string): RunEntry | undefined {
    const entry = this.runs.get(runId);
    if (!entry) return undefined;
    this.runs.delete(runId);
    return entry.owned ? entry : undefined;
  }

  /** Runs a trace left open (the agent threw past them, or never awaited them) would otherwise stay forever. */
  private sweep(): void {
    for (const [runId, entry] of this.runs) if (entry.trace.ended) this.runs.delete(runId);
  }
}
