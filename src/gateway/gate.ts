/**
 * Pausing the gateway around a weight update: `pause()` stops new calls from going upstream —
 * they wait, or are turned away with 429 and `Retry-After` — and resolves once the calls already
 * upstream have finished, so the trainer can swap weights knowing no call straddles two
 * policies. `resume()` lets the waiting calls through in arrival order.
 */
import { TracetrainError } from "../types/index.js";

export type WhilePaused = "wait" | "reject";

/** Thrown for a call that arrives while the gateway is paused and set to turn calls away. */
export class GatewayPausedError extends TracetrainError {
  constructor(readonly retryAfterSeconds: number) {
    super("unavailable", `the gateway is paused for a policy update; retry after ${retryAfterSeconds} s`);
  }
}

export class Gate {
  private paused = false;
  private closed = false;
  private inFlight = 0;
  private waiting: Array<() => void> = [];
  private drained: Array<() => void> = [];

  constructor(
    private readonly whilePaused: WhilePaused,
    private readonly retryAfterSeconds: number,
  ) {}

  get isPaused(): boolean {
    return this.paused;
  }

  get active(): number {
    return this.inFlight;
  }

  /** Calls waiting for a resume. */
  get held(): number {
    return this.waiting.length;
  }

  /**
   * Lets a call through (waiting while paused); returns the function to call when it is done.
   * A call whose client leaves while waiting (`signal`) rejects with the signal's reason.
   */
  async enter(signal?: AbortSignal): Promise<() => void> {
    while (this.paused) {
      if (this.closed) throw new TracetrainError("closed", "the gateway is shutting down");
      if (this.whilePaused === "reject") throw new GatewayPausedError(this.retryAfterSeconds);
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          this.waiting = this.waiting.filter((w) => w !== wake);
          reject(signal?.reason);
        };
        const wake = () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        };
        if (signal?.aborted) return onAbort();
        signal?.addEventListener("abort", onAbort, { once: true });
        this.waiting.push(wake);
      });
    }
    this.inFlight++;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.inFlight--;
      if (this.inFlight === 0) this.drained.splice(0).forEach((done) => done());
    };
  }

  /** Stops new calls; resolves once every call already let through has finished. */
  pause(): Promise<void> {
    this.paused = true;
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.drained.push(resolve));
  }

  resume(): void {
    this.paused = false;
    this.waiting.splice(0).forEach((wake) => wake());
  }

  /** Shutting down: calls held by a pause are turned away (503) instead of waiting for a resume that will not come. */
  close(): void {
    this.closed = true;
    this.waiting.splice(0).forEach((wake) => wake());
  }
}
