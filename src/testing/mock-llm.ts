/**
 * A deterministic, offline LLM server for tests.
 *
 * It speaks the real wire formats of OpenAI Chat Completions, legacy Completions, the Responses API
 * and (minimally) the Anthropic Messages API, so that tests can drive it with the real client SDKs
 * (`openai`, `@langchain/openai`, `@openai/agents`, the Vercel AI SDK) and with hand-written fetch.
 * It also implements the vLLM extensions a trainer needs: `return_token_ids` and logprobs.
 *
 * Everything is deterministic: ids derive from a per-server request counter, timestamps from a fixed
 * epoch, token ids from the real `o200k_base` tokenizer (loaded from the npm package, never the
 * network), and logprobs from the token ids.
 */
import { createServer, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { o200k } from "../util/index.js";

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

/** A tool call the scripted model makes. `arguments` is JSON-serialised by the server; a string is
 * passed through verbatim (so a test can script malformed or pre-serialised arguments). */
export interface MockToolCall {
  name: string;
  arguments: unknown;
  id?: string;
}

/**
 * A transport failure instead of (part of) a reply, for testing clients and proxies against
 * flaky upstreams. The request is still recorded in `MockLlm.requests`.
 *
 * - `drop_connection`: the socket is destroyed before any response byte is sent (clients see
 *   "socket hang up", ECONNRESET or "other side closed").
 * - `break_stream`: for `stream: true` requests, the headers and the first `afterEvents` events are
 *   sent, then the socket is closed without the final event or the end of the chunked body. For
 *   other requests it behaves like `drop_connection`.
 */
export type Fault = { kind: "drop_connection" } | { kind: "break_stream"; afterEvents: number };

/** Plain assistant text. */
export interface TextReply {
  text: string;
  fault?: Fault;
}

/** The model calls tools, optionally with some text before the calls. */
export interface ToolCallsReply {
  toolCalls: MockToolCall[];
  text?: string;
  fault?: Fault;
}

/** An HTTP error in the endpoint's own error format (OpenAI's `{error:{message,type,param,code}}`,
 * or Anthropic's `{type:"error",error:{type,message}}` on `/v1/messages`). `retryAfter` (seconds)
 * adds a `Retry-After` header, as rate-limited and overloaded APIs send. */
export interface ErrorReply {
  error: { status: number; message: string; type?: string; code?: string; retryAfter?: number };
}

export type Reply = TextReply | ToolCallsReply | ErrorReply;

export interface ResponderRequest {
  /** Request path, e.g. `/v1/chat/completions`. */
  path: string;
  /** The parsed JSON request body. */
  body: Record<string, unknown>;
  /** 0-based count of LLM requests this server has answered before this one. */
  index: number;
  /** Text of the last user message (text parts joined with "\n"); for legacy completions, the prompt. */
  lastUserText: string;
}

export type Responder = (request: ResponderRequest) => Reply | Promise<Reply>;

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  /** Parsed JSON body, or undefined when there was no body or it was not valid JSON. */
  body: unknown;
}

export interface MockLlm {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** `url + "/v1"`: what OpenAI-style clients take as `baseURL`. */
  baseUrl: string;
  /** Every request received, in arrival order, including malformed and unknown ones. */
  requests: RecordedRequest[];
  /** Replace the responder; `undefined` restores the default echo responder. */
  script(fn: Responder | undefined): void;
  /** Sets `chunkDelayMs` for streams that start from now on. */
  setChunkDelay(ms: number): void;
  close(): Promise<void>;
}

export interface MockLlmOptions {
  /** What the simulated model answers to each request (default {@link echoResponder}: it repeats the last user message). */
  responder?: Responder;
  /** The port to listen on (default: a free one). */
  port?: number;
  /** Artificial delay before every response, in milliseconds. */
  latencyMs?: number;
  /** Pause between consecutive server-sent events of a streamed response, in milliseconds (the
   * first event follows the headers at once). 0, the default, writes the whole stream at once. */
  chunkDelayMs?: number;
}

/** Default responder: `echo: <last user message>`. */
export const echoResponder: Responder = ({ lastUserText }) => ({ text: `echo: ${lastUserText}` });

/**
 * A responder that gives `replies` in order, one per call, then falls back to `then` (the echo
 * responder by default). Its counter is its own, so it works whatever the server's index is.
 */
export function replySequence(replies: Reply[], then: Responder = echoResponder): Responder {
  let next = 0;
  return (request) => replies[next++] ?? then(request);
}

/**
 * A responder that answers its first `count` calls with `reply` (say a 503 or a dropped
 * connection), then defers to `then`: the shape of a transient upstream outage, for retry tests.
 * Like `replySequence` it counts its own calls; a batched legacy completion asks once per prompt.
 */
export function failFirst(count: number, reply: Reply, then: Responder = echoResponder): Responder {
  let calls = 0;
  return (request) => (calls++ < count ? reply : then(request));
}

