import type { JsonValue, SpanEvent, SpanInput, SpanKind, SpanStatus } from "../types/index.js";
import { toJsonValue } from "../types/index.js";
import { Attr, EventNames } from "../types/index.js";
import { newSpanId, nowMs } from "../types/index.js";
import type { TraceState } from "./trace-state.js";

const UNSET: SpanStatus = Object.freeze({ code: "unset" });

/** Converts only what needs converting: most attribute values are already strings or numbers. */
function attributeValue(value: unknown): JsonValue {
  const type = typeof value;
  return type === "string" || type === "boolean" || (type === "number" && Number.isFinite(value))
    ? (value as JsonValue)
    : toJsonValue(value);
}

/**
 * A span being recorded. Instrumentations and emitters fill it in and call `end()`, which hands
 * it to its trace (and from there, in batches, to the store). Every method is safe to call at any
 * time: after `end()` changes are ignored, so a late callback can never corrupt a sent span.
 */
export class ActiveSpan {
  readonly spanId = newSpanId();
  readonly startTime: number;
  private readonly attributes: Record<string, JsonValue> = {};
  private readonly events: SpanEvent[] = [];
  private status: SpanStatus = UNSET;
  private endTime: number | undefined;

  constructor(
    readonly trace: TraceState,
    private spanName: string,
    readonly parentId: string | null,
    readonly kind: SpanKind = "internal",
    startTime?: number,
  ) {
    this.startTime = startTime ?? nowMs();
  }

  get ended(): boolean {
    return this.endTime !== undefined;
  }

  get name(): string {
    return this.spanName;
  }

  /** Renames the span before it ends (frameworks often learn the model only after a call started). */
  updateName(name: string): this {
    if (this.endTime === undefined) this.spanName = name;
    return this;
  }

  setAttribute(key: string, value: unknown): this {
    if (this.endTime === undefined && value !== undefined) this.attributes[key] = attributeValue(value);
    return this;
  }

  setAttributes(attributes: Record<string, unknown>): this {
    for (const key in attributes) this.setAttribute(key, attributes[key]);
    return this;
  }

  getAttribute(key: string): JsonValue | undefined {
    return this.attributes[key];
  }

  addEvent(name: string, attributes: Record<string, unknown> = {}, time: number = nowMs()): this {
    if (this.endTime !== undefined) return this;
    const converted: Record<string, JsonValue> = {};
    for (const key in attributes) if (attributes[key] !== undefined) converted[key] = attributeValue(attributes[key]);
    this.events.push({ name, time, attributes: converted });
    return this;
  }

  setStatus(code: SpanStatus["code"], message?: string): this {
    if (this.endTime === undefined) this.status = message === undefined ? { code } : { code, message };
    return this;
  }

  /** Records an error as an OTel `exception` event and marks the span failed. */
  recordException(error: unknown): this {
    const { type, message, stack } = describeError(error);
    this.addEvent(EventNames.exception, { [Attr.exceptionType]: type, [Attr.exceptionMessage]: message, [Attr.exceptionStacktrace]: stack });
    return this.setStatus("error", message);
  }

  /** Ends the span (once); later calls do nothing. */
  end(endTime: number = nowMs()): void {
    if (this.endTime !== undefined) return;
    this.endTime = Math.max(endTime, this.startTime);
    this.trace.spanEnded(this);
  }

  /** The span as the store takes it. Valid only after `end()`. */
  toSpanInput(): SpanInput {
    return {
      rolloutId: this.trace.target.rolloutId,
      attemptId: this.trace.target.attemptId,
      traceId: this.trace.traceId,
      spanId: this.spanId,
      parentId: this.parentId,
      name: this.spanName,
      kind: this.kind,
      startTime: this.startTime,
      endTime: this.endTime ?? this.startTime,
      status: this.status,
      attributes: this.attributes,
      events: this.events,
      links: [],
    };
  }
}

/** The parts of any thrown value worth recording. */
export function describeError(error: unknown): { type: string; message: string; stack: string | undefined } {
  if (error instanceof Error) return { type: error.name, message: error.message, stack: error.stack };
  return { type: typeof error, message: typeof error === "string" ? error : JSON.stringify(toJsonValue(error)), stack: undefined };
}
