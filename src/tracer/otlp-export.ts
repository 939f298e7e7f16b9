/**
 * Export to any OpenTelemetry collector or backend over OTLP/HTTP with the JSON encoding, so a
 * rollout's spans — LLM calls, tools, rewards — show up in Jaeger, Tempo, Phoenix, Langfuse, ….
 *
 * `createOtlpSink` is a {@link SpanSink}: give it to a Tracer directly, or next to the store with
 * {@link teeSinks}.
 */
import type { Logger, SpanInput } from "../types/index.js";
import { TracetrainError, ValidationError } from "../types/index.js";
import { withSuppressed } from "./context.js";
import { toOtlpRequest } from "../otlp/index.js";
import { type OtlpSinkOptions, type TeeOptions, parseOtlpSinkOptions, parseTeeOptions } from "./otlp-options.js";
import type { DeliveryStats, SpanSink } from "./span-buffer.js";

export type { OtlpSinkOptions, TeeOptions } from "./otlp-options.js";

/**
 * A sink that sends spans to an OTLP/HTTP collector as JSON (`POST …/v1/traces`). One resource
 * per rollout attempt (`service.name`, `tracetrain.rollout_id`, `tracetrain.attempt_id`), one
 * scope `tracetrain`. Attribute values keep their structure: lists become `arrayValue`, objects
 * `kvlistValue`. Reward spans carry a `gen_ai.evaluation.result` event (added here if missing).
 *
 * A non-2xx answer rejects with a TracetrainError (`unavailable`) naming the status and the collector's body; under a
 * Tracer the span buffer then retries the batch and, after its last retry, drops and reports it.
 */
export function createOtlpSink(options: OtlpSinkOptions): SpanSink {
  const parsed = parseOtlpSinkOptions(options);
  const { serviceName, timeoutMs, logger } = parsed;
  const url = tracesUrl(parsed.url);
  const headers = { ...parsed.headers, "content-type": "application/json" };
  return {
    async addSpans(spans: SpanInput[]): Promise<void> {
      if (spans.length === 0) return;
      const body = JSON.stringify(toOtlpRequest(spans, serviceName));
      // The export itself is never recorded, even when delivery runs inside a rollout's context.
      const response = await withSuppressed("fetch", () => fetch(url, { method: "POST", headers, body, signal: AbortSignal.timeout(timeoutMs) }));
      const text = await response.text();
      if (!response.ok) throw new TracetrainError("unavailable", `OTLP export to ${url} failed: HTTP ${response.status}${text ? `: ${text.slice(0, 500)}` : ""}`, { status: response.status });
      reportPartialSuccess(text, url, logger);
    },
  };
}

/** `http://host:4318` → `http://host:4318/v1/traces`; a URL already ending in `/v1/traces` is kept. */
export function tracesUrl(url: string): string {
  const trimmed = url.replace(/\/+$/, "");
  return trimmed.endsWith("/v1/traces") ? trimmed : `${trimmed}/v1/traces`;
}

/** A collector that accepted only part of a request says so in a 200 body (`partialSuccess`). */
function reportPartialSuccess(text: string, url: string, logger: Logger): void {
  if (!text.includes("partialSuccess")) return;
  try {
    const partial = (JSON.parse(text) as { partialSuccess?: { rejectedSpans?: string | number; errorMessage?: string } }).partialSuccess;
    if (partial && Number(partial.rejectedSpans ?? 0) > 0) {
      logger.warn(`OTLP collector ${url} rejected ${partial.rejectedSpans} span(s)${partial.errorMessage ? `: ${partial.errorMessage}` : ""}`);
    }
  } catch {
    // A body that is not JSON carries no partial-success report.
  }
}

// ---------------------------------------------------------------------------------------------
// Tee
// ---------------------------------------------------------------------------------------------

/** A sink that delivers to several; see {@link teeSinks}. */
export interface TeeSink extends SpanSink {
  /** Resolves when every secondary send started so far has been delivered or dropped. */
  flush(): Promise<void>;
  /** What happened to the spans sent to each secondary sink (index 0 is the first secondary). */
  readonly secondaryStats: readonly DeliveryStats[];
}

