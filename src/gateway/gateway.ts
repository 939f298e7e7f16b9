/**
 * The LLM gateway: an OpenAI-compatible HTTP proxy that attributes every call to a rollout
 * attempt (by its URL prefix) and records it — with the exact token ids and logprobs the engine
 * sampled — into the store, for agents that cannot be instrumented in-process: another language,
 * a CLI tool, a sandboxed container. See options.ts for what it accepts, handler.ts for how a
 * request is answered, scope.ts for the URL scheme, capture.ts for token capture, relay.ts for
 * streaming, gate.ts for pausing around weight updates.
 *
 * Built on node:http rather than a framework: a proxy needs raw control of both sockets (flush
 * the first streamed byte at once, propagate backpressure and hang-ups both ways), which a
 * framework's request/reply model would only get in the way of.
 */
import { type Server, createServer } from "node:http";
import { RequestMetrics, answerClientError, listenOn, tokenDigest } from "../http/index.js";
import { type LlmResource, ValidationError } from "../types/index.js";
import { redactUrl } from "../util/index.js";
import { AttemptDirectory } from "./attempts.js";
import { Gate } from "./gate.js";
import { handleRequest, routeLabel } from "./handler.js";
import { scopedKey } from "./keys.js";
import { type GatewayOptions, parseGatewayOptions } from "./options.js";
import type { GatewayParts } from "./parts.js";
import { type GatewayPolicy, type GatewayPolicyInput, parsePolicy } from "./policy.js";
import { withCapabilities } from "./probe.js";
import { CallRecorder } from "./recorder.js";
import { type Scope, scopedBaseUrl } from "./scope.js";
import { SubstitutionDirectory } from "./substitutions.js";
import { UpstreamClient } from "./upstream-request.js";
import { type Capabilities, type UpstreamInput, UpstreamPool, parseUpstreams } from "./upstreams.js";

export interface GatewayStats {
  requests: number;
  recorded: number;
  retries: number;
  upstreamFailures: number;
  inFlight: number;
  /** Calls held by a pause, waiting for `resume()`. */
  waiting: number;
  paused: boolean;
}

export interface Gateway {
  /** `http://host:port` */
  readonly url: string;
  readonly policy: GatewayPolicy;
  /** Replaces the policy (model name, sampling per mode, policy version) for calls from now on. */
  setPolicy(policy: GatewayPolicyInput): void;
  /** Holds (or turns away) new calls; resolves once the calls already upstream have finished. */
  pause(): Promise<void>;
  resume(): void;
  /** Replaces the upstream list without a restart (probing new upstreams unless told their capabilities). */
  setUpstreams(upstreams: UpstreamInput[]): Promise<void>;
  /** The upstreams, with what each supports; a user name or password in a URL shows as `***`. */
  upstreams(): Array<{ name: string; url: string; capabilities: Capabilities; model?: string }>;
  /**
   * An `llm` resource for agents: its `baseUrl` holds `{rolloutId}` and `{attemptId}`, which
   * `ctx.llm()` fills in for each rollout, so an unmodified agent that uses `baseUrl` is
   * attributed. `model` defaults to the policy's model.
   */
  llmResource(options?: { model?: string }): LlmResource;
  /** The base URL (`…/v1`) of one rollout attempt, for agents started by hand. */
  baseUrlFor(scope: Scope): string;
  /** A key that works only for this attempt's prefix (needs `token`). */
  keyFor(scope: Pick<Scope, "rolloutId" | "attemptId">): string;
  stats(): GatewayStats;
  /** Delivers every recorded call to the store. */
  flush(): Promise<void>;
  /** Stops accepting calls, lets calls in flight finish, delivers what was recorded. The store stays open. */
  close(): Promise<void>;
}

/**
 * Starts a gateway: validates `options` (a ValidationError names the field), asks the upstreams
 * what they support (unless told), and listens.
 *
 * @example
 * const gateway = await startGateway({ store, upstreams: [{ url: "http://gpu-1:8000/v1" }], port: 0 });
 * const baseUrl = gateway.baseUrlFor({ rolloutId, attemptId }); // give this to the agent as OPENAI_BASE_URL
 */