export async function startMockLlm(options: MockLlmOptions = {}): Promise<MockLlm> {
  const state: ServerState = {
    responder: options.responder,
    latencyMs: options.latencyMs ?? 0,
    chunkDelayMs: checkedDelay(options.chunkDelayMs ?? 0),
    requests: [],
    llmRequestCount: 0,
  };
  const server = createServer((req, res) => {
    // Last-resort guard: a bug in a handler must fail the request, never the test process.
    handle(state, req, res).catch((err: unknown) => failHard(res, err));
  });
  // Keep-alive sockets would otherwise hold vitest open after the tests finish.
  server.keepAliveTimeout = 10_000; // above undici's 4 s idle threshold, so clients reuse connections
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    baseUrl: `${url}/v1`,
    requests: state.requests,
    script(fn) {
      state.responder = fn;
    },
    setChunkDelay(ms) {
      state.chunkDelayMs = checkedDelay(ms);
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Server plumbing
// ---------------------------------------------------------------------------------------------

interface ServerState {
  responder: Responder | undefined;
  latencyMs: number;
  chunkDelayMs: number;
  requests: RecordedRequest[];
  llmRequestCount: number;
}

/** A typo like `-5` or `NaN` would otherwise silently mean "no delay" and hide a broken test. */
function checkedDelay(ms: number): number {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`chunk delay must be a non-negative number of ms, got ${ms}`);
  return ms;
}

/** What an endpoint handler gets: the validated body plus a way to ask the responder. */
interface LlmCall {
  res: ServerResponse;
  path: string;
  body: Record<string, unknown>;
  /** The request counter value for this request; all ids derive from it. */
  index: number;
  ask(lastUserText: string): Promise<Reply>;
  /** The first fault among the replies `ask` returned (a batched legacy completion asks several times). */
  fault: Fault | undefined;
  /** Read when a stream starts, so that `setChunkDelay` affects the streams that follow it. */
  chunkDelayMs(): number;
}

/** Fixed epoch so that `created` fields are deterministic (2023-11-14). */
const MOCK_EPOCH = 1_700_000_000;

type LlmHandler = (call: LlmCall) => Promise<void>;

const LLM_ENDPOINTS: Record<string, LlmHandler> = {
  "/v1/chat/completions": handleChatCompletions,
  "/v1/completions": handleCompletions,
  "/v1/responses": handleResponses,
  "/v1/messages": handleAnthropicMessages,
};

async function handle(state: ServerState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const method = req.method ?? "GET";
  const path = (req.url ?? "/").split("?")[0] ?? "/";
  const raw = await readBody(req);
  const parsed = parseJson(raw);
  state.requests.push({ method, path, headers: flattenHeaders(req), body: parsed.ok ? parsed.value : undefined });

  if (state.latencyMs > 0) await sleep(state.latencyMs);
  if (res.destroyed) return; // the client (or close()) gave up while we were sleeping

  const isAnthropic = path === "/v1/messages";
  const sendError = (status: number, message: string, code?: string) =>
    isAnthropic ? sendAnthropicError(res, status, message) : sendOpenAiError(res, status, message, undefined, code);

  if (method === "GET" && path === "/v1/models") return handleModels(res);
  const handler = LLM_ENDPOINTS[path];
  if (method !== "POST" || handler === undefined) {
    // This is the exact message the OpenAI API gives for unknown routes.
    return sendError(404, `Invalid URL (${method} ${path})`);
  }
  if (!parsed.ok || !isRecord(parsed.value)) {
    return sendError(
      400,
      "We could not parse the JSON body of your request. The API expects a JSON object payload.",
    );
  }
  const body = parsed.value;
  const index = state.llmRequestCount++;
  const call: LlmCall = {
    res,
    path,
    body,
    index,
    fault: undefined,
    chunkDelayMs: () => state.chunkDelayMs,
    ask: async (lastUserText) => {
      const reply = await askResponder(state, { path, body, index, lastUserText });
      if (!("error" in reply)) call.fault ??= reply.fault;
      return reply;
    },
  };
  await handler(call);
}

/** Calls the scripted (or default) responder; a throwing or nonsensical responder becomes a 500. */
async function askResponder(state: ServerState, request: ResponderRequest): Promise<Reply> {
  try {
    const reply: unknown = await (state.responder ?? echoResponder)(request);
    if (isValidReply(reply)) return reply;
    return { error: { status: 500, message: `mock responder returned an invalid reply: ${safeJson(reply)}` } };
  } catch (err) {
    return { error: { status: 500, message: `mock responder threw: ${String(err)}`, type: "server_error" } };
  }
}

/** Runtime check of a responder's result (responders may be written loosely in tests). */
function isValidReply(reply: unknown): reply is Reply {
  if (!isRecord(reply)) return false;
  if (isRecord(reply.error)) return isValidError(reply.error);
  if (reply.fault !== undefined && !isValidFault(reply.fault)) return false;
  const textOk = reply.text === undefined || typeof reply.text === "string";
  if (reply.toolCalls !== undefined) {
    return textOk && Array.isArray(reply.toolCalls) && reply.toolCalls.every((c) => isRecord(c) && typeof c.name === "string");
  }
  return typeof reply.text === "string";
}

function isValidError(error: Record<string, unknown>): boolean {
  const retryOk = error.retryAfter === undefined || (typeof error.retryAfter === "number" && Number.isFinite(error.retryAfter) && error.retryAfter >= 0);
  return typeof error.status === "number" && typeof error.message === "string" && retryOk;
}

function isValidFault(fault: unknown): fault is Fault {
  if (!isRecord(fault)) return false;
  if (fault.kind === "drop_connection") return true;
  return fault.kind === "break_stream" && nonNegativeInt(fault.afterEvents) !== undefined;
}

/**
 * Carries out a fault that leaves no response at all: `drop_connection`, or `break_stream` on a
 * request that is not streamed. Returns whether the connection was dropped (the handler stops).
 */
function dropForFault(call: LlmCall): boolean {
  const { fault } = call;
  if (fault === undefined || (fault.kind === "break_stream" && call.body.stream === true)) return false;
  call.res.destroy();
  return true;
}

/** Starts a streamed response, paced by the chunk delay and cut short by a `break_stream` fault. */
function openStream(call: LlmCall): SseWriter {
  const breakAfter = call.fault?.kind === "break_stream" ? call.fault.afterEvents : undefined;
  return new SseWriter(call.res, { chunkDelayMs: call.chunkDelayMs(), breakAfter });
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    // An aborted upload still resolves; the handler then sees a destroyed response and stops.
    req.on("error", () => resolve(""));
  });
}

function parseJson(raw: string): { ok: true; value: unknown } | { ok: false } {
  if (raw.trim() === "") return { ok: false };
  try {
    return { ok: true, value: JSON.parse(raw) as unknown };
  } catch {
    return { ok: false };
  }
}

function flattenHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}

function failHard(res: ServerResponse, err: unknown): void {
  if (res.destroyed) return;
  if (!res.headersSent) {
    sendOpenAiError(res, 500, `mock server error: ${String(err)}`);
  } else {
    res.destroy();
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown, requestId?: string, headers: OutgoingHttpHeaders = {}): void {
  if (res.destroyed) return;
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    "content-type": "application/json",
    "content-length": Buffer.byteLength(payload),
    // The openai SDK exposes this as `_request_id`.
    ...(requestId === undefined ? {} : { "x-request-id": requestId }),
  });
  res.end(payload);
}

