import type { SpanKind } from "../types/index.js";
import { ActiveSpan } from "./active-span.js";
import { hasBridges, resolveBridgedParent } from "./bridges.js";
import { type ContextFrame, currentFrame, runInFrame } from "./context.js";
import { Attr, type Layer, type SpanType, SpanTypes } from "../types/index.js";

export interface StartSpanOptions {
  layer: Layer;
  type: SpanType;
  kind?: SpanKind;
  attributes?: Record<string, unknown>;
  /** An explicit parent (frameworks that track their own run tree); otherwise the innermost open span. */
  parent?: ActiveSpan;
  /** The agent this span belongs to; otherwise inherited from the parent's context. */
  agentName?: string;
  startTime?: number;
}

/**
 * Starts a span in the current traced rollout, or returns `undefined` outside any trace (or when
 * this layer is suppressed here) — callers then skip their recording work entirely, which is what
 * makes instrumentation nearly free outside a trace.
 */
export function startSpan(name: string, options: StartSpanOptions): ActiveSpan | undefined {
  const frame = currentFrame();
  if (!frame || frame.suppressed === options.layer) return undefined;
  let parent = options.parent ?? frame.span;
  let agentName = options.agentName ?? frame.agentName;
  if (options.parent === undefined && hasBridges()) {
    const bridged = resolveBridgedParent(frame.trace);
    if (bridged && bridged.span.startTime >= parent.startTime) {
      parent = bridged.span;
      agentName = options.agentName ?? bridged.agentName ?? agentName;
    }
  }
  const span = new ActiveSpan(frame.trace, name, parent.spanId, options.kind, options.startTime);
  span.setAttribute(Attr.layer, options.layer).setAttribute(Attr.spanType, options.type);
  if (agentName !== undefined) span.setAttribute(Attr.agentName, agentName);
  if (options.attributes) span.setAttributes(options.attributes);
  if (options.type === SpanTypes.llm) markRecordedBelow(parent, options.layer);
  frame.trace.spanStarted(span);
  return span;
}

/**
 * A framework's model-call span whose call a lower layer records in full becomes a wrapper
 * (`llm_run`): the structure is kept, and the call is counted once, with the exact data.
 */
function markRecordedBelow(parent: ActiveSpan, layer: Layer): void {
  if (parent.getAttribute(Attr.spanType) === SpanTypes.llm) {
    parent.setAttribute(Attr.spanType, SpanTypes.llmRun).setAttribute(Attr.recordedBy, layer);
  }
}

/** Runs `fn` with `span` as the current span (and, optionally, a new agent name). */
export function runInSpan<T>(span: ActiveSpan, fn: () => T, overrides: { agentName?: string; suppressed?: Layer } = {}): T {
  return runInFrame(frameOf(span, overrides), fn);
}

/** The frame in which `span` is the current span: what {@link runInSpan} enters, for hooks that enter frames themselves. */
export function frameOf(span: ActiveSpan, overrides: { agentName?: string; suppressed?: Layer } = {}): ContextFrame {
  return {
    trace: span.trace,
    span,
    agentName: overrides.agentName ?? (span.getAttribute(Attr.agentName) as string | undefined) ?? currentFrame()?.agentName,
    suppressed: overrides.suppressed,
  };
}

export interface WithSpanOptions extends StartSpanOptions {
  /** Code inside the span belongs to this agent. */
  agentScope?: string;
  /** Called with `fn`'s result (awaited) before the span ends, e.g. to record an output. */
  onResult?: (span: ActiveSpan, value: unknown) => void;
}

/**
 * Runs `fn` inside a new span that ends when `fn` settles (awaiting a returned promise), recording
 * a thrown error and rethrowing it unchanged. Outside a trace, just runs `fn`.
 */
export function withSpan<T>(name: string, options: WithSpanOptions, fn: (span: ActiveSpan | undefined) => T): T {
  const span = startSpan(name, options);
  if (!span) return fn(undefined);
  const succeed = <V>(value: V): V => {
    options.onResult?.(span, value);
    span.end();
    return value;
  };
  const fail = (error: unknown): never => {
    span.recordException(error).end();
    throw error;
  };
  try {
    const result = runInSpan(span, () => fn(span), options.agentScope === undefined ? {} : { agentName: options.agentScope });
    return (isPromiseLike(result) ? Promise.resolve(result).then(succeed, fail) : succeed(result)) as T;
  } catch (error) {
    return fail(error);
  }
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof value === "object" && value !== null && typeof (value as { then?: unknown }).then === "function";
}