/**
 * Delivers every batch to all `sinks` at once — typically the store first, then an OTLP
 * collector. The first sink is the **primary**: `addSpans` resolves or rejects as it does, so a
 * Tracer's retries, drops and report describe the primary (the store, the data training needs).
 *
 * The others are **secondaries**, delivered in the background: a failed send is retried on their
 * own schedule and, after the last retry, dropped and reported through the logger and
 * {@link TeeSink.secondaryStats}. A secondary that is slow or down never delays or fails the
 * primary — a collector outage does not stall training — and call {@link TeeSink.flush} before
 * the process exits to let their last sends finish. When the primary fails and the batch is
 * retried, each secondary still receives each span once.
 */
export function teeSinks(...sinks: SpanSink[]): TeeSink;
export function teeSinks(...args: [...sinks: SpanSink[], options: TeeOptions]): TeeSink;
export function teeSinks(...args: (SpanSink | TeeOptions)[]): TeeSink {
  const last = args[args.length - 1];
  const { logger, retryDelaysMs: delays } = parseTeeOptions(last !== undefined && !isSink(last) ? last : {});
  const [primary, ...secondaries] = args.filter(isSink);
  if (!primary) throw new ValidationError("teeSinks arguments", [{ path: "0", message: "expected at least one sink (an object with addSpans(spans))" }]);
  const lanes = secondaries.map((sink, index) => new SecondaryLane(sink, index + 1, delays, logger));
  return {
    addSpans(spans: SpanInput[]): Promise<unknown> {
      for (const lane of lanes) lane.enqueue(spans);
      return primary.addSpans(spans);
    },
    async flush(): Promise<void> {
      await Promise.all(lanes.map((lane) => lane.idle()));
    },
    get secondaryStats(): readonly DeliveryStats[] {
      return lanes.map((lane) => ({ ...lane.stats, errors: [...lane.stats.errors] }));
    },
  };
}

function isSink(value: SpanSink | TeeOptions): value is SpanSink {
  return typeof (value as { addSpans?: unknown }).addSpans === "function";
}

const MAX_ERRORS = 10;

/** One secondary sink's own serialized delivery, with its own retries. */
class SecondaryLane {
  /** Spans already queued for this sink: a batch the primary failed comes back, and must not be sent twice. */
  private readonly queued = new WeakSet<SpanInput>();
  private chain: Promise<void> = Promise.resolve();
  readonly stats: DeliveryStats = { sent: 0, dropped: 0, retries: 0, errors: [] };

  constructor(
    private readonly sink: SpanSink,
    private readonly position: number,
    private readonly delays: readonly number[],
    private readonly logger: Logger,
  ) {}

  enqueue(spans: SpanInput[]): void {
    const fresh = spans.filter((span) => !this.queued.has(span));
    if (fresh.length === 0) return;
    for (const span of fresh) this.queued.add(span);
    this.chain = this.chain.then(() => this.deliver(fresh));
  }

  idle(): Promise<void> {
    return this.chain;
  }

  private async deliver(spans: SpanInput[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.sink.addSpans(spans);
        this.stats.sent += spans.length;
        return;
      } catch (error) {
        const delay = this.delays[attempt];
        if (delay === undefined) return this.drop(spans.length, error);
        this.stats.retries++;
        await new Promise((resolve) => setTimeout(resolve, delay).unref());
      }
    }
  }

  private drop(count: number, error: unknown): void {
    this.stats.dropped += count;
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    const message = `secondary span sink #${this.position} dropped ${count} span(s) after ${this.delays.length} retries (${reason})`;
    // A collector that stays down fails every batch: warn once per cause, count the rest.
    if (this.stats.errors.includes(reason)) return this.logger.debug(message);
    if (this.stats.errors.length < MAX_ERRORS) this.stats.errors.push(reason);
    this.logger.warn(`${message}; further drops for this cause are counted in secondaryStats`);
  }
}
