/**
 * tracetrain's own OpenTelemetry tracer provider: the few parts of an OTel SDK the mirror needs
 * (a tracer that starts spans with the right parent, spans that keep what is set on them), built
 * over the API alone. It replaces `@opentelemetry/sdk-trace-base`, whose versions each accept only
 * a band of API versions (2.12 declares `@opentelemetry/api <1.10.0`): with nothing but the API,
 * the instrumentation works with whichever 1.x API the application has.
 *
 * Spans started inside a traced rollout (or under a span that is) are recorded through the
 * {@link OtelMirror}; every other span is non-recording, at the cost of one small object — it
 * still carries a valid span context, so trace ids propagate as with any SDK. One provider lives
 * for the whole process: tracers handed out (and cached by the API's `ProxyTracer`s) stay valid
 * across uninstall and install; while it is inactive, every span is non-recording.
 */
import type * as OtelApi from "@opentelemetry/api";
import { newSpanId, newTraceId, nowMs } from "../../types/index.js";
import type { OtelHrTime, OtelMirror } from "./otel-mirror.js";

type Api = Pick<typeof OtelApi, "context" | "trace">;
type Attributes = Record<string, OtelApi.AttributeValue>;

const SAMPLED = 1;
const NOT_SAMPLED = 0;
const STATUS_UNSET = 0;
const STATUS_OK = 1;

/** OTel time input (`[s, ns]`, epoch or `performance.now()` milliseconds, a Date) as `[s, ns]`. */
function hrTimeOf(time: OtelApi.TimeInput | undefined): OtelHrTime {
  if (Array.isArray(time)) return [time[0], time[1]];
  let ms: number;
  if (time instanceof Date) ms = time.getTime();
  else if (typeof time === "number") ms = time < performance.timeOrigin ? performance.timeOrigin + time : time;
  else ms = nowMs();
  const seconds = Math.floor(ms / 1000);
  return [seconds, Math.round((ms - seconds * 1000) * 1e6)];
}

function isAttributeValue(value: unknown): value is OtelApi.AttributeValue {
  return value !== undefined && value !== null && (typeof value !== "object" || Array.isArray(value));
}

/**
 * An OTel span: a recording one keeps its attributes, events and status for the mirror, which it
 * calls when it ends; a non-recording one ignores every change.
 */
class MirroredSpan implements OtelApi.Span {
  readonly attributes: Attributes = {};
  readonly events: Array<{ name: string; time: OtelHrTime; attributes?: Attributes }> = [];
  status: { code: number; message?: string } = { code: STATUS_UNSET };
  endTime: OtelHrTime = [0, 0];
  recording = true;
  private ended = false;

  constructor(
    public name: string,
    readonly kind: number,
    readonly startTime: OtelHrTime,
    private readonly context: OtelApi.SpanContext,
    private readonly mirror: OtelMirror,
  ) {}

  spanContext(): OtelApi.SpanContext {
    return this.context;
  }

  isRecording(): boolean {
    return this.recording && !this.ended;
  }

  setAttribute(key: string, value: OtelApi.SpanAttributeValue): this {
    if (this.isRecording() && isAttributeValue(value)) this.attributes[key] = value;
    return this;
  }

  setAttributes(attributes: OtelApi.SpanAttributes): this {
    for (const key in attributes) this.setAttribute(key, attributes[key] as OtelApi.SpanAttributeValue);
    return this;
  }

  addEvent(name: string, attributesOrTime?: OtelApi.SpanAttributes | OtelApi.TimeInput, time?: OtelApi.TimeInput): this {
    if (!this.isRecording()) return this;
    const isTime = Array.isArray(attributesOrTime) || attributesOrTime instanceof Date || typeof attributesOrTime === "number";
    const attributes: Attributes = {};
    if (!isTime && attributesOrTime !== undefined) {
      for (const key in attributesOrTime) {
        const value: unknown = attributesOrTime[key];
        if (isAttributeValue(value)) attributes[key] = value;
      }
    }
    this.events.push({ name, time: hrTimeOf(isTime ? attributesOrTime : time), attributes });
    return this;
  }

