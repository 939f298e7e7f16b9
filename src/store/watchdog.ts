import type { Logger } from "../types/index.js";

/**
 * Runs the store's sweep on its own timer, so an idle store still times attempts out (Agent
 * Lightning only checked as a side effect of other calls). Sweeps never overlap: the next one is
 * scheduled when the previous one finishes. The timer is unref'd and never keeps a process alive.
 */
export class Watchdog {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private inFlight: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly sweep: () => Promise<unknown>,
    private readonly intervalMs: number,
    private readonly logger: Logger,
  ) {}

  get active(): boolean {
    return this.running;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule();
  }

  /** Stops the timer and resolves once a sweep that is under way has finished. */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.inFlight;
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.inFlight = this.sweep()
        .catch((error: unknown) => this.logger.error("watchdog sweep failed; will retry on the next tick", { error }))
        .finally(() => this.schedule());
    }, this.intervalMs);
    this.timer.unref();
  }
}
