/**
 * Passing an upstream answer on to the agent while recording it. Streams are relayed event by
 * event as they arrive (the agent's time to first token is the upstream's), while a copy of each
 * event feeds the span's stream accumulator; whole answers are read, recorded and sent on.
 * Fields the gateway asked for on its own account are removed first (see capture.ts); an answer
 * nothing was removed from is passed on byte for byte.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { ActiveSpan } from "../tracer/index.js";
import { finishStream, recordPartialFailure } from "../tracer/index.js";
import { type WireApi, createAccumulator, responseFromBody } from "../llm/index.js";
import { type SseEvent, SseParser } from "../llm/index.js";
import { recordFirstChunk, recordLlmError } from "../tracer/index.js";
import type { JsonObject } from "../types/index.js";
import { MAX_JSON_DEPTH, parseJsonWithin } from "../http/index.js";
import { AgentDisconnected, UpstreamError } from "./call-failures.js";
import { type CapturePlan, removeCaptured } from "./capture.js";
import type { CallRecorder } from "./recorder.js";

/** The most of a non-streamed answer the gateway holds in memory to record it. */
const MAX_BUFFERED_BYTES = 64 * 1024 * 1024;

/** Response headers not passed on: hop-by-hop ones, and the length, which is recomputed. */
const DROPPED_RESPONSE_HEADERS = new Set(["connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection", "upgrade", "trailer"]);

export interface Recording {
  api: WireApi;
  span: ActiveSpan;
  recorder: CallRecorder;
}

export interface RelayOptions {
  upstream: IncomingMessage;
  agent: ServerResponse;
  /** Present when the call is recorded. */
  recording: Recording | undefined;
  plan: CapturePlan;
  /** Finish the answer only once the call's span is in the store. */
  answerWhenStored: boolean;
}

/** Relays the answer; resolves when the agent has it all, or either side broke off. Never rejects. */
export async function relay(options: RelayOptions): Promise<void> {
  const { upstream, agent, recording, plan } = options;
  const stored = () => (recording && options.answerWhenStored ? recording.recorder.stored() : Promise.resolve());
  const status = upstream.statusCode ?? 502;
  const headers = passedHeaders(upstream);
  if (recording === undefined && !plan.tokenIds && !plan.logprobs) return pipeRaw(upstream, agent, status, headers);
  if (status < 400 && (upstream.headers["content-type"] ?? "").includes("text/event-stream")) return relayStream(options, status, headers, stored);
  const body = await readAll(upstream);
  if (body === undefined) {
    if (recording) recordLlmError(recording.span, new UpstreamError("the upstream answer broke off, or exceeded the size the gateway records"));
    agent.destroy();
    return;
  }
  const parsed = parseJson(body);
  let out = body;
  if (status >= 400) {
    const errorBody = asObject(parsed);
    if (recording) recordLlmError(recording.span, new UpstreamError(`HTTP ${status} from the upstream`), { status, ...(errorBody ? { body: errorBody } : {}) });
  } else if (parsed === undefined) {
    if (recording) recordLlmError(recording.span, new UpstreamError(`the upstream answer is not JSON, or nests deeper than ${MAX_JSON_DEPTH} levels (${body.length} bytes)`), { status });
  } else {
    if (recording) recording.recorder.finish(recording.span, responseFromBody(recording.api, parsed));
    if (removeCaptured(parsed, plan)) out = Buffer.from(JSON.stringify(parsed));
  }
  await stored();
  agent.writeHead(status, { ...headers, "content-length": out.length }).end(out);
}

function pipeRaw(upstream: IncomingMessage, agent: ServerResponse, status: number, headers: OutgoingHttpHeaders): Promise<void> {
  agent.writeHead(status, headers);
  return new Promise((resolve) => {
    upstream.pipe(agent);
    upstream.once("error", () => agent.destroy());
    agent.once("close", () => {
      if (!upstream.complete) upstream.destroy();
      resolve();
    });
  });
}

function relayStream(options: RelayOptions, status: number, headers: OutgoingHttpHeaders, stored: () => Promise<void>): Promise<void> {
  const { upstream, agent, recording, plan } = options;
  const rewrite = plan.tokenIds || plan.logprobs;
  const accumulator = recording ? createAccumulator(recording.api) : undefined;
  const parser = new SseParser();
  const decoder = new TextDecoder();
  agent.writeHead(status, headers);
  agent.flushHeaders();

  const write = (data: string | Buffer) => {
    // Backpressure: a slow agent slows the upstream instead of filling memory.
    if (!agent.write(data)) {
      upstream.pause();
      agent.once("drain", () => upstream.resume());
    }
  };
  const onEvents = (events: SseEvent[]) => {
    for (const event of events) {
      const data = event.data === "[DONE]" ? undefined : parseJson(event.data);
      if (recording && data !== undefined) {
        recordFirstChunk(recording.span);
        accumulator!.add(data, event.event);
      }
      if (rewrite) write(sseText(event, data !== undefined && removeCaptured(data, plan) ? JSON.stringify(data) : event.data));
    }
  };

  return new Promise((resolve) => {
    let recorded = false;
    const record = (failure: Error | undefined) => {
      if (recorded) return;
      recorded = true;
      if (recording) {
        if (failure) recordPartialFailure(recording.span, accumulator!, failure);
        else finishStream(recording.span, accumulator!, (response) => recording.recorder.finish(recording.span, response));
      }
    };
    const settle = (failure: Error) => {
      record(failure);
      resolve();
    };
    upstream.on("data", (chunk: Buffer) => {
      if (!rewrite) write(chunk);
      onEvents(parser.push(decoder.decode(chunk, { stream: true })));
    });
    upstream.once("end", () => {
      onEvents([...parser.push(decoder.decode()), ...parser.end()]);
      // The end of the stream (everything before it is already out) waits until the call is stored.
      record(undefined);
      void stored().then(() => {
        agent.end();
        resolve();
      });
    });
    upstream.once("error", (error) => {
      // The agent must see the stream break, not a clean end that would pass for a short answer.
      agent.destroy();
      settle(new UpstreamError(`the upstream stream broke off: ${error.message}`));
    });
    agent.once("close", () => {
      if (upstream.complete) return;
      upstream.destroy();
      settle(new AgentDisconnected("the agent closed the connection before the stream ended"));
    });
  });
}

/** One event in the event-stream format (data lines split as the format requires). */
function sseText(event: SseEvent, data: string): string {
  const lines = data.split("\n").map((line) => `data: ${line}`);
  return `${event.event === undefined ? "" : `event: ${event.event}\n`}${lines.join("\n")}\n\n`;
}

function passedHeaders(upstream: IncomingMessage): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(upstream.headers)) {
    if (value !== undefined && !DROPPED_RESPONSE_HEADERS.has(name)) out[name] = value;
  }
  return out;
}

/** The whole body, or undefined if the stream broke or grew past the limit. */
function readAll(stream: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BUFFERED_BYTES) {
        stream.destroy();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    stream.once("end", () => resolve(Buffer.concat(chunks)));
    stream.once("error", () => resolve(undefined));
  });
}

/**
 * An upstream answer (or stream event) as JSON; undefined when it is not JSON, or nests too deep to
 * re-serialise safely: such text is passed on untouched and not recorded.
 */
function parseJson(text: string | Buffer): unknown {
  return parseJsonWithin(typeof text === "string" ? text : text.toString("utf8"));
}

function asObject(value: unknown): JsonObject | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as JsonObject) : undefined;
}
