/**
 * One event stream for the whole page, shared by whichever page is open; reconnects with backoff
 * when the server goes away, and says on screen whether the page is live.
 */
import type { Api } from "./api.js";
import type { StoreEvent } from "./records.js";

type Listener = (event: StoreEvent) => void;

export class Live {
  private readonly listeners = new Set<Listener>();
  private readonly stop = new AbortController();

  constructor(
    private readonly api: Api,
    private readonly indicator: HTMLElement,
  ) {}

  /** Starts listening; runs until {@link close}. */
  start(): void {
    void this.run();
  }

  /** Calls `listener` for every event until the returned function is called. */
  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.stop.abort();
  }

  private async run(): Promise<void> {
    for (let failures = 0; !this.stop.signal.aborted; failures++) {
      try {
        await this.api.events(["rollout", "attempt", "spans", "resources", "run"], (event) => this.emit(event), () => this.state("live", "live"), this.stop.signal);
        failures = 0;
      } catch (error) {
        if (this.stop.signal.aborted) return;
        this.state("down", `not live: ${error instanceof Error ? error.message : String(error)}`);
      }
      this.state("down", "reconnecting…");
      await new Promise((resolve) => setTimeout(resolve, Math.min(30_000, 500 * 2 ** failures)));
    }
  }

  private emit(event: StoreEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  private state(state: "live" | "down", text: string): void {
    this.indicator.dataset.state = state;
    this.indicator.textContent = text;
  }
}
