/**
 * Mirrors OpenTelemetry spans into the current traced rollout: any library that emits OTel spans
 * (the Vercel AI SDK's telemetry, OpenInference and OTel GenAI instrumentations) records into the
 * rollout, with no change to the agent.
 *
 * Each OTel span started inside a traced rollout becomes one of our spans: started at the OTel
 * start (in the caller's context, so the rollout is known), filled in and ended at the OTel end.
 * LLM calls are converted from whichever dialect wrote them into the one LLM-call format
 * (`llm-call.ts`); other spans keep their attributes and get a span type. The mirror is fed either
 * by tracetrain's own tracer provider (otel-provider.ts) or, as a span processor, by yours.
 */
import type { SpanKind } from "../../types/index.js";
import type { ActiveSpan } from "../active-span.js";
import { addBridge } from "../bridges.js";
import { currentFrame } from "../context.js";
import { Attr, SpanTypes } from "../../types/index.js";
import { nowMs } from "../../types/index.js";
import { recordLlmRequest, recordLlmResponse, startLlmSpan } from "../llm-call.js";
import { aiChannelRecords } from "./ai-sdk.js";
import { runInSpan, startSpan } from "../spans.js";
import {
  type Classification,
  type ContentIssue,
  type OtelAttributes,
  agentNameOf,
  classifySpan,
  errorTypeOf,
  isConvertedContentEvent,
  isConvertedContentKey,
  issueLines,
  llmRequestOf,
  llmResponseOf,
  roleAttributes,
  timeToFirstChunkOf,
  withContentEvents,
} from "../../llm/index.js";

/** OTel's `[seconds, nanoseconds]` time. */
export type OtelHrTime = readonly [number, number];

/** What the processor reads of a started OTel SDK span (structurally: no SDK type in our signature). */
export interface OtelSpanLike {
  readonly name: string;
  /** OTel's `SpanKind` enum: 0 internal, 1 server, 2 client, 3 producer, 4 consumer. */
  readonly kind: number;
  spanContext(): { traceId: string; spanId: string };
  readonly startTime: OtelHrTime;
  readonly attributes: OtelAttributes;
}

/** What the processor reads of an ended OTel SDK span (`ReadableSpan`). */
export interface OtelReadableSpanLike extends OtelSpanLike {
  readonly endTime: OtelHrTime;
  /** OTel's `SpanStatusCode`: 0 unset, 1 ok, 2 error. */
  readonly status: { code: number; message?: string | undefined };
  readonly events: ReadonlyArray<{ name: string; time: OtelHrTime; attributes?: OtelAttributes | undefined }>;
}

/** An OTel `Context`. */
export interface OtelContextLike {
  getValue(key: symbol): unknown;
}