function openAiErrorType(status: number): string {
  if (status === 429) return "requests";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

function openAiErrorBody(status: number, message: string, type?: string, code?: string): Record<string, unknown> {
  return {
    error: {
      message,
      type: type ?? openAiErrorType(status),
      param: null,
      code: code ?? (status === 429 ? "rate_limit_exceeded" : null),
    },
  };
}

function sendOpenAiError(res: ServerResponse, status: number, message: string, type?: string, code?: string): void {
  sendJson(res, status, openAiErrorBody(status, message, type, code));
}

function anthropicErrorType(status: number): string {
  const types: Record<number, string> = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
  };
  return types[status] ?? (status >= 500 ? "api_error" : "invalid_request_error");
}

function anthropicErrorBody(status: number, message: string, type?: string): Record<string, unknown> {
  return { type: "error", error: { type: type ?? anthropicErrorType(status), message } };
}

function sendAnthropicError(res: ServerResponse, status: number, message: string, type?: string): void {
  sendJson(res, status, anthropicErrorBody(status, message, type));
}

/** A responder's error reply, in the format of the endpoint that was called. */
function sendErrorReply(call: LlmCall, { error }: ErrorReply): void {
  const body = call.path === "/v1/messages"
    ? anthropicErrorBody(error.status, error.message, error.type)
    : openAiErrorBody(error.status, error.message, error.type, error.code);
  const headers = error.retryAfter === undefined ? {} : { "retry-after": String(error.retryAfter) };
  sendJson(call.res, error.status, body, undefined, headers);
}

interface SseOptions {
  /** Milliseconds between consecutive events; 0 writes each event as soon as it is produced. */
  chunkDelayMs: number;
  /** Cut the connection after this many events (a `break_stream` fault). */
  breakAfter: number | undefined;
}

/**
 * Server-sent events. OpenAI chat/completions use bare `data:` lines; Responses and Anthropic name
 * each event. Handlers produce a whole stream synchronously; with a chunk delay the events wait in
 * a queue that a timer drains one event per tick, so that clients see a realistically paced stream.
 */
class SseWriter {
  private readonly queue: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private sent = 0;
  private ending = false;
  /** Set once the stream is over (ended, broken or disconnected): everything after is dropped. */
  private stopped = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly options: SseOptions,
  ) {
    res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" });
    // A client that hangs up must not leave a timer writing into a dead socket.
    res.once("close", () => this.stop());
    if (options.breakAfter === 0) this.breakConnection();
  }
  data(payload: unknown): void {
    this.write(`data: ${JSON.stringify(payload)}\n\n`);
  }
  event(name: string, payload: unknown): void {
    this.write(`event: ${name}\ndata: ${JSON.stringify(payload)}\n\n`);
  }
  done(): void {
    this.write("data: [DONE]\n\n");
  }
  /** Ends the response once every queued event is written. */
  end(): void {
    this.ending = true;
    if (this.queue.length === 0) this.finish();
  }
  private write(text: string): void {
    if (this.stopped) return;
    if (this.options.chunkDelayMs <= 0) return this.send(text);
    this.queue.push(text);
    if (this.timer === undefined) this.sendNext();
  }
  /** Writes the head of the queue and books the next slot; an idle writer thus sends at once. */
  private sendNext(): void {
    this.timer = undefined;
    const text = this.queue.shift();
    if (text === undefined || this.stopped) return;
    this.send(text);
    if (this.queue.length === 0 && this.ending) return this.finish();
    // Unref'd: a stream nobody waits for must not keep the test process alive.
    if (!this.stopped) this.timer = setTimeout(() => this.sendNext(), this.options.chunkDelayMs).unref();
  }
  private send(text: string): void {
    if (this.stopped || this.res.destroyed) return;
    this.res.write(text);
    this.sent++;
    if (this.sent === this.options.breakAfter) this.breakConnection();
  }
  private finish(): void {
    if (this.stopped) return;
    this.stop();
    if (!this.res.destroyed) this.res.end();
  }
  private breakConnection(): void {
    this.stop();
    closeAfterFlush(this.res);
  }
  private stop(): void {
    this.stopped = true;
    this.queue.length = 0;
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/**
 * Closes the connection mid-response, but only after what was already written reaches the client:
 * `res.destroy()` would discard writes still corked in the socket (the http module corks until the
 * next tick), and the client must see exactly the events sent before the break. `end()` flushes
 * them and sends FIN without the chunked body's terminator, so the client sees a truncated body.
 */
function closeAfterFlush(res: ServerResponse): void {
  const socket = res.socket;
  if (socket === null || socket.destroyed) return void res.destroy();
  // `headersSent` turns true at writeHead, before anything is written; when no event was sent yet
  // the headers are still buffered, and flushing them again later writes nothing.
  res.flushHeaders();
  socket.end(() => socket.destroy());
}

function handleModels(res: ServerResponse): void {
  sendJson(res, 200, {
    object: "list",
    data: [{ id: "mock-model", object: "model", created: MOCK_EPOCH, owned_by: "tracetrain" }],
  });
}

// ---------------------------------------------------------------------------------------------
// Tokens and logprobs
// ---------------------------------------------------------------------------------------------

/** Token ids of `text`; special-looking strings like `<|im_start|>` are encoded as ordinary text. */
export function tokenize(text: string): number[] {
  return Array.from(o200k().encode_ordinary(text));
}

function tokenBytes(id: number): Uint8Array {
  return o200k().decode_single_token_bytes(id);
}

const lossyUtf8 = new TextDecoder("utf-8", { ignoreBOM: true });
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Decodes token ids to text; undefined when an id is not in the vocabulary. */
function detokenize(ids: number[]): string | undefined {
  try {
    return lossyUtf8.decode(o200k().decode(Uint32Array.from(ids)));
  } catch {
    return undefined;
  }
}

/** A streamable piece of text with exactly the token ids that produce it. */
interface Segment {
  text: string;
  ids: number[];
}

/**
 * Splits text into one segment per token, except that tokens holding part of a multi-byte UTF-8
 * character are grouped with their neighbours, so every segment is valid text and the segments'
 * texts concatenate to the input (and their ids to `tokenize(input)`).
 */
function segmentText(text: string): Segment[] {
  const segments: Segment[] = [];
  let ids: number[] = [];
  let bytes: number[] = [];
  for (const id of tokenize(text)) {
    ids.push(id);
    bytes.push(...tokenBytes(id));
    try {
      segments.push({ text: strictUtf8.decode(Uint8Array.from(bytes)), ids });
      ids = [];
      bytes = [];
    } catch {
      // incomplete character: keep accumulating
    }
  }
  if (ids.length > 0) segments.push({ text: lossyUtf8.decode(Uint8Array.from(bytes)), ids });
  return segments;
}

/** Deterministic fake logprob of a token, in [-0.97, -0.01]. */
function tokenLogprob(id: number): number {
  return -((id % 97) + 1) / 100;
}

interface TokenLogprob {
  token: string;
  logprob: number;
  bytes: number[];
}

interface LogprobEntry extends TokenLogprob {
  top_logprobs: TokenLogprob[];
}

function describeToken(id: number, logprob: number): TokenLogprob {
  const bytes = tokenBytes(id);
  return { token: lossyUtf8.decode(bytes), logprob, bytes: Array.from(bytes) };
}

/** The top-k list starts with the sampled token (it is the most likely); the alternatives are
 * arbitrary but deterministic vocabulary entries, each one nat less likely than the previous. */
function topTokens(id: number, k: number): TokenLogprob[] {
  const out: TokenLogprob[] = [];
  const base = tokenLogprob(id);
  for (let j = 0; j < k; j++) {
    const alt = j === 0 ? id : (id + j * 1009) % 199_000;
    out.push(describeToken(alt, Math.round((base - j) * 100) / 100));
  }
  return out;
}

/** Chat Completions / Responses logprob entries. */
function logprobEntries(ids: number[], topK: number): LogprobEntry[] {
  return ids.map((id) => ({ ...describeToken(id, tokenLogprob(id)), top_logprobs: topTokens(id, topK) }));
}

// ---------------------------------------------------------------------------------------------
// Prompts: every API's input is normalised to chat turns, rendered ChatML-style and tokenised
// ---------------------------------------------------------------------------------------------

interface Turn {
  role: string;
  text: string;
}

/**
 * The deterministic "chat template" used for prompt token ids and prompt_tokens. Special-looking
 * markers are tokenised as ordinary text. Tool definitions, when present, count as a leading turn.
 */
function renderPrompt(turns: Turn[], tools: unknown): string {
  const all = Array.isArray(tools) && tools.length > 0 ? [{ role: "tools", text: JSON.stringify(tools) }, ...turns] : turns;
  return all.map((t) => `<|im_start|>${t.role}\n${t.text}<|im_end|>\n`).join("") + "<|im_start|>assistant\n";
}

/** The deterministic text rendering of a tool call, used for its token ids (like a Hermes template). */
function renderToolCall(name: string, args: string): string {
  return `<tool_call>\n{"name": ${JSON.stringify(name)}, "arguments": ${args}}\n</tool_call>`;
}

function lastUserText(turns: Turn[]): string {
  for (let i = turns.length - 1; i >= 0; i--) {
    const turn = turns[i];
    if (turn?.role === "user") return turn.text;
  }
  return "";
}

/** Text of a content value that is a string or an array of typed parts (any API's flavour). */
function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  const pieces: string[] = [];
  for (const part of content) {
    if (typeof part === "string") pieces.push(part);
    if (!isRecord(part)) continue;
    if (typeof part.text === "string") pieces.push(part.text);
    else if (typeof part.refusal === "string") pieces.push(part.refusal);
    else if (typeof part.type === "string" && /image/.test(part.type)) pieces.push("<image>");
  }
  return pieces.join("\n");
}

