import type { CaptureIssueInput, Logger, Span, SpanInput, TraceReport } from "../types/index.js";
import { ValidationError } from "../types/index.js";
import { ActiveSpan } from "./active-span.js";
import { type InstallResult, type Instrumentation, acquire, release } from "./instrumentation.js";
import { type InstrumentationName, builtinInstrumentations, instrumentedByDefault } from "./instrumentations/index.js";
import { runInFrame } from "./context.js";
import { Attr, SpanNames, SpanTypes } from "../types/index.js";
import {
  type InstrumentOptions,
  type ParsedTraceOptions,
  type ParsedTracerOptions,
  type TraceOptions,
  type TracerOptions,
  parseInstrumentOptions,
  parseTraceOptions,
  parseTracerOptions,
} from "./options.js";
import { SpanBuffer, type SpanSink } from "./span-buffer.js";
import { Substituter } from "./substitute.js";
import { type ReadBack, TraceState } from "./trace-state.js";

/** What `instrument()` did with each instrumentation, by name (`{installed: false, reason: "disabled"}` for one turned off). */
export type InstrumentResults = Record<InstrumentationName, InstallResult> & Record<string, InstallResult>;

/**
 * How a traced function ended, with its report and spans: the spans the store holds for the
 * attempt when they were read back (`readBack`), else those this process recorded.
 */
export type TraceOutcome<T> = { ok: true; value: T; report: TraceReport; spans: SpanInput[] } | { ok: false; error: unknown; report: TraceReport; spans: SpanInput[] };

/**
 * Records what an agent does while it runs a rollout. `trace(target, fn)` runs `fn` in a context
 * carried by AsyncLocalStorage: every span created anywhere inside — across awaits, timers and
 * event emitters — belongs to that rollout, so hundreds of rollouts can be traced at once in one
 * process. Spans are batched to the sink; a report says what was seen.
 */
export class Tracer {
  private readonly options: ParsedTracerOptions;
  private readonly sink: SpanSink | undefined;
  readonly logger: Logger;
  private readonly warned = new Set<string>();
  private last: { report: TraceReport; spans: SpanInput[] } | undefined;
  /** The instrumentations this tracer holds, with the issues their install reported (listed in every trace report). */
  private readonly acquired = new Map<string, { result: InstallResult; issues: readonly CaptureIssueInput[] }>();

  constructor(options: TracerOptions = {}) {
    this.options = parseTracerOptions(options);
    this.sink = this.options.sink;
    this.logger = this.options.logger;
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
  async capture<T>(options: TraceOptions, fn: () => T | Promise<T>): Promise<TraceOutcome<T>> {
    const target = parseTraceOptions(options);
    const sink = target.sink ?? this.sink;
    if (!sink) throw new ValidationError("trace options", [{ path: "sink", message: "no sink: pass one to trace() or to new Tracer({ sink })" }]);
    const buffer = new SpanBuffer(sink, this.options);
    const trace = new TraceState({ rolloutId: target.rolloutId, attemptId: target.attemptId }, buffer, this.options.keepSpans);
    if (target.substitutions?.length) trace.substituter = new Substituter(target.substitutions);
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
    if (trace.promptsRead.size > 0) root.setAttribute(Attr.promptsRead, [...trace.promptsRead]);
    root.end();
    trace.ended = true;
    await buffer.flush();
    const readBack = target.readBackWhen === "always" || !trace.complete ? await readBackSpans(target.readBack) : undefined;
    const report = trace.report(result.ok ? undefined : result.error, this.installIssues(), readBack);
    this.warnOnce(report);
    const spans = readBack && "spans" in readBack ? [...readBack.spans] : (trace.spans ?? []);
    this.last = { report, spans };
    return { ...result, report, spans };
  }

  private startRoot(trace: TraceState, target: ParsedTraceOptions): ActiveSpan {
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
   * `{ name: false }` to leave one out, and your own instrumentations in `extra`. A framework that
   * is not installed is skipped, with the reason in the result; one you asked for by name (or in
   * `extra`) that could not be installed is also listed in every trace report. Hooks are shared
   * process-wide and record only inside traced rollouts; `uninstrument()` removes them.
   */
  async instrument(options: InstrumentOptions = {}): Promise<InstrumentResults> {
    const parsed = parseInstrumentOptions(options);
    const wanted = this.wantedInstrumentations(parsed.extra, parsed);
    const results: Record<string, InstallResult> = {};
    for (const { name, create, asked } of wanted) {
      if (create === undefined) {
        results[name] = { installed: false, reason: "disabled" };
        continue;
      }
      const held = this.acquired.get(name);
      if (held?.result.installed) {
        results[name] = held.result;
        continue;
      }
      const result = await acquire(create());
      results[name] = result;
      if (result.installed) this.acquired.set(name, { result, issues: result.issues ?? [] });
      else if (asked) this.acquired.set(name, { result, issues: result.issues ?? [{ instrumentation: name, code: "not_installed", message: `the ${name} instrumentation was asked for but could not be installed: ${result.reason}` }] });
    }
    return results as InstrumentResults;
  }

  /** Built-ins in their fixed order, then `extra`; `create` is undefined for one turned off. */
  private wantedInstrumentations(
    extra: readonly Instrumentation[],
    flags: Partial<Record<InstrumentationName, boolean>>,
  ): Array<{ name: string; create: (() => Instrumentation) | undefined; asked: boolean }> {
    const names = new Set<string>(Object.keys(builtinInstrumentations));
    const issues: Array<{ path: string; message: string }> = [];
    extra.forEach((instrumentation, index) => {
      if (names.has(instrumentation.name)) {
        const owner = instrumentation.name in builtinInstrumentations ? "a built-in instrumentation" : "another instrumentation in extra";
        issues.push({ path: `extra[${index}].name`, message: `'${instrumentation.name}' is the name of ${owner}; give yours another name` });
      }
      names.add(instrumentation.name);
    });
    if (issues.length > 0) throw new ValidationError("instrument options", issues);
    const builtins = (Object.entries(builtinInstrumentations) as Array<[InstrumentationName, () => Instrumentation]>).map(([name, create]) => {
      const on = flags[name] ?? instrumentedByDefault[name];
      return { name, create: on ? create : undefined, asked: flags[name] === true };
    });
    return [...builtins, ...extra.map((instrumentation) => ({ name: instrumentation.name, create: () => instrumentation, asked: true }))];
  }

  /** Releases the instrumentations this tracer installed (each is removed when its last user releases it). */
  uninstrument(): void {
    for (const [name, { result }] of this.acquired) if (result.installed) release(name);
    this.acquired.clear();
  }

  /** What the instrumentations this tracer holds (or asked for in vain) said they would miss. */
  private installIssues(): CaptureIssueInput[] {
    return [...this.acquired.values()].flatMap((held) => held.issues);
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

/** What the store holds for the attempt, when the caller can read it; a failure is kept for the report, never thrown. */
async function readBackSpans(read: (() => Promise<readonly Span[]>) | undefined): Promise<ReadBack | undefined> {
  if (read === undefined) return undefined;
  try {
    return { spans: await read() };
  } catch (error) {
    return { error };
  }
}
