/**
 * A relay on loopback between a harnessed agent and Agent Lightning's rollout proxy.
 *
 * While their trainer updates the policy, the proxy answers every call with 429 and
 * `Retry-After: 5` — for as long as the update takes, often minutes. An SDK's own retries give up
 * long before (openai-node: 2 retries, about 10 s), the agent fails, and the rollout is trained at
 * reward 0. The relay holds such a call and sends it again after each `Retry-After` until the
 * proxy answers or `maxWaitMs` is spent, so the agent sees one slow answer instead of a failure.
 * It also counts the calls that got through (a rollout without one has nothing to train on) and
 * explains the two refusals of that proxy an SDK's default settings run into.
 */
import { Agent, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse, createServer, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { pipeline } from "node:stream/promises";
import { ClientGone, closeGracefully, disconnectSignal, listenOn, readBody, retryAfterMs, sendJson, trackedListener } from "../http/index.js";
import { TracetrainError } from "../types/index.js";
import { sleep } from "../util/index.js";

export interface AglRelayOptions {
  /** The rollout's proxy URL (`AGL_OPENAI_BASE_URL`). */
  target: URL;
  /** How long one call may be held through 429/503 answers with `Retry-After`, in ms. */
  maxWaitMs: number;
  /** Where notes go (one line each). */
  note: (line: string) => void;
}

export interface AglRelay {
  /** The base URL to hand the agent in place of the proxy's: same path, on this relay. */
  baseUrl: string;
  /** Calls the agent made, and how many of them the proxy answered with a 2xx. */
  readonly calls: { made: number; answered: number };
  close(): Promise<void>;
}

/** Request bodies beyond this are refused: far above any prompt, below what would hurt the process. */
const MAX_BODY_BYTES = 64 * 1024 * 1024;
/** A `Retry-After: 0` must not turn into a busy loop against a paused proxy. */
const MIN_RETRY_DELAY_MS = 250;
/** Hop-by-hop headers and those Node recomputes: never passed on, in either direction. */
const HOP_BY_HOP = new Set(["host", "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer", "content-length"]);

export async function startAglRelay(options: AglRelayOptions): Promise<AglRelay> {
  const calls = { made: 0, answered: 0 };
  const explained = new Set<string>();
  const explain = (key: string, line: string): void => {
    if (explained.has(key)) return;
    explained.add(key);
    options.note(line);
  };
  const agents = { http: new Agent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };
  const shutdown = new AbortController();
  const inFlight = new Set<Promise<void>>();

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const signal = disconnectSignal(response, shutdown.signal);
    let body: Buffer;
    try {
      body = await readBody(request, MAX_BODY_BYTES);
    } catch (error) {
      if (error instanceof ClientGone) return;
      throw error;
    }
    calls.made++;
    const call: OutgoingCall = { url: new URL(request.url ?? "/", options.target), method: request.method ?? "POST", headers: forwardable(request.headers), body, signal };
    const deadline = performance.now() + options.maxWaitMs;
    for (;;) {
      let answer: IncomingMessage;
      try {
        answer = await send(call, agents);
      } catch (error) {
        if (signal.aborted) return;
        sendJson(response, 502, openAiError(`tracetrain harness could not reach Agent Lightning's proxy at ${options.target.origin}: ${describe(error)}`));
        return;
      }
      const status = answer.statusCode ?? 502;
      const wait = pauseOf(answer);
      if (wait !== undefined && performance.now() + wait <= deadline) {
        explain("paused", `tracetrain: Agent Lightning's proxy is paused (${status}, Retry-After ${answer.headers["retry-after"]}); holding the agent's calls for up to ${options.maxWaitMs / 1000} s each (--max-pause)`);
        answer.resume();
        await sleep(wait, signal);
        if (signal.aborted) return;
        continue;
      }
      if (wait !== undefined) options.note(`tracetrain: Agent Lightning's proxy was still answering ${status} after ${options.maxWaitMs / 1000} s (--max-pause); the agent gets that answer`);
      if (status >= 200 && status < 300) calls.answered++;
      else explainRefusal(call, status, explain);
      response.writeHead(status, forwardable(answer.headers));
      await pipeline(answer, response).catch((error: unknown) => {
        if (!signal.aborted) throw error;
      });
      return;
    }
  };
  const onUnexpected = (error: unknown): void => options.note(`tracetrain: the LLM relay failed on a call: ${describe(error)}`);
  const server = createServer(
    trackedListener(inFlight, async (request, response) => {
      try {
        await handle(request, response);
      } catch (error) {
        if (response.headersSent) return void response.destroy();
        const status = error instanceof TracetrainError && error.code === "payload_too_large" ? 413 : 500;
        sendJson(response, status, openAiError(`tracetrain harness relay: ${describe(error)}`));
        if (status === 500) throw error;
      }
    }, onUnexpected),
  );
  const origin = await listenOn(server, 0, "127.0.0.1");
  return {
    baseUrl: `${origin}${options.target.pathname.replace(/\/+$/, "")}`,
    calls,
    async close() {
      shutdown.abort();
      await closeGracefully(server, inFlight);
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}

interface OutgoingCall {
  url: URL;
  method: string;
  headers: Record<string, string>;
  body: Buffer;
  signal: AbortSignal;
}

function send(call: OutgoingCall, agents: { http: Agent; https: HttpsAgent }): Promise<IncomingMessage> {
  const https = call.url.protocol === "https:";
  return new Promise((resolve, reject) => {
    const outgoing = (https ? httpsRequest : httpRequest)(call.url, {
      method: call.method,
      headers: { ...call.headers, "content-length": String(call.body.length) },
      agent: https ? agents.https : agents.http,
      signal: call.signal,
    });
    outgoing.once("response", resolve);
    outgoing.once("error", reject);
    outgoing.end(call.body);
  });
}

function forwardable(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name)) continue;
    out[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}

/** How long a "come back later" answer (429 or 503 with `Retry-After`) asks to wait, in ms; undefined for any other answer. */
function pauseOf(answer: IncomingMessage): number | undefined {
  if (answer.statusCode !== 429 && answer.statusCode !== 503) return undefined;
  const delay = retryAfterMs(answer.headers["retry-after"]);
  return delay === undefined ? undefined : Math.max(MIN_RETRY_DELAY_MS, delay);
}

/**
 * Agent Lightning's proxy forwards only non-streaming chat and legacy completions: an SDK on its
 * defaults (the Agents SDK and the AI SDK use the Responses API; some agents stream) fails there
 * with an answer that does not say why.
 */
function explainRefusal(call: OutgoingCall, status: number, explain: (key: string, line: string) => void): void {
  if (status === 404 && /\/responses(\/|$)/.test(call.url.pathname)) {
    explain(
      "responses",
      "tracetrain: Agent Lightning's proxy has no Responses API (404 on /responses): use chat completions — " +
        "OpenAI Agents SDK: setOpenAIAPI(\"chat_completions\"); AI SDK: openai.chat(model)",
    );
  } else if (status === 400 && streams(call.body)) {
    explain("stream", "tracetrain: Agent Lightning's proxy rejects streaming (400 on stream: true): call the model without streaming");
  }
}

function streams(body: Buffer): boolean {
  try {
    const parsed: unknown = JSON.parse(body.toString("utf8"));
    return typeof parsed === "object" && parsed !== null && "stream" in parsed && parsed.stream === true;
  } catch {
    return false;
  }
}

/** An error body openai-node and other OpenAI clients read the message of. */
function openAiError(message: string): { error: { message: string; type: string } } {
  return { error: { message, type: "tracetrain_relay_error" } };
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return error.cause instanceof Error ? `${error.message}: ${error.cause.message}` : error.message;
}
