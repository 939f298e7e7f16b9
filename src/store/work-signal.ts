import { StoreClosedError } from "../types/index.js";

/**
 * Wakes long-polling dequeuers when work arrives — no polling loop.
 *
 * `notify(n)` wakes the n longest-waiting callers. The generation counter closes the race between
 * "the queue looked empty" and "start waiting": a caller passes the generation it saw before
 * looking, and `wait` returns at once if work arrived in between.
 */
export class WorkSignal {
  private generation = 0;
  private readonly waiters = new Set<() => void>();
  private closed = false;

  get current(): number {
    return this.generation;
  }

  notify(count: number): void {
    this.generation++;
    for (const wake of this.waiters) {
      if (count-- <= 0) break;
      this.waiters.delete(wake);
      wake();
    }
  }

  /** Resolves when notified, when `ms` pass or when `signal` aborts; rejects with StoreClosedError on close. */
  wait(seenGeneration: number, ms: number, signal?: AbortSignal): Promise<void> {
    if (this.closed) return Promise.reject(new StoreClosedError());
    if (seenGeneration !== this.generation || ms <= 0 || signal?.aborted) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        this.waiters.delete(wake);
        if (this.closed) reject(new StoreClosedError());
        else resolve();
      };
      const wake = done;
      const timer = setTimeout(done, ms);
      signal?.addEventListener("abort", done, { once: true });
      this.waiters.add(wake);
    });
  }

  close(): void {
    this.closed = true;
    for (const wake of [...this.waiters]) wake();
    this.waiters.clear();
  }
}
