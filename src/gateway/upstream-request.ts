/**
 * Sending one request upstream, with retries for what a retry can fix: a connection that could
 * not be made or was reset before any answer, 429 and 5xx answers. Retries happen before any
 * byte reaches the agent, so the agent sees either one clean answer or the last failure.
 */
import { Agent as HttpAgent, type IncomingHttpHeaders, type IncomingMessage, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { retryAfterMs as parseRetryAfter } from "../http/index.js";
import { sleep } from "../util/index.js";
import { AgentDisconnected, UpstreamError } from "./call-failures.js";
import type { RetryPolicy } from "./options.js";
import type { Upstream } from "./upstreams.js";

export interface UpstreamCall {
  method: string;
  /** From `/v1` on, with the query string. */
  path: string;
  /** The agent's headers worth forwarding, without credentials (see {@link forwardableHeaders}). */
  headers: Record<string, string>;
  /** The agent's own credentials, for an upstream with no key configured (empty when they were for the gateway). */
  credentials: Record<string, string>;
  body: Buffer | undefined;
  /** The body for one upstream when it differs from `body` (undefined: `body` as it is). */
  bodyFor?: (upstream: Upstream) => Buffer | undefined;
  /** Aborts the call (the agent went away). */
  signal: AbortSignal;
  timeoutMs: number;
}

export type UpstreamOutcome =
  | { ok: true; response: IncomingMessage; upstream: Upstream; retries: number }
  | { ok: false; error: Error; upstream: Upstream; retries: number };

/**
 * Request headers that carry a client's credentials: bearer tokens and basic auth, Anthropic's and
 * Azure's key headers, Google's, and cookies. They are for the gateway when it has a token, and an
 * upstream's configured key replaces them: in either case none is forwarded.
 */
const CREDENTIAL_HEADERS = new Set(["authorization", "x-api-key", "api-key", "x-goog-api-key", "cookie"]);

/** Request headers never forwarded: hop-by-hop ones (a proxy's credentials included), the gateway's own, and those recomputed here. */
const DROPPED_REQUEST_HEADERS = new Set([
  "host",
  "connection",
  "keep-alive",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "content-length",
  "accept-encoding",
  "traceparent",
  "tracestate",
  "x-tracetrain-rollout-id",
  "x-tracetrain-attempt-id",
  "x-tracetrain-agent",
]);

/** The agent's headers worth forwarding (content type, API versions, SDK metadata), without any credential. */
export function forwardableHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  return pickHeaders(headers, (name) => !DROPPED_REQUEST_HEADERS.has(name) && !CREDENTIAL_HEADERS.has(name));
}

/**
 * The agent's own credentials. Only a gateway without a token passes them on (it is then
 * transparent), and only to an upstream with no key configured.
 */
export function credentialHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  return pickHeaders(headers, (name) => CREDENTIAL_HEADERS.has(name));
}

function pickHeaders(headers: IncomingHttpHeaders, wanted: (name: string) => boolean): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || !wanted(name)) continue;
    out[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}

export class UpstreamClient {
  private readonly http = new HttpAgent({ keepAlive: true, maxSockets: 256 });
  private readonly https = new HttpsAgent({ keepAlive: true, maxSockets: 256 });

  constructor(private readonly retry: RetryPolicy) {}

  /**
   * Sends `call` to the first upstream of `ranked`, moving down the list on each retry. Resolves
   * with the first answer that needs no retry, or the last answer or error.
   */
  async send(ranked: readonly Upstream[], call: UpstreamCall): Promise<UpstreamOutcome> {
    let retries = 0;
    for (let tryNumber = 0; ; tryNumber++) {
      const upstream = ranked[tryNumber % ranked.length]!;
      const last = tryNumber + 1 >= this.retry.tries;
      let retryAfterMs: number | undefined;
      try {
        const response = await this.once(upstream, call);
        const status = response.statusCode ?? 0;
        if (last || !(status === 429 || status >= 500)) return { ok: true, response, upstream, retries };
        retryAfterMs = parseRetryAfter(response.headers["retry-after"]);
        response.resume(); // discard the body; the connection goes back to the pool
      } catch (error) {
        const failure = error instanceof Error ? error : new UpstreamError(String(error));
        if (last || call.signal.aborted) return { ok: false, error: failure, upstream, retries };
      }
      retries++;
      const backoff = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** tryNumber);
      await sleep(Math.min(this.retry.maxDelayMs, Math.max(backoff, retryAfterMs ?? 0)), call.signal);
      if (call.signal.aborted) return { ok: false, error: new AgentDisconnected("the client went away"), upstream, retries };
    }
  }

  /** One exchange with one upstream, without retries: the JSON body of a 2xx answer, or an error. */
  async sendOnce(upstream: Upstream, call: UpstreamCall): Promise<unknown> {
    const response = await this.once(upstream, call);
    const chunks: Buffer[] = [];
    for await (const chunk of response) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    const status = response.statusCode ?? 0;
    if (status < 200 || status >= 300) throw new UpstreamError(`HTTP ${status} from ${call.method} ${call.path}: ${text.slice(0, 200)}`);
    return JSON.parse(text) as unknown;
  }

  private once(upstream: Upstream, call: UpstreamCall): Promise<IncomingMessage> {
    const url = new URL(upstream.base.pathname.replace(/\/+$/, "") + call.path, upstream.base);
    const https = url.protocol === "https:";
    // A configured key replaces every credential of the agent's, not only the header it is sent in.
    const credentials = upstream.apiKey === undefined ? call.credentials : {};
    const headers: Record<string, string> = { ...call.headers, ...credentials, ...upstream.headers, "accept-encoding": "identity" };
    if (upstream.apiKey !== undefined) {
      headers.authorization = `Bearer ${upstream.apiKey}`;
      if (call.path.startsWith("/v1/messages")) headers["x-api-key"] = upstream.apiKey;
    }
    const body = call.bodyFor?.(upstream) ?? call.body;
    if (body !== undefined) headers["content-length"] = String(body.length);
    return new Promise((resolve, reject) => {
      const request = (https ? httpsRequest : httpRequest)(url, {
        method: call.method,
        headers,
        agent: https ? this.https : this.http,
        signal: call.signal,
        timeout: call.timeoutMs,
      });
      request.once("response", resolve);
      request.once("error", reject);
      request.once("timeout", () => request.destroy(new UpstreamError(`no answer from upstream within ${call.timeoutMs} ms`)));
      request.end(body);
    });
  }

  close(): void {
    this.http.destroy();
    this.https.destroy();
  }
}