/** Chat Completions `messages` (system/developer/user/assistant/tool). */
function chatTurns(messages: unknown[]): Turn[] {
  return messages.filter(isRecord).map((m) => {
    let text = contentText(m.content);
    if (Array.isArray(m.tool_calls)) {
      for (const call of m.tool_calls) {
        if (!isRecord(call) || !isRecord(call.function)) continue;
        text += renderToolCall(String(call.function.name ?? ""), String(call.function.arguments ?? ""));
      }
    }
    return { role: typeof m.role === "string" ? m.role : "user", text };
  });
}

/** Responses API `instructions` + `input` (a string or an array of items). */
function responsesTurns(body: Record<string, unknown>): Turn[] {
  const turns: Turn[] = [];
  if (typeof body.instructions === "string") turns.push({ role: "system", text: body.instructions });
  const input = body.input;
  if (typeof input === "string") {
    turns.push({ role: "user", text: input });
    return turns;
  }
  for (const item of Array.isArray(input) ? input : []) {
    if (!isRecord(item)) continue;
    if (item.type === "function_call") {
      turns.push({ role: "assistant", text: renderToolCall(String(item.name ?? ""), String(item.arguments ?? "")) });
    } else if (item.type === "function_call_output") {
      turns.push({ role: "tool", text: contentText(item.output) });
    } else if (typeof item.role === "string" && (item.type === undefined || item.type === "message")) {
      turns.push({ role: item.role, text: contentText(item.content) });
    }
    // reasoning items, item references etc. carry no prompt text for this mock
  }
  return turns;
}

/** Anthropic `system` + `messages`. tool_result blocks become `tool` turns so that "last user
 * message" means what a person typed, as it does for the OpenAI formats. */
function anthropicTurns(body: Record<string, unknown>): Turn[] {
  const turns: Turn[] = [];
  if (body.system !== undefined) turns.push({ role: "system", text: contentText(body.system) });
  for (const m of Array.isArray(body.messages) ? body.messages : []) {
    if (!isRecord(m)) continue;
    const role = typeof m.role === "string" ? m.role : "user";
    if (!Array.isArray(m.content)) {
      turns.push({ role, text: contentText(m.content) });
      continue;
    }
    const own: unknown[] = [];
    for (const block of m.content) {
      if (isRecord(block) && block.type === "tool_result") {
        turns.push({ role: "tool", text: contentText(block.content) });
      } else if (isRecord(block) && block.type === "tool_use") {
        own.push({ type: "text", text: renderToolCall(String(block.name ?? ""), JSON.stringify(block.input ?? {})) });
      } else {
        own.push(block);
      }
    }
    if (own.length > 0) turns.push({ role, text: contentText(own) });
  }
  return turns;
}

// ---------------------------------------------------------------------------------------------
// Completions: a reply turned into per-choice text, tool calls and token ids
// ---------------------------------------------------------------------------------------------