/** An OTel SDK `SpanProcessor`, structurally: pass it to `new BasicTracerProvider({ spanProcessors: [...] })`. */
export interface OtelSpanProcessor {
  onStart(span: OtelSpanLike, parentContext: OtelContextLike): void;
  onEnd(span: OtelReadableSpanLike): void;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

const KINDS: readonly SpanKind[] = ["internal", "server", "client", "producer", "consumer"];
const STATUS_ERROR = 2;
const STATUS_OK = 1;
/** An OTel start this close to the wall clock's now was "now" (OTel rounds it to the millisecond). */
const STARTED_NOW_MS = 2;
/** The key OTel's API stores the current span under in a `Context` (`createContextKey` uses `Symbol.for`). */
const SPAN_KEY = Symbol.for("OpenTelemetry Context Key SPAN");

interface Mirror {
  span: ActiveSpan;
  /** Started as an LLM call (its type may since have become `llm_run`). */
  llm: boolean;
  /** Converts an OTel time into our clock (see {@link clockOf}). */
  clock: (time: OtelHrTime) => number;
}

/** Where OTel's API keeps what was registered (`registerGlobal`): one object per API major, shared by every copy. */
export const OTEL_GLOBAL_KEY = Symbol.for("opentelemetry.js.api.1");

/** The OTel span current in the registered context manager, read through the global every API copy shares. */
function activeOtelSpan(): unknown {
  const registered = (globalThis as { [OTEL_GLOBAL_KEY]?: { context?: { active?: () => unknown } } })[OTEL_GLOBAL_KEY];
  const active = registered?.context?.active?.();
  const getValue = typeof active === "object" && active !== null ? (active as { getValue?: unknown }).getValue : undefined;
  return typeof getValue === "function" ? (getValue as (key: symbol) => unknown).call(active, SPAN_KEY) : undefined;
}

/**
 * The mirror: `start` at an OTel span's start (true when it is recorded: it runs inside a traced
 * rollout, or under a span that is), `end` at its end. Spans started outside any traced rollout
 * are ignored (nothing is recorded, nothing is kept).
 *
 * Parenting: a mirrored span's parent is the mirror of its OTel parent when there is one, else
 * the current span of the rollout. While an OTel span is active, spans other layers start (the
 * fetch wrapper's exact HTTP-level LLM call inside `ai.generateText.doGenerate`) become children of
 * its mirror; the core then re-types the OTel LLM span `llm_run`, so the call counts once.
 */
export class OtelMirror {
  private mirrors = new WeakMap<object, Mirror>();
  private open = true;
  private readonly removeBridge = addBridge((trace) => {
    const active = activeOtelSpan();
    const mirror = typeof active === "object" && active !== null ? this.mirrors.get(active) : undefined;
    if (!mirror || mirror.span.trace !== trace) return undefined;
    return { span: mirror.span, agentName: agentOf(mirror.span) };
  });

  start(span: OtelSpanLike, parentContext: OtelContextLike): boolean {
    if (!this.open) return false;
    const mirror = startMirror(span, parentContext, this.mirrors);
    if (mirror) this.mirrors.set(span, mirror);
    return mirror !== undefined;
  }

  end(span: OtelReadableSpanLike): void {
    // The entry stays (the map is weak): a child OTel starts after its parent ended still finds it.
    const mirror = this.mirrors.get(span);
    if (mirror) endMirror(mirror, span);
  }

