import { type IncomingMessage, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import OpenAI from "openai";
import { expect } from "vitest";
import { Attr, SpanTypes } from "tracetrain/instrumentations";
import { type Gateway, type GatewayOptions, startGateway } from "tracetrain/gateway";
import { MemoryStore } from "tracetrain/store";
import { type Span } from "tracetrain";
import type { Scope } from "../../src/gateway/scope.js";
import { type MockLlm, type MockLlmOptions, startMockLlm } from "tracetrain/testing";

export const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** A gateway in front of a mock LLM, recording into a MemoryStore, torn down by `close()`. */
export interface Rig {
  store: MemoryStore;
  upstream: MockLlm;
  /** Another mock, with the same options, for calling directly: same request sequence, same deterministic answers. */
  direct: OpenAI;
  gateway: Gateway;
  close(): Promise<void>;
}

export async function startRig(options: Partial<GatewayOptions> & { mock?: MockLlmOptions } = {}): Promise<Rig> {
  const { mock: mockOptions, ...gatewayOptions } = options;
  const upstream = await startMockLlm(mockOptions);
  const directMock = await startMockLlm(mockOptions);
  const store = new MemoryStore({ watchdogIntervalMs: false });
  const gateway = await startGateway({
    store,
    upstreams: [{ url: upstream.baseUrl, capabilities: { tokenIds: true, logprobs: true } }],
    port: 0,
    logger: quiet,
    ...gatewayOptions,
  });
  return {
    store,
    upstream,
    direct: new OpenAI({ baseURL: directMock.baseUrl, apiKey: "unused", maxRetries: 0 }),
    gateway,
    async close() {
      await gateway.close();
      await upstream.close();
      await directMock.close();
      await store.close();
    },
  };
}

/** Enqueues and claims a rollout; returns its scope. */
export async function claim(store: MemoryStore, mode: "train" | "val" | "test" = "train", input: unknown = "task"): Promise<Scope> {
  const rollout = await store.enqueue({ input: input as string, mode });
  const [claimed] = await store.dequeue({ workerId: "w" });
  expect(claimed?.rollout.rolloutId).toBe(rollout.rolloutId);
  return { rolloutId: claimed!.rollout.rolloutId, attemptId: claimed!.attempt.attemptId };
}

export function clientFor(gateway: Gateway, scope: Scope, apiKey = "unused"): OpenAI {
  return new OpenAI({ baseURL: gateway.baseUrlFor(scope), apiKey, maxRetries: 0 });
}

/** The LLM-call spans the gateway recorded for an attempt, after delivering everything. */
export async function callSpans(rig: Rig, scope: Scope): Promise<Span[]> {
  await rig.gateway.flush();
  const page = await rig.store.querySpans({ rolloutId: scope.rolloutId, attemptId: scope.attemptId, limit: 1000 });
  return page.items.filter((s) => s.attributes[Attr.spanType] === SpanTypes.llm);
}

export const attr = (span: Span, key: string) => span.attributes[key];

/** A bare HTTP server standing in for an upstream that misbehaves in ways the mock LLM does not. */
export interface RawUpstream {
  /** The base URL (`…/v1`). */
  baseUrl: string;
  close(): Promise<void>;
}

export async function startRawUpstream(handle: (request: IncomingMessage, response: ServerResponse) => void): Promise<RawUpstream> {
  const server = createServer((request, response) => {
    request.resume();
    handle(request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** One event of a streamed chat completion, in the event-stream format. */
export const chatEvent = (content: string, extra: Record<string, unknown> = {}) =>
  `data: ${JSON.stringify({ id: "chatcmpl-raw", object: "chat.completion.chunk", model: "m", choices: [{ index: 0, delta: { content }, finish_reason: null }], ...extra })}\n\n`;

/** JSON text nested `depth` arrays deep. */
export const nested = (depth: number) => "[".repeat(depth) + "]".repeat(depth);
