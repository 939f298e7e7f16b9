import type { JsonObject, Logger, SpanInput, TraceReport } from "../types/index.js";
import { ValidationError, consoleLogger } from "../types/index.js";
import { ActiveSpan } from "./active-span.js";
import { type InstallResult, acquire, release } from "./instrumentation.js";
import { type InstrumentOptions, type InstrumentationName, builtinInstrumentations, instrumentedByDefault } from "./instrumentations/index.js";
import { runInFrame } from "./context.js";
import { Attr, SpanNames, SpanTypes } from "../types/index.js";
import { SpanBuffer, type SpanSink } from "./span-buffer.js";
import { TraceState, type TraceTarget } from "./trace-state.js";

export interface TracerOptions {
  /** Where spans go when `trace()` names no sink (usually the store). */
  sink?: SpanSink;
  /** Spans per batch sent to the sink (default 256). */
  batchSize?: number;
  /** How long a span may wait for its batch to fill before it is sent (default 200 ms). */
  flushIntervalMs?: number;
  /** Delays between retries of a failed send (default 100, 1000, 5000 ms); then spans are dropped and reported. */
  retryDelaysMs?: readonly number[];
  /** Keep each trace's spans in memory for `lastTrace()` and the outcome (default true). */
  keepSpans?: boolean;
  /** Receives the tracer's warnings (default: the console). */
  logger?: Logger;
}

/** What to trace: a rollout attempt, and optionally where its spans go and what to call its root. */
export interface TraceOptions extends TraceTarget {
  sink?: SpanSink;
  /** The agent the whole rollout belongs to. */
  agentName?: string;
  /** Extra attributes of the rollout's root span. */
  attributes?: JsonObject;
}

/** How a traced function ended, with what the tracer saw. */
export type TraceOutcome<T> = { ok: true; value: T; report: TraceReport; spans: SpanInput[] } | { ok: false; error: unknown; report: TraceReport; spans: SpanInput[] };

/**
 * Records what an agent does while it runs a rollout. `trace(target, fn)` runs `fn` in a context
 * carried by AsyncLocalStorage: every span created anywhere inside — across awaits, timers and
 * event emitters — belongs to that rollout, so hundreds of rollouts can be traced at once in one
 * process. Spans are batched to the sink; a report says what was seen.
 */
export class Tracer {
  private readonly options: Required<Omit<TracerOptions, "sink" | "logger">>;
  private readonly sink: SpanSink | undefined;
  readonly logger: Logger;
  private readonly warned = new Set<string>();
  private last: { report: TraceReport; spans: SpanInput[] } | undefined;
  private readonly acquired = new Set<InstrumentationName>();

  constructor(options: TracerOptions = {}) {
    this.sink = options.sink;
    this.logger = options.logger ?? consoleLogger;
    this.options = {
      batchSize: options.batchSize ?? 256,
      flushIntervalMs: options.flushIntervalMs ?? 200,
      retryDelaysMs: options.retryDelaysMs ?? [100, 1000, 5000],
      keepSpans: options.keepSpans ?? true,
    };
  }

  /** Runs `fn` as the traced rollout attempt `target` and returns (or throws) what `fn` does. */
  async trace<T>(target: TraceOptions, fn: () => T | Promise<T>): Promise<T> {
    const outcome = await this.capture(target, fn);
    if (!outcome.ok) throw outcome.error;
    return outcome.value;
  }

  /**
   * Like {@link trace}, but never throws: returns how `fn` ended together with the trace report
   * and spans, once every span has been delivered to the sink (or dropped and counted).
   */
  async capture<T>(target: TraceOptions, fn: () => T | Promise<T>): Promise<TraceOutcome<T>> {
    const sink = target.sink ?? this.sink;
    if (!sink) throw new ValidationError("trace options", [{ path: "sink", message: "no sink: pass one to trace() or to new Tracer({ sink })" }]);
    const buffer = new SpanBuffer(sink, this.options);
    const trace = new TraceState({ rolloutId: target.rolloutId, attemptId: target.attemptId }, buffer, this.options.keepSpans);
    const root = this.startRoot(trace, target);
    let result: { ok: true; value: T } | { ok: false; error: unknown };
    try {
      result = { ok: true, value: await runInFrame({ trace, span: root, agentName: target.agentName, suppressed: undefined }, fn) };
    } catch (error) {
      result = { ok: false, error };
      root.recordException(error);
    }
    // One macrotask of grace: a layer that reads a response copy in the background (fetch) may
    // be recording the last call right now; let it end its span before leftovers are closed.
    await new Promise((resolve) => setImmediate(resolve));
    trace.closeOpenSpans(root);
    root.end();
    trace.ended = true;
    await buffer.flush();
    const report = trace.report(result.ok ? undefined : result.error, []);
    this.warnOnce(report);
    const spans = trace.spans ?? [];
    this.last = { report, spans };
    return { ...result, report, spans };
  }

  private startRoot(trace: TraceState, target: TraceOptions): ActiveSpan {
    const root = new ActiveSpan(trace, SpanNames.rollout, null);
    root.setAttributes({
      ...target.attributes,
      [Attr.layer]: "tracer",
      [Attr.spanType]: SpanTypes.rollout,
      [Attr.rolloutId]: target.rolloutId,
      [Attr.attemptId]: target.attemptId,
      [Attr.agentName]: target.agentName,
    });
    trace.spanStarted(root);
    return root;
  }

  /**
   * Hooks the agent frameworks installed in this process so their calls are recorded without any
   * change to agent code: the openai SDK, `fetch`, LangChain.js and the OpenAI Agents SDK by
   * default, and OpenTelemetry with `{ otel: true }` (see {@link InstrumentOptions}); pass
   * `{ name: false }` to leave one out. A framework that is not installed is skipped, with the
   * reason in the result. Hooks are shared process-wide and record only inside traced rollouts;
   * `uninstrument()` removes them.
   */
  async instrument(options: InstrumentOptions = {}): Promise<Record<InstrumentationName, InstallResult | { installed: false; reason: "disabled" }>> {
    const results = {} as Record<InstrumentationName, InstallResult | { installed: false; reason: "disabled" }>;
    for (const [name, create] of Object.entries(builtinInstrumentations) as Array<[InstrumentationName, () => import("./instrumentation.js").Instrumentation]>) {
      if (!(options[name] ?? instrumentedByDefault[name])) {
        results[name] = { installed: false, reason: "disabled" };
        continue;
      }
      if (this.acquired.has(name)) {
        results[name] = { installed: true };
        continue;
      }
      const result = await acquire(create());
      if (result.installed) this.acquired.add(name);
      results[name] = result;
    }
    return results;
  }

  /** Releases the instrumentations this tracer installed (each is removed when its last user releases it). */
  uninstrument(): void {
    for (const name of this.acquired) release(name);
    this.acquired.clear();
  }

  /** The report and spans of the trace that finished last. */
  lastTrace(): { report: TraceReport; spans: SpanInput[] } | undefined {
    return this.last;
  }

  /** Logs each kind of warning once per tracer; the reports keep listing them all. */
  private warnOnce(report: TraceReport): void {
    for (const warning of report.warnings) {
      const cause = warning.replace(/^rollout \S+:? /, "").replace(/\d+/g, "N");
      if (this.warned.has(cause)) continue;
      this.warned.add(cause);
      this.logger.warn(`${warning} (further warnings of this kind are not logged; see the trace reports)`);
    }
  }
}