interface ResolvedToolCall {
  id: string;
  name: string;
  /** The JSON arguments string sent on the wire. */
  arguments: string;
  /** Token ids of the call's rendering (see renderToolCall). */
  ids: number[];
}

interface ChoiceOutput {
  text: string;
  /** Token-aligned pieces of `text`, for streaming. */
  segments: Segment[];
  toolCalls: ResolvedToolCall[];
  /** All response token ids: the text's, then each tool call's. */
  ids: number[];
  /** Whether generation stopped because of the max-tokens limit. */
  truncated: boolean;
}

function serializeArguments(args: unknown): string {
  return typeof args === "string" ? args : (JSON.stringify(args) ?? "null");
}

/**
 * Resolves a (non-error) reply for one choice. Choices after the first get ` [choice i]` appended
 * to their text so that n>1 outputs differ deterministically. `maxTokens` truncates the text (tool
 * calls are never cut) and marks the output as truncated, as a real server would.
 */
function resolveChoice(
  reply: TextReply | ToolCallsReply,
  choice: number,
  toolCallId: (j: number) => string,
  maxTokens: number | undefined,
): ChoiceOutput {
  const calls = "toolCalls" in reply ? reply.toolCalls : [];
  let text = reply.text ?? "";
  if (choice > 0 && (text !== "" || calls.length === 0)) text += ` [choice ${choice}]`;

  let segments = segmentText(text);
  let truncated = false;
  if (maxTokens !== undefined && calls.length === 0) {
    const kept: Segment[] = [];
    let count = 0;
    for (const segment of segments) {
      if (count + segment.ids.length > maxTokens) {
        truncated = true;
        break;
      }
      kept.push(segment);
      count += segment.ids.length;
    }
    segments = kept;
    text = kept.map((s) => s.text).join("");
  }

  const toolCalls = calls.map((call, j): ResolvedToolCall => {
    const args = serializeArguments(call.arguments);
    return { id: call.id ?? toolCallId(j), name: call.name, arguments: args, ids: tokenize(renderToolCall(call.name, args)) };
  });
  const ids = [...segments.flatMap((s) => s.ids), ...toolCalls.flatMap((c) => c.ids)];
  return { text, segments, toolCalls, ids, truncated };
}

/** Splits a tool call's arguments string into several streaming pieces along token boundaries. */
function argumentPieces(args: string): string[] {
  const pieces = segmentText(args).map((s) => s.text);
  return pieces.length > 0 ? pieces : [args];
}

function positiveInt(value: unknown): number | undefined {
  return typeof value === "number" && Number.isInteger(value) && value > 0 ? value : undefined;
}

function nonNegativeInt(value: unknown): number | undefined {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 ? value : undefined;
}

function modelOf(body: Record<string, unknown>): string {
  return typeof body.model === "string" ? body.model : "mock-model";
}

function includeUsageInStream(body: Record<string, unknown>): boolean {
  return isRecord(body.stream_options) && body.stream_options.include_usage === true;
}

// ---------------------------------------------------------------------------------------------
// POST /v1/chat/completions
// ---------------------------------------------------------------------------------------------

interface ChatOptions {
  returnTokenIds: boolean;
  /** undefined: no logprobs; otherwise the number of top_logprobs per token. */
  topLogprobs: number | undefined;
}

async function handleChatCompletions(call: LlmCall): Promise<void> {
  const { res, body, index } = call;
  if (!Array.isArray(body.messages)) {
    return sendOpenAiError(res, 400, "Missing required parameter: 'messages'.", undefined, "missing_required_parameter");
  }
  const turns = chatTurns(body.messages);
  const reply = await call.ask(lastUserText(turns));
  if ("error" in reply) return sendErrorReply(call, reply);
  if (dropForFault(call)) return;

  const n = positiveInt(body.n) ?? 1;
  const maxTokens = positiveInt(body.max_completion_tokens) ?? positiveInt(body.max_tokens);
  const choices = Array.from({ length: n }, (_, i) => resolveChoice(reply, i, (j) => `call_${index}_${i}_${j}`, maxTokens));
  const promptIds = tokenize(renderPrompt(turns, body.tools));
  const options: ChatOptions = {
    returnTokenIds: body.return_token_ids === true,
    topLogprobs: body.logprobs === true ? (nonNegativeInt(body.top_logprobs) ?? 0) : undefined,
  };
  const usage = chatUsage(promptIds.length, choices);
  if (body.stream === true) streamChatCompletion(call, choices, promptIds, usage, options);
  else sendChatCompletion(call, choices, promptIds, usage, options);
}

function chatFinishReason(choice: ChoiceOutput): string {
  if (choice.toolCalls.length > 0) return "tool_calls";
  return choice.truncated ? "length" : "stop";
}

function chatUsage(promptTokens: number, choices: ChoiceOutput[]): Record<string, unknown> {
  const completion = choices.reduce((sum, c) => sum + c.ids.length, 0);
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completion,
    total_tokens: promptTokens + completion,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
}

function chatToolCallJson(c: ResolvedToolCall): Record<string, unknown> {
  return { id: c.id, type: "function", function: { name: c.name, arguments: c.arguments } };
}

function chatLogprobs(ids: number[], options: ChatOptions): Record<string, unknown> | null {
  return options.topLogprobs === undefined ? null : { content: logprobEntries(ids, options.topLogprobs), refusal: null };
}

function sendChatCompletion(
  call: LlmCall,
  choices: ChoiceOutput[],
  promptIds: number[],
  usage: Record<string, unknown>,
  options: ChatOptions,
): void {
  const onlyTools = (c: ChoiceOutput) => c.toolCalls.length > 0 && c.text === "";
  sendJson(
    call.res,
    200,
    {
      id: `chatcmpl-${call.index}`,
      object: "chat.completion",
      created: MOCK_EPOCH + call.index,
      model: modelOf(call.body),
      // vLLM puts the prompt ids at the top level of a chat completion.
      ...(options.returnTokenIds ? { prompt_token_ids: promptIds } : {}),
      choices: choices.map((c, i) => ({
        index: i,
        message: {
          role: "assistant",
          content: onlyTools(c) ? null : c.text,
          refusal: null,
          annotations: [],
          ...(c.toolCalls.length > 0 ? { tool_calls: c.toolCalls.map(chatToolCallJson) } : {}),
        },
        logprobs: chatLogprobs(c.ids, options),
        finish_reason: chatFinishReason(c),
        ...(options.returnTokenIds ? { token_ids: c.ids } : {}),
      })),
      usage,
      service_tier: "default",
      system_fingerprint: "fp_mock",
    },
    `req_${call.index}`,
  );
}

