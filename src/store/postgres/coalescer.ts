/** What one call of a batch came to. */
export type CallOutcome<O> = { ok: true; value: O } | { ok: false; error: unknown };

export interface CoalescerOptions {
  /** Batches of this kind running at once; calls arriving while all are busy wait and form the next batch. */
  maxInFlight: number;
  /** Most calls in one batch. */
  maxBatch: number;
  /**
   * Whether a batch that failed as a whole should be retried one call at a time, so that the one
   * call at fault fails alone. No for failures no call caused (the database is unreachable).
   */
  splitOnFailure: (error: unknown) => boolean;
  /** Told when a batch is split (for logging: normally only bad input makes a whole batch fail). */
  onSplit?: (error: unknown, calls: number) => void;
}

interface Pending<I, O> {
  input: I;
  resolve: (value: O) => void;
  reject: (error: unknown) => void;
}

/**
 * Coalesces concurrent calls of one kind into batches, each run by one `execute` (one database
 * transaction), so the fixed cost of a transaction — its round trips, BEGIN and COMMIT — is shared
 * by every call that arrived while the previous batches ran. Under light load a call runs at once,
 * alone; the busier the store, the larger the batches.
 *
 * `execute` settles each call on its own (a call whose rollout does not exist fails without
 * failing the others). If it throws instead, a batch of several calls is retried one call at a
 * time, so one bad call cannot fail the calls it happened to share a batch with.
 */
export class Coalescer<I, O> {
  private queue: Array<Pending<I, O>> = [];
  private running = 0;
  private scheduled = false;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly execute: (inputs: I[]) => Promise<Array<CallOutcome<O>>>,
    private readonly options: CoalescerOptions,
  ) {}

  run(input: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      // Calls arriving in the same turn of the event loop (requests read together) share a batch.
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.pump();
        });
      }
    });
  }

  private pump(): void {
    while (this.running < this.options.maxInFlight && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.maxBatch);
      this.running++;
      void this.dispatch(batch).finally(() => {
        this.running--;
        this.pump();
        if (this.running === 0 && this.queue.length === 0) this.idleWaiters.splice(0).forEach((wake) => wake());
      });
    }
  }

  /** Resolves once every call made so far has settled (before closing what `execute` uses). */
  async drain(): Promise<void> {
    while (this.running > 0 || this.queue.length > 0) {
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    }
  }

  private async dispatch(batch: Array<Pending<I, O>>): Promise<void> {
    let outcomes: Array<CallOutcome<O>>;
    try {
      outcomes = await this.execute(batch.map((call) => call.input));
    } catch (error) {
      if (batch.length > 1 && this.options.splitOnFailure(error)) {
        this.options.onSplit?.(error, batch.length);
        await Promise.all(batch.map((call) => this.dispatch([call])));
      } else {
        for (const call of batch) call.reject(error);
      }
      return;
    }
    batch.forEach((call, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) call.resolve(outcome.value);
      else call.reject(outcome.error);
    });
  }
}
