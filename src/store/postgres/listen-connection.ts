import type pg from "pg";
import type { Logger } from "../../types/index.js";

export interface ListenConnectionOptions {
  /** Makes a new, unconnected client (one per connection attempt). */
  newClient: () => pg.Client;
  channel: string;
  onPayload: (payload: string) => void;
  logger: Logger;
  /** Names the server in log messages, without credentials. */
  target: string;
  /** Reconnect delays grow from `minDelayMs` (default 100) by doubling up to `maxDelayMs` (default 10 s). */
  minDelayMs?: number;
  maxDelayMs?: number;
}

/**
 * One dedicated connection that LISTENs on a channel. Pooled connections cannot listen: a
 * notification is only delivered to the session that ran LISTEN, and the pool hands sessions out
 * and closes idle ones.
 *
 * `start()` makes the first connection and rejects if it fails, so a store that cannot listen does
 * not start. After that, a lost connection (server restart, network drop, terminated backend) is
 * reported to the logger and re-established with exponential backoff until `stop()`; it never
 * throws into the process. Notifications sent while it was down are lost.
 */
export class ListenConnection {
  private client: pg.Client | undefined;
  private connecting: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private stopped = false;

  constructor(private readonly options: ListenConnectionOptions) {}

  /** Connects and LISTENs, unless already connected or connecting; rejects if that fails. */
  start(): Promise<void> {
    if (this.client || this.stopped) return Promise.resolve();
    this.connecting ??= this.connect().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    await this.connecting?.catch(() => undefined);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = this.options.newClient();
    // An 'error' without a listener would crash the process; every error ends up in lost().
    client.on("error", (error) => this.lost(client, error));
    client.on("end", () => this.lost(client, new Error("the connection ended")));
    client.on("notification", (message) => {
      if (message.channel === this.options.channel && message.payload !== undefined) this.options.onPayload(message.payload);
    });
    try {
      await client.connect();
      // The channel name is derived from a validated schema name; quoting keeps it one identifier.
      await client.query(`LISTEN "${this.options.channel}"`);
    } catch (error) {
      client.removeAllListeners("end");
      await client.end().catch(() => undefined);
      throw error;
    }
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
  }

  private lost(client: pg.Client, error: unknown): void {
    if (this.stopped || this.client !== client) return;
    this.client = undefined;
    client.removeAllListeners("end");
    // Keep an error listener: a dead client may still emit one.
    client.on("error", () => undefined);
    void client.end().catch(() => undefined);
    this.options.logger.warn(`lost the PostgreSQL LISTEN connection to ${this.options.target}; reconnecting (events from other processes are missed until then)`, {
      error,
    });
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.stopped) return;
    const min = this.options.minDelayMs ?? 100;
    const max = this.options.maxDelayMs ?? 10_000;
    const base = Math.min(max, min * 2 ** Math.min(this.failures, 20));
    const delay = base * (0.8 + Math.random() * 0.4);
    this.retryTimer = setTimeout(() => void this.retry(), delay);
    // The reconnect loop alone must not keep a process alive.
    this.retryTimer.unref();
  }

  private async retry(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.start();
      if (this.stopped) return;
      this.options.logger.info(`re-established the PostgreSQL LISTEN connection to ${this.options.target} after ${this.failures + 1} attempt(s)`);
      this.failures = 0;
    } catch (error) {
      this.failures++;
      this.options.logger.warn(`reconnecting LISTEN to ${this.options.target} failed (attempt ${this.failures}); retrying`, { error });
      this.scheduleRetry();
    }
  }
}