export async function startGateway(input: GatewayOptions): Promise<Gateway> {
  const options = parseGatewayOptions(input);
  const client = new UpstreamClient(options.retry);
  const parts: GatewayParts = {
    options,
    tokenCheck: options.token === undefined ? undefined : tokenDigest(options.token),
    client,
    pool: new UpstreamPool(await withCapabilities(options.upstreams, options.probe, client, options.logger)),
    gate: new Gate(options.whilePaused, options.pauseRetryAfterSeconds),
    attempts: new AttemptDirectory(options.store, options.attemptCacheMs),
    recorder: new CallRecorder(options.store, options.logger),
    substitutions: new SubstitutionDirectory(options.store),
    counters: { requests: 0, recorded: 0, retries: 0, upstreamFailures: 0 },
    http: new RequestMetrics("tracetrain_gateway_http"),
    policy: options.policy,
  };
  const inFlight = new Set<Promise<void>>();
  const server = serve(parts, inFlight);
  try {
    return gatewayOver(parts, server, inFlight, await listenOn(server, options.port, options.host));
  } catch (error) {
    parts.attempts.close();
    client.close();
    throw error;
  }
}

/** The HTTP server, answering each request with the handler and tracking it until it is done. */
function serve(parts: GatewayParts, inFlight: Set<Promise<void>>): Server {
  const server = createServer({ requireHostHeader: false }, (request, response) => {
    const started = performance.now();
    const done = handleRequest(parts, request, response);
    inFlight.add(done);
    void done.finally(() => {
      inFlight.delete(done);
      parts.http.observe(routeLabel(request.url), request.method ?? "GET", response.statusCode, (performance.now() - started) / 1000);
    });
  });
  server.on("clientError", (error: NodeJS.ErrnoException, socket) => answerClientError(error, socket));
  server.headersTimeout = 30_000;
  // Receiving a request (not answering it: streams may run for minutes) must not take forever.
  server.requestTimeout = 120_000;
  server.keepAliveTimeout = 65_000;
  return server;
}

/** The running gateway. Its methods use no `this`, so they may be passed around on their own. */
function gatewayOver(parts: GatewayParts, server: Server, inFlight: Set<Promise<void>>, url: string): Gateway {
  const { options, gate, pool, recorder } = parts;
  let closing: Promise<void> | undefined;
  return {
    url,
    get policy() {
      return parts.policy;
    },
    setPolicy(next) {
      parts.policy = parsePolicy(next);
    },
    pause: () => gate.pause(),
    resume: () => gate.resume(),
    async setUpstreams(next) {
      pool.replace(await withCapabilities(parseUpstreams(next), options.probe, parts.client, options.logger));
    },
    upstreams: () => pool.list().map((u) => ({ name: u.name, url: redactUrl(new URL(`${u.base.pathname.replace(/\/$/, "")}/v1`, u.base)), capabilities: { ...u.capabilities }, ...(u.model === undefined ? {} : { model: u.model }) })),
    llmResource(resourceOptions = {}) {
      const model = resourceOptions.model ?? parts.policy.model;
      if (model === undefined) throw new ValidationError("llmResource", [{ path: "model", message: "name the model (or set one in the gateway policy)" }]);
      const version = parts.policy.policyVersion;
      return { kind: "llm", baseUrl: `${url}/rollout/{rolloutId}/attempt/{attemptId}/v1`, model, ...(version === undefined ? {} : { policyVersion: version }) };
    },
    baseUrlFor: (scope) => scopedBaseUrl(url, scope),
    keyFor(scope) {
      if (options.token === undefined) throw new ValidationError("keyFor", [{ path: "token", message: "the gateway has no token, so it has no per-rollout keys either" }]);
      return scopedKey(options.token, scope);
    },
    stats: () => ({ ...parts.counters, inFlight: gate.active, waiting: gate.held, paused: gate.isPaused }),
    flush: () => recorder.flush(),
    close() {
      closing ??= (async () => {
        gate.close();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        await Promise.allSettled([...inFlight]);
        server.closeAllConnections();
        await closed;
        parts.attempts.close();
        parts.client.close();
        await recorder.flush();
      })();
      return closing;
    },
  };
}