/**
 * Streams each choice in turn: a role chunk, one chunk per text segment, per tool call a header
 * chunk (id, name, empty arguments; it carries the call's rendering token ids) followed by argument
 * pieces, then a finish chunk. With `include_usage`, every chunk has `usage: null` and a final
 * chunk with `choices: []` carries the usage, as OpenAI does.
 */
function streamChatCompletion(
  call: LlmCall,
  choices: ChoiceOutput[],
  promptIds: number[],
  usage: Record<string, unknown>,
  options: ChatOptions,
): void {
  const sse = openStream(call);
  const includeUsage = includeUsageInStream(call.body);
  let first = true;
  const emit = (index: number, delta: Record<string, unknown>, ids: number[], finishReason: string | null = null) => {
    sse.data({
      id: `chatcmpl-${call.index}`,
      object: "chat.completion.chunk",
      created: MOCK_EPOCH + call.index,
      model: modelOf(call.body),
      system_fingerprint: "fp_mock",
      // vLLM: the first chunk of the stream carries the prompt ids.
      ...(first && options.returnTokenIds ? { prompt_token_ids: promptIds } : {}),
      choices: [
        {
          index,
          delta,
          logprobs: ids.length > 0 ? chatLogprobs(ids, options) : null,
          finish_reason: finishReason,
          // vLLM: every chunk carries exactly the ids it generated (empty for structural chunks).
          ...(options.returnTokenIds ? { token_ids: ids } : {}),
        },
      ],
      ...(includeUsage ? { usage: null } : {}),
    });
    first = false;
  };

  choices.forEach((choice, i) => {
    emit(i, { role: "assistant", content: "", refusal: null }, []);
    for (const segment of choice.segments) emit(i, { content: segment.text }, segment.ids);
    choice.toolCalls.forEach((tc, j) => {
      emit(i, { tool_calls: [{ index: j, id: tc.id, type: "function", function: { name: tc.name, arguments: "" } }] }, tc.ids);
      for (const piece of argumentPieces(tc.arguments)) emit(i, { tool_calls: [{ index: j, function: { arguments: piece } }] }, []);
    });
    emit(i, {}, [], chatFinishReason(choice));
  });
  if (includeUsage) {
    sse.data({
      id: `chatcmpl-${call.index}`,
      object: "chat.completion.chunk",
      created: MOCK_EPOCH + call.index,
      model: modelOf(call.body),
      system_fingerprint: "fp_mock",
      choices: [],
      usage,
    });
  }
  sse.done();
  sse.end();
}

// ---------------------------------------------------------------------------------------------
// POST /v1/completions (legacy)
// ---------------------------------------------------------------------------------------------

interface LegacyPrompt {
  text: string;
  ids: number[];
}

/** `prompt` may be a string, an array of strings, an array of token ids, or an array of those.
 * Returns the prompts, or the 400 message when the prompt is missing or invalid. */
function legacyPrompts(prompt: unknown): LegacyPrompt[] | string {
  const isIds = (v: unknown): v is number[] => Array.isArray(v) && v.length > 0 && v.every((x) => Number.isInteger(x));
  const one = (p: unknown): LegacyPrompt | undefined => {
    if (typeof p === "string") return { text: p, ids: tokenize(p) };
    if (!isIds(p)) return undefined;
    const text = detokenize(p);
    return text === undefined ? undefined : { text, ids: p };
  };
  // A flat array of integers is one tokenised prompt, any other array is a batch.
  const items: unknown[] = Array.isArray(prompt) && !isIds(prompt) ? prompt : [prompt];
  const prompts = items.map(one);
  if (items.length === 0 || prompts.some((p) => p === undefined)) {
    return "Invalid 'prompt': expected a string, an array of strings, or token ids from the vocabulary.";
  }
  return prompts.filter((p): p is LegacyPrompt => p !== undefined);
}

interface LegacyChoice extends ChoiceOutput {
  prompt: LegacyPrompt;
}