  close(): void {
    this.open = false;
    this.removeBridge();
    this.mirrors = new WeakMap();
  }
}

function startMirror(span: OtelSpanLike, parentContext: OtelContextLike, mirrors: WeakMap<object, Mirror>): Mirror | undefined {
  const frame = currentFrame();
  if (frame?.suppressed === "otel") return undefined;
  const otelParent = parentContext.getValue(SPAN_KEY);
  const parentMirror = typeof otelParent === "object" && otelParent !== null ? mirrors.get(otelParent)?.span : undefined;
  // The OTel parent's mirror is the parent (even if it has ended: OTel allows that), unless it
  // belongs to another rollout than the one running here (the rollout context wins) or its trace is over.
  const parent = parentMirror && !parentMirror.trace.ended && (!frame || frame.trace === parentMirror.trace) ? parentMirror : undefined;
  if (!frame && !parent) return undefined;

  const classification = classifySpan(span.name, span.attributes);
  // AI SDK 7 with @ai-sdk/otel: its GenAI spans describe what the `ai` layer records from the SDK's channel.
  if ((classification.dialect === "gen_ai" || classification.dialect === "ai_sdk") && aiChannelRecords(frame?.trace ?? parent!.trace)) return undefined;
  const clock = clockOf(span.startTime);
  const create = () => createMirror(span, classification, parent, clock(span.startTime));
  // Inside the parent's frame, the mirror inherits the parent's agent; without a rollout context
  // here (a callback that lost it, with the OTel context passed explicitly) this recovers it.
  const mirror = parent ? runInSpan(parent, create) : create();
  return mirror ? { span: mirror, llm: classification.type === SpanTypes.llm, clock } : undefined;
}

/**
 * OTel starts a span at `Date.now()` (whole milliseconds, wall clock); our spans use the
 * monotonic `performance` clock, and the two drift apart over a process's life. Mixed naively, an
 * OTel span could seem to start before the rollout it runs in — and the core would then refuse
 * it as the parent of the fetch layer's call. So a span OTel started "now" is anchored at our
 * now, and its other times keep their exact OTel offsets from its start; a start given
 * explicitly (in the past) is moved by the current difference between the two clocks.
 */
function clockOf(otelStart: OtelHrTime): (time: OtelHrTime) => number {
  const start = hrTimeToMs(otelStart);
  const ours = nowMs();
  const wall = Date.now();
  const anchor = Math.abs(start - wall) <= STARTED_NOW_MS ? ours : start + (ours - wall);
  return (time) => anchor + (hrTimeToMs(time) - start);
}

function createMirror(span: OtelSpanLike, { type, dialect }: Classification, parent: ActiveSpan | undefined, startTime: number): ActiveSpan | undefined {
  const placement = { startTime, ...(parent ? { parent } : {}) };
  const otelSpanId = span.spanContext().spanId;
  if (type === SpanTypes.llm) {
    const mirror = startLlmSpan("otel", llmRequestOf(span.name, span.attributes, dialect), placement);
    return mirror?.setAttribute(Attr.otelSpanName, span.name).setAttribute(Attr.frameworkRunId, otelSpanId);
  }
  const agentName = type === SpanTypes.agent ? agentNameOf(span.name, span.attributes) : undefined;
  return startSpan(span.name, {
    layer: "otel",
    type,
    kind: KINDS[span.kind] ?? "internal",
    ...placement,
    ...(agentName === undefined ? {} : { agentName }),
    attributes: { [Attr.frameworkRunId]: otelSpanId },
  });
}

function endMirror(mirror: Mirror, span: OtelReadableSpanLike): void {
  const target = mirror.span;
  const events = span.events.map((e) => ({ name: e.name, attributes: e.attributes }));
  const issues: ContentIssue[] = [];
  const attributes = withContentEvents(span.attributes, events, issues);
  const { type, dialect } = classifySpan(span.name, attributes);
  const endTime = mirror.clock(span.endTime);
  const llm = mirror.llm || type === SpanTypes.llm;
  copyAttributes(target, span.attributes, llm);
  for (const event of span.events) {
    if (!(llm && isConvertedContentEvent(event.name))) target.addEvent(event.name, event.attributes ?? {}, mirror.clock(event.time));
  }

  if (llm) {
    // Attributes may have been set after the span started: record the request from the final set.
    if (!mirror.llm) target.setAttribute(Attr.spanType, SpanTypes.llm);
    recordLlmRequest(target, llmRequestOf(span.name, attributes, dialect, issues));
    target.setAttribute(Attr.timeToFirstChunk, timeToFirstChunkOf(attributes, events));
    if (span.status.code === STATUS_ERROR) {
      target.setAttribute(Attr.errorType, errorTypeOf(attributes, events)).setStatus("error", span.status.message).end(endTime);
      return;
    }
    const response = llmResponseOf(attributes, dialect, issues);
    // What could not be read is said on the span, as adapters say it for spans that came over OTLP.
    target.setAttribute(Attr.contentIssues, issueLines(issues));
    recordLlmResponse(target, response, { endTime });
    return;
  }
  target.setAttributes(roleAttributes(type, dialect, span.name, attributes));
  if (span.status.code === STATUS_ERROR) target.setStatus("error", span.status.message);
  else if (span.status.code === STATUS_OK) target.setStatus("ok");
  target.end(endTime);
}

/**
 * Copies the OTel attributes under their own names. `tracetrain.*` keys are never taken from
 * outside (they are ours to set), nor — on LLM calls — the content the LLM-call format replaces.
 */
function copyAttributes(target: ActiveSpan, attributes: OtelAttributes, llm: boolean): void {
  for (const key in attributes) {
    if (key.startsWith("tracetrain.") || (llm && isConvertedContentKey(key))) continue;
    target.setAttribute(key, attributes[key]);
  }
}

function agentOf(span: ActiveSpan): string | undefined {
  const name = span.getAttribute(Attr.agentName);
  return typeof name === "string" ? name : undefined;
}

/** OTel `[seconds, nanoseconds]` as epoch milliseconds (our time unit). */
function hrTimeToMs(time: OtelHrTime): number {
  return time[0] * 1000 + time[1] / 1e6;
}

