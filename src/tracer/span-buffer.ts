import { ConflictError, NotFoundError, StoreClosedError, ValidationError } from "../types/index.js";
import type { SpanInput } from "../types/index.js";
import { outsideTrace } from "./context.js";

/** Where finished spans go. A `Store` is a sink; so is anything with the same `addSpans`. */
export interface SpanSink {
  addSpans(spans: SpanInput[]): Promise<unknown>;
}

export interface SpanBufferOptions {
  /** Send as soon as this many spans are waiting. */
  batchSize: number;
  /** Send whatever is waiting this long after the first span of a batch arrived. */
  flushIntervalMs: number;
  /** Delays between retries of a failed send; after the last one the batch is dropped and counted. */
  retryDelaysMs: readonly number[];
}

/** What happened to the spans of one trace on their way to the sink. */
export interface DeliveryStats {
  sent: number;
  dropped: number;
  retries: number;
  /** The distinct reasons spans were dropped (at most 10). */
  errors: string[];
}

const MAX_ERRORS = 10;

/**
 * Batches a trace's finished spans and delivers them to a sink: when a batch is full, shortly
 * after the first span of a batch, and when the trace ends. Delivery never throws into the
 * agent. A failed send is retried with backoff; a batch the sink rejects as invalid is resent span
 * by span so only the bad spans are lost; what cannot be delivered is dropped and counted.
 * Sends are serialized, so spans reach the sink in the order they ended.
 */
export class SpanBuffer {
  private pending: SpanInput[] = [];
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  /** A shared flush waiting for the delivery ahead of it (see {@link flushShared}). */
  private queued: Promise<void> | undefined;
  readonly stats: DeliveryStats = { sent: 0, dropped: 0, retries: 0, errors: [] };

  constructor(
    private readonly sink: SpanSink,
    private readonly options: SpanBufferOptions,
  ) {}

  add(span: SpanInput): void {
    this.pending.push(span);
    if (this.pending.length >= this.options.batchSize) {
      void this.flush();
    } else if (this.timer === undefined) {
      this.timer = setTimeout(() => void this.flush(), this.options.flushIntervalMs);
      this.timer.unref();
    }
  }

  /** Sends what is waiting; resolves when everything added so far has been delivered or dropped. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    // A shared flush is already in line: it takes everything waiting when it starts, in order.
    if (this.queued) return this.queued;
    const batch = this.pending;
    if (batch.length > 0) {
      this.pending = [];
      this.chain = this.chain.then(() => outsideTrace(() => this.deliver(batch)));
    }
    return this.chain;
  }

  /**
   * Like {@link flush}, but shares one delivery with every caller until it starts: the batch is
   * taken when the delivery ahead of it has finished, so callers that wait for their own span
   * (the gateway answering only once a call is stored) pay one store round trip together, not
   * one each in a queue.
   */
  flushShared(): Promise<void> {
    if (this.queued) return this.queued;
    const queued = this.chain.then(() => {
      this.queued = undefined;
      clearTimeout(this.timer);
      this.timer = undefined;
      const batch = this.pending;
      this.pending = [];
      return batch.length > 0 ? outsideTrace(() => this.deliver(batch)) : undefined;
    });
    this.queued = queued;
    this.chain = queued;
    return queued;
  }

  private async deliver(batch: SpanInput[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.sink.addSpans(batch);
        this.stats.sent += batch.length;
        return;
      } catch (error) {
        if (error instanceof ValidationError && batch.length > 1) return this.deliverOneByOne(batch);
        const delay = this.options.retryDelaysMs[attempt];
        if (isPermanent(error) || delay === undefined) return this.drop(batch.length, error);
        this.stats.retries++;
        await new Promise((resolve) => setTimeout(resolve, delay).unref());
      }
    }
  }

  private async deliverOneByOne(batch: SpanInput[]): Promise<void> {
    for (const span of batch) await this.deliver([span]);
  }

  private drop(count: number, error: unknown): void {
    this.stats.dropped += count;
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    if (this.stats.errors.length < MAX_ERRORS && !this.stats.errors.includes(reason)) this.stats.errors.push(reason);
  }
}

/** Errors a retry cannot fix. */
function isPermanent(error: unknown): boolean {
  return error instanceof ValidationError || error instanceof NotFoundError || error instanceof ConflictError || error instanceof StoreClosedError;
}