async function handleCompletions(call: LlmCall): Promise<void> {
  const { res, body, index } = call;
  const prompts = legacyPrompts(body.prompt);
  if (typeof prompts === "string") {
    return sendOpenAiError(res, 400, prompts, undefined, body.prompt === undefined ? "missing_required_parameter" : "invalid_value");
  }

  const n = positiveInt(body.n) ?? 1;
  const maxTokens = positiveInt(body.max_tokens);
  // Each prompt of a batch is answered on its own (same index, its own lastUserText), like a real
  // server: the default responder thus echoes each prompt. Choice k*n+i belongs to prompt k.
  const choices: LegacyChoice[] = [];
  for (const prompt of prompts) {
    const reply = await call.ask(prompt.text);
    if ("error" in reply) return sendErrorReply(call, reply);
    // Legacy completions have no tool calls: a scripted tool call is generated as its rendered text.
    const asText: TextReply = "toolCalls" in reply
      ? { text: (reply.text ?? "") + reply.toolCalls.map((c) => renderToolCall(c.name, serializeArguments(c.arguments))).join("") }
      : reply;
    for (let i = 0; i < n; i++) choices.push({ ...resolveChoice(asText, i, () => "", maxTokens), prompt });
  }
  if (dropForFault(call)) return;

  const promptTokens = prompts.reduce((sum, p) => sum + p.ids.length, 0);
  const completionTokens = choices.reduce((sum, c) => sum + c.ids.length, 0);
  const usage = { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
  const options = {
    returnTokenIds: body.return_token_ids === true,
    logprobs: nonNegativeInt(body.logprobs),
  };
  const base = {
    id: `cmpl-${index}`,
    object: "text_completion",
    created: MOCK_EPOCH + index,
    model: modelOf(body),
    system_fingerprint: "fp_mock",
  };
  const finish = (c: ChoiceOutput) => (c.truncated ? "length" : "stop");

  if (body.stream !== true) {
    return sendJson(
      res,
      200,
      {
        ...base,
        choices: choices.map((c, i) => ({
          index: i,
          text: c.text,
          logprobs: options.logprobs === undefined ? null : legacyLogprobs(c.ids, options.logprobs, 0),
          finish_reason: finish(c),
          // vLLM puts both id lists on each choice of a legacy completion.
          ...(options.returnTokenIds ? { prompt_token_ids: c.prompt.ids, token_ids: c.ids } : {}),
        })),
        usage,
      },
      `req_${index}`,
    );
  }

  const sse = openStream(call);
  const includeUsage = includeUsageInStream(body);
  choices.forEach((c, i) => {
    let first = true;
    let offset = 0;
    const emit = (text: string, ids: number[], finishReason: string | null) => {
      sse.data({
        ...base,
        choices: [
          {
            index: i,
            text,
            logprobs: options.logprobs === undefined || ids.length === 0 ? null : legacyLogprobs(ids, options.logprobs, offset),
            finish_reason: finishReason,
            // vLLM: the first chunk of each choice carries its prompt ids; every chunk its own ids.
            ...(options.returnTokenIds ? { ...(first ? { prompt_token_ids: c.prompt.ids } : {}), token_ids: ids } : {}),
          },
        ],
        ...(includeUsage ? { usage: null } : {}),
      });
      first = false;
      offset += text.length;
    };
    for (const segment of c.segments) emit(segment.text, segment.ids, null);
    emit("", [], finish(c));
  });
  if (includeUsage) sse.data({ ...base, choices: [], usage });
  sse.done();
  sse.end();
}

/** The legacy logprobs shape; `textOffset` is where these tokens start in the choice's text. */
function legacyLogprobs(ids: number[], k: number, textOffset: number): Record<string, unknown> {
  const tokens: string[] = [];
  const offsets: number[] = [];
  let offset = textOffset;
  for (const id of ids) {
    const token = describeToken(id, 0).token;
    tokens.push(token);
    offsets.push(offset);
    offset += token.length;
  }
  return {
    tokens,
    token_logprobs: ids.map(tokenLogprob),
    top_logprobs: ids.map((id) => Object.fromEntries(topTokens(id, k).map((t) => [t.token, t.logprob]))),
    text_offset: offsets,
  };
}

// ---------------------------------------------------------------------------------------------
// POST /v1/responses
// ---------------------------------------------------------------------------------------------

async function handleResponses(call: LlmCall): Promise<void> {
  const { res, body, index } = call;
  if (body.input === undefined && body.instructions === undefined) {
    return sendOpenAiError(res, 400, "Missing required parameter: 'input'.", undefined, "missing_required_parameter");
  }
  const turns = responsesTurns(body);
  const reply = await call.ask(lastUserText(turns));
  if ("error" in reply) return sendErrorReply(call, reply);
  if (dropForFault(call)) return;

  const output = resolveChoice(reply, 0, (j) => `call_${index}_0_${j}`, positiveInt(body.max_output_tokens));
  const promptIds = tokenize(renderPrompt(turns, body.tools));
  if (body.stream === true) streamResponse(call, output, promptIds.length);
  else sendJson(res, 200, responseObject(call, output, promptIds.length, "final"), `req_${index}`);
}

/** Whether the client asked for output-text logprobs (`include: ["message.output_text.logprobs"]`). */
function responsesTopLogprobs(body: Record<string, unknown>): number | undefined {
  const wanted = Array.isArray(body.include) && body.include.includes("message.output_text.logprobs");
  return wanted ? (nonNegativeInt(body.top_logprobs) ?? 0) : undefined;
}

function messageItemId(call: LlmCall): string {
  return `msg_${call.index}`;
}

function functionItemId(call: LlmCall, j: number): string {
  return `fc_${call.index}_${j}`;
}

function outputTextPart(call: LlmCall, output: ChoiceOutput, text: string): Record<string, unknown> {
  const topK = responsesTopLogprobs(call.body);
  const textIds = output.segments.flatMap((s) => s.ids);
  const logprobs = topK === undefined || text === "" ? [] : logprobEntries(textIds, topK);
  return { type: "output_text", text, annotations: [], logprobs };
}

/** A message item is produced when there is text, or when there is nothing else to produce. */
function hasMessageItem(output: ChoiceOutput): boolean {
  return output.text !== "" || output.toolCalls.length === 0;
}

function messageItem(call: LlmCall, output: ChoiceOutput, done: boolean): Record<string, unknown> {
  return {
    id: messageItemId(call),
    type: "message",
    status: done ? (output.truncated ? "incomplete" : "completed") : "in_progress",
    role: "assistant",
    content: done ? [outputTextPart(call, output, output.text)] : [],
  };
}

function functionCallItem(call: LlmCall, tc: ResolvedToolCall, j: number, done: boolean): Record<string, unknown> {
  return {
    id: functionItemId(call, j),
    type: "function_call",
    status: done ? "completed" : "in_progress",
    call_id: tc.id,
    name: tc.name,
    arguments: done ? tc.arguments : "",
  };
}

/**
 * The Response object. `stage` "initial" is the in-progress snapshot sent in response.created /
 * response.in_progress (no output, no usage); "final" is the completed (or incomplete) response.
 */
function responseObject(
  call: LlmCall,
  output: ChoiceOutput,
  inputTokens: number,
  stage: "initial" | "final",
): Record<string, unknown> {
  const { body, index } = call;
  const final = stage === "final";
  const items = [
    ...(hasMessageItem(output) ? [messageItem(call, output, true)] : []),
    ...output.toolCalls.map((tc, j) => functionCallItem(call, tc, j, true)),
  ];
  return {
    id: `resp_${index}`,
    object: "response",
    created_at: MOCK_EPOCH + index,
    status: final ? (output.truncated ? "incomplete" : "completed") : "in_progress",
    background: false,
    completed_at: final && !output.truncated ? MOCK_EPOCH + index : null,
    error: null,
    incomplete_details: final && output.truncated ? { reason: "max_output_tokens" } : null,
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    max_tool_calls: body.max_tool_calls ?? null,
    model: modelOf(body),
    output: final ? items : [],
    parallel_tool_calls: body.parallel_tool_calls ?? true,
    previous_response_id: body.previous_response_id ?? null,
    prompt_cache_key: body.prompt_cache_key ?? null,
    reasoning: body.reasoning ?? { effort: null, summary: null },
    safety_identifier: null,
    service_tier: "default",
    store: body.store ?? true,
    temperature: body.temperature ?? 1,
    text: body.text ?? { format: { type: "text" }, verbosity: "medium" },
    tool_choice: body.tool_choice ?? "auto",
    tools: body.tools ?? [],
    top_logprobs: body.top_logprobs ?? 0,
    top_p: body.top_p ?? 1,
    truncation: body.truncation ?? "disabled",
    usage: final
      ? {
          input_tokens: inputTokens,
          input_tokens_details: { cached_tokens: 0 },
          output_tokens: output.ids.length,
          output_tokens_details: { reasoning_tokens: 0 },
          total_tokens: inputTokens + output.ids.length,
        }
      : null,
    user: body.user ?? null,
    metadata: body.metadata ?? {},
  };
}

/** The Responses streaming event sequence, each event numbered with `sequence_number`. */
function streamResponse(call: LlmCall, output: ChoiceOutput, inputTokens: number): void {
  const sse = openStream(call);
  let sequence = 0;
  const emit = (type: string, fields: Record<string, unknown>) => sse.event(type, { type, ...fields, sequence_number: sequence++ });
  const initial = responseObject(call, output, inputTokens, "initial");
  const topK = responsesTopLogprobs(call.body);

  emit("response.created", { response: initial });
  emit("response.in_progress", { response: initial });

  let outputIndex = 0;
  if (hasMessageItem(output)) {
    const itemId = messageItemId(call);
    const at = { item_id: itemId, output_index: outputIndex, content_index: 0 };
    emit("response.output_item.added", { output_index: outputIndex, item: messageItem(call, output, false) });
    emit("response.content_part.added", { ...at, part: { type: "output_text", text: "", annotations: [], logprobs: [] } });
    for (const segment of output.segments) {
      const logprobs = topK === undefined ? [] : logprobEntries(segment.ids, topK);
      emit("response.output_text.delta", { ...at, delta: segment.text, logprobs });
    }
    const part = outputTextPart(call, output, output.text);
    emit("response.output_text.done", { ...at, text: output.text, logprobs: part.logprobs });
    emit("response.content_part.done", { ...at, part });
    emit("response.output_item.done", { output_index: outputIndex, item: messageItem(call, output, true) });
    outputIndex++;
  }
  output.toolCalls.forEach((tc, j) => {
    const at = { item_id: functionItemId(call, j), output_index: outputIndex };
    emit("response.output_item.added", { output_index: outputIndex, item: functionCallItem(call, tc, j, false) });
    for (const piece of argumentPieces(tc.arguments)) emit("response.function_call_arguments.delta", { ...at, delta: piece });
    emit("response.function_call_arguments.done", { ...at, name: tc.name, arguments: tc.arguments });
    emit("response.output_item.done", { output_index: outputIndex, item: functionCallItem(call, tc, j, true) });
    outputIndex++;
  });
  const final = responseObject(call, output, inputTokens, "final");
  emit(output.truncated ? "response.incomplete" : "response.completed", { response: final });
  sse.end();
}

// ---------------------------------------------------------------------------------------------
// POST /v1/messages (Anthropic)
// ---------------------------------------------------------------------------------------------

interface AnthropicBlock {
  start: Record<string, unknown>;
  full: Record<string, unknown>;
  deltas: Array<Record<string, unknown>>;
}

async function handleAnthropicMessages(call: LlmCall): Promise<void> {
  const { res, body, index } = call;
  if (!Array.isArray(body.messages)) return sendAnthropicError(res, 400, "messages: Field required");
  const maxTokens = positiveInt(body.max_tokens);
  if (maxTokens === undefined) return sendAnthropicError(res, 400, "max_tokens: Field required");

  const turns = anthropicTurns(body);
  const reply = await call.ask(lastUserText(turns));
  if ("error" in reply) return sendErrorReply(call, reply);
  if (dropForFault(call)) return;

  const output = resolveChoice(reply, 0, (j) => `toolu_${index}_${j}`, maxTokens);
  const inputTokens = tokenize(renderPrompt(turns, body.tools)).length;
  const stopReason = output.toolCalls.length > 0 ? "tool_use" : output.truncated ? "max_tokens" : "end_turn";

  // Each content block with its streaming form: the start event's block and its deltas.
  const blocks: AnthropicBlock[] = [];
  if (output.text !== "" || output.toolCalls.length === 0) {
    blocks.push({
      start: { type: "text", text: "" },
      full: { type: "text", text: output.text },
      deltas: output.segments.map((s) => ({ type: "text_delta", text: s.text })),
    });
  }
  for (const tc of output.toolCalls) {
    // Anthropic's tool input is an object; compact JSON keeps streamed partial_json == arguments.
    const input = parseJsonObject(tc.arguments);
    const json = JSON.stringify(input);
    blocks.push({
      start: { type: "tool_use", id: tc.id, name: tc.name, input: {} },
      full: { type: "tool_use", id: tc.id, name: tc.name, input },
      deltas: argumentPieces(json).map((piece) => ({ type: "input_json_delta", partial_json: piece })),
    });
  }
  const message = {
    id: `msg_${index}`,
    type: "message",
    role: "assistant",
    model: modelOf(body),
    content: blocks.map((b) => b.full),
    stop_reason: stopReason,
    stop_sequence: null,
    usage: { input_tokens: inputTokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: output.ids.length },
  };
  if (body.stream !== true) return sendJson(res, 200, message);

  const sse = openStream(call);
  const emit = (type: string, fields: Record<string, unknown> = {}) => sse.event(type, { type, ...fields });
  emit("message_start", {
    message: { ...message, content: [], stop_reason: null, usage: { ...message.usage, output_tokens: 1 } },
  });
  emit("ping");
  blocks.forEach((block, i) => {
    emit("content_block_start", { index: i, content_block: block.start });
    for (const delta of block.deltas) emit("content_block_delta", { index: i, delta });
    emit("content_block_stop", { index: i });
  });
  emit("message_delta", { delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: output.ids.length } });
  emit("message_stop");
  sse.end();
}

function parseJsonObject(text: string): Record<string, unknown> {
  const parsed = parseJson(text);
  return parsed.ok && isRecord(parsed.value) ? parsed.value : {};
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