  // Links are not recorded: nothing tracetrain trains on reads them.
  addLink(): this {
    return this;
  }

  addLinks(): this {
    return this;
  }

  setStatus(status: OtelApi.SpanStatus): this {
    // As the SDK: UNSET changes nothing, and OK is final.
    if (!this.isRecording() || status.code === STATUS_UNSET || this.status.code === STATUS_OK) return this;
    this.status = status.message === undefined ? { code: status.code } : { code: status.code, message: status.message };
    return this;
  }

  updateName(name: string): this {
    if (this.isRecording()) this.name = name;
    return this;
  }

  recordException(exception: OtelApi.Exception, time?: OtelApi.TimeInput): void {
    const error = typeof exception === "string" ? { message: exception } : exception;
    const attributes: Attributes = {};
    const type = "name" in error && typeof error.name === "string" ? error.name : "code" in error && error.code !== undefined ? String(error.code) : undefined;
    if (type !== undefined) attributes["exception.type"] = type;
    if (typeof error.message === "string") attributes["exception.message"] = error.message;
    if (typeof error.stack === "string") attributes["exception.stacktrace"] = error.stack;
    this.addEvent("exception", attributes, time);
  }

  end(endTime?: OtelApi.TimeInput): void {
    if (this.ended) return;
    this.ended = true;
    if (!this.recording) return;
    const end = hrTimeOf(endTime);
    const [startMs, endMs] = [this.startTime[0] * 1000 + this.startTime[1] / 1e6, end[0] * 1000 + end[1] / 1e6];
    this.endTime = endMs < startMs ? this.startTime : end;
    this.mirror.end(this);
  }
}

/** The tracer every `getTracer()` gets: spans are the same whoever asks. */
class MirroringTracer implements OtelApi.Tracer {
  constructor(private readonly provider: MirroringTracerProvider) {}

  startSpan(name: string, options: OtelApi.SpanOptions = {}, context?: OtelApi.Context): OtelApi.Span {
    const { api, mirror } = this.provider;
    const parentContext = context ?? api.context.active();
    const parent = options.root ? undefined : api.trace.getSpanContext(parentContext);
    const inherited = parent !== undefined && api.trace.isSpanContextValid(parent) ? parent : undefined;
    const spanContext: OtelApi.SpanContext = {
      traceId: inherited?.traceId ?? newTraceId(),
      spanId: newSpanId(),
      traceFlags: SAMPLED,
      ...(inherited?.traceState === undefined ? {} : { traceState: inherited.traceState }),
    };
    const span = new MirroredSpan(name, options.kind ?? 0, hrTimeOf(options.startTime), spanContext, mirror);
    if (options.attributes) span.setAttributes(options.attributes);
    if (!this.provider.active || !mirror.start(span, parentContext)) {
      span.recording = false;
      spanContext.traceFlags = NOT_SAMPLED;
    }
    return span;
  }

  startActiveSpan<F extends (span: OtelApi.Span) => unknown>(name: string, ...rest: [F] | [OtelApi.SpanOptions, F] | [OtelApi.SpanOptions, OtelApi.Context, F]): ReturnType<F> {
    const fn = rest[rest.length - 1] as F;
    const options = rest.length > 1 ? (rest[0] as OtelApi.SpanOptions) : undefined;
    const { api } = this.provider;
    const parentContext = rest.length === 3 ? rest[1] : api.context.active();
    const span = this.startSpan(name, options, parentContext);
    return api.context.with(api.trace.setSpan(parentContext, span), fn as (span: OtelApi.Span) => ReturnType<F>, undefined, span);
  }
}

/** The provider registered as OTel's global (or as the delegate of an API copy's proxy). */
export class MirroringTracerProvider implements OtelApi.TracerProvider {
  /** Off between uninstall and the next install: every span is then non-recording. */
  active = true;
  private readonly tracer = new MirroringTracer(this);

  constructor(
    /** The API copy whose context is the registered one (the copy that registered this provider). */
    public api: Api,
    /** Replaced at each install (the old one is closed at uninstall, with its bridge). */
    public mirror: OtelMirror,
  ) {}

  getTracer(): OtelApi.Tracer {
    return this.tracer;
  }
}
