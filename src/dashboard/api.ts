/**
 * The store's HTTP API, as the page calls it: every request carries the token the user gave
 * (`Authorization: Bearer …`). The event stream is read with fetch too, because EventSource
 * cannot send that header.
 */
import type { StoreEvent } from "./records.js";

/** The server refused the token (or wants one). */
export class Unauthorized extends Error {}

/** Any other failed call, with the server's explanation. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class Api {
  constructor(private readonly token: string | undefined) {}

  async get<T>(path: string, signal?: AbortSignal): Promise<T> {
    const response = await fetch(path, { headers: this.headers(), ...(signal ? { signal } : {}) });
    const body: unknown = await response.json().catch(() => undefined);
    if (response.status === 401) throw new Unauthorized(messageOf(body) ?? "unauthorized");
    if (!response.ok) throw new ApiError(response.status, messageOf(body) ?? `${path}: HTTP ${response.status}`);
    return body as T;
  }

  /**
   * Calls `onEvent` for each store event until `signal` aborts or the stream ends; `onOpen` once
   * the server has accepted the stream. Resolves when the stream ends.
   */
  async events(types: readonly string[], onEvent: (event: StoreEvent) => void, onOpen: () => void, signal: AbortSignal): Promise<void> {
    const response = await fetch(`/v1/events?types=${types.join(",")}`, { headers: this.headers(), signal });
    if (response.status === 401) throw new Unauthorized("unauthorized");
    if (!response.ok || response.body === null) throw new ApiError(response.status, `event stream: HTTP ${response.status}`);
    onOpen();
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const data = dataOf(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        if (data !== undefined) onEvent(JSON.parse(data) as StoreEvent);
      }
    }
  }

  private headers(): Record<string, string> {
    return this.token === undefined ? {} : { authorization: `Bearer ${this.token}` };
  }
}

/** The `data:` lines of one server-sent event; undefined for a comment (keep-alive). */
function dataOf(block: string): string | undefined {
  const lines = block.split("\n").filter((line) => line.startsWith("data:"));
  return lines.length === 0 ? undefined : lines.map((line) => line.slice(5).trimStart()).join("\n");
}

function messageOf(body: unknown): string | undefined {
  const error = (body as { error?: { message?: unknown } } | undefined)?.error;
  return typeof error?.message === "string" ? error.message : undefined;
}
