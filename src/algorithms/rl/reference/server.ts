/**
 * The reference model served as an OpenAI-compatible endpoint (`POST /v1/chat/completions`,
 * `GET /v1/models`) with vLLM's extensions: `return_token_ids: true` adds the prompt's token ids
 * (top level) and each choice's `token_ids`; `logprobs: true` adds OpenAI-shaped per-token
 * logprobs with `top_logprobs` alternatives; `top_k` is accepted as vLLM does. A response is what
 * the grammar (grammar.ts) lets the policy write: an answer (one of the actions) or one tool call,
 * sampled choice point by choice point with the request's temperature, top-p and top-k.
 *
 * Reported logprobs are, per token, the logprob of the choice it carries (0 for forced tokens):
 * `processed` (the default) is the distribution actually sampled from, as vLLM's
 * `--logprobs-mode processed_logprobs`; `raw` is the policy's own at temperature 1.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { z } from "zod";
import { ValidationError } from "../../../types/index.js";
import { formatPath } from "../../../types/index.js";
import { SeededRandom, randomFor } from "../../../util/index.js";
import { RequestMessageSchema, encodeChat, tokenBytes, tokenText } from "./chat-template.js";
import type { Grammar, Walk } from "./grammar.js";
import { type Parameters, type Settings, logSoftmax, processedLogProbs, sampleFrom } from "./policy.js";

/** What the server samples from; the backend's live policy stands behind it. */
export interface ServedModel {
  readonly name: string;
  readonly grammar: Grammar;
  /** The parameters serving now (swapped whole when an update is ready, never changed in place). */
  parameters(): Parameters;
  readonly logprobsMode: "raw" | "processed";
  /** Seeds the sampling of requests that bring no `seed` of their own. */
  readonly seed: number;
  /** The current policy version, shown as `system_fingerprint`. */
  policyVersion(): number;
}

export interface ReferenceServerOptions {
  model: ServedModel;
  host: string;
  port: number;
}

export interface ReferenceServer {
  /** `http://host:port` */
  readonly url: string;
  /** `url + "/v1"` */
  readonly baseUrl: string;
  close(): Promise<void>;
}

const BODY_LIMIT_BYTES = 16 * 1024 * 1024;
const MAX_TOP_LOGPROBS = 20;

const ToolSchema = z.looseObject({
  type: z.literal("function"),
  function: z.looseObject({ name: z.string().min(1), parameters: z.record(z.string(), z.unknown()).optional() }),
});

const ToolChoiceSchema = z.union([
  z.enum(["none", "auto", "required"]),
  z.looseObject({ type: z.literal("function"), function: z.looseObject({ name: z.string().min(1) }) }),
]);

/** The chat completion request fields this server reads; anything else is accepted and ignored, as vLLM does. */
const ChatRequestSchema = z.looseObject({
  model: z.string().min(1),
  messages: z.array(RequestMessageSchema).min(1),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  /** vLLM's extension; 0 or −1: no limit. */
  top_k: z.number().int().min(-1).nullish(),
  n: z.number().int().min(1).max(128).nullish(),
  seed: z.number().int().nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().min(0).max(MAX_TOP_LOGPROBS).nullish(),
  return_token_ids: z.boolean().nullish(),
  max_tokens: z.number().int().min(1).nullish(),
  max_completion_tokens: z.number().int().min(1).nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().nullish() }).nullish(),
  tools: z.array(ToolSchema).nullish(),
  tool_choice: ToolChoiceSchema.nullish(),
});
type ChatRequest = z.infer<typeof ChatRequestSchema>;

export async function startReferenceServer(options: ReferenceServerOptions): Promise<ReferenceServer> {
  const state: ServerState = { model: options.model, requests: 0, seen: new Map(), seenVersion: options.model.policyVersion() };
  const server = createServer((req, res) => {
    handle(state, req, res).catch((error: unknown) => failHard(res, error));
  });
  // Above undici's 4 s idle threshold, so clients keep reusing their connections.
  server.keepAliveTimeout = 10_000;
  await listen(server, options.host, options.port);
  const { port } = server.address() as AddressInfo;
  const url = `http://${options.host.includes(":") ? `[${options.host}]` : options.host}:${port}`;
  return {
    url,
    baseUrl: `${url}/v1`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

interface ServerState {
  model: ServedModel;
  /** Counter behind response and tool-call ids. */
  requests: number;
  /** How many requests of each kind (policy version, prompt, sampling) came before, under the current policy version. */
  seen: Map<string, number>;
  seenVersion: number;
}

/** An answer other than 200, in OpenAI's error format. */
class HttpFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
  }
}

async function handle(state: ServerState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const method = req.method ?? "GET";
  const path = (req.url ?? "/").split("?")[0] ?? "/";
  try {
    if (method === "GET" && path === "/v1/models") return sendJson(res, 200, { object: "list", data: [modelCard(state.model)] });
    if (method === "GET" && path === `/v1/models/${encodeURIComponent(state.model.name)}`) return sendJson(res, 200, modelCard(state.model));
    // The exact message OpenAI gives for a route it does not have.
    if (method !== "POST" || path !== "/v1/chat/completions") throw new HttpFailure(404, `Invalid URL (${method} ${path})`);
    const request = parseRequest(await readJson(req));
    if (request.model !== state.model.name) throw new HttpFailure(404, `The model \`${request.model}\` does not exist.`, "model", "model_not_found");
    const completion = complete(state, request);
    if (request.stream === true) streamCompletion(res, completion, request);
    else sendJson(res, 200, completionBody(completion, request));
  } catch (error) {
    if (error instanceof HttpFailure) return sendError(res, error.status, error.message, error.param, error.code);
    if (error instanceof ValidationError) {
      const issue = error.issues[0];
      return sendError(res, 400, issue?.message ?? error.message, issue?.path || null, issue?.path ? codeOf(error) : null);
    }
    throw error;
  }
}

function modelCard(model: ServedModel): Record<string, unknown> {
  return { id: model.name, object: "model", created: 0, owned_by: "tracetrain" };
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      // Past the limit the rest is read and dropped, so the 413 still reaches the client.
      if (size <= BODY_LIMIT_BYTES) chunks.push(chunk);
    });
    req.on("end", () => {
      if (size > BODY_LIMIT_BYTES) {
        reject(new HttpFailure(413, `Request body too large (more than ${BODY_LIMIT_BYTES} bytes).`));
        return;
      }
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown);
      } catch {
        // OpenAI's own wording for a body it cannot parse.
        reject(new HttpFailure(400, "We could not parse the JSON body of your request. The API expects a JSON object payload."));
      }
    });
    req.on("error", reject);
  });
}

/** The validated request, or a ValidationError whose first issue names the parameter in OpenAI's words. */
function parseRequest(body: unknown): ChatRequest {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new HttpFailure(400, "We could not parse the JSON body of your request. The API expects a JSON object payload.");
  }
  const result = ChatRequestSchema.safeParse(body);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const param = formatPath(issue.path);
    const missing = valueAt(body, issue.path) === undefined;
    const message = missing ? `Missing required parameter: '${param}'.` : `Invalid '${param}': ${issue.message}.`;
    throw new ValidationError("chat completion request", [{ path: param, message }]);
  }
  const request = result.data;
  if (request.top_logprobs !== undefined && request.top_logprobs !== null && request.logprobs !== true) {
    throw new ValidationError("chat completion request", [{ path: "top_logprobs", message: "Invalid 'top_logprobs': it requires 'logprobs' to be true." }]);
  }
  return request;
}

function valueAt(body: unknown, path: readonly PropertyKey[]): unknown {
  let value: unknown = body;
  for (const key of path) {
    if (typeof value !== "object" || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

function codeOf(error: ValidationError): string {
  return error.issues[0]?.message.startsWith("Missing required") ? "missing_required_parameter" : "invalid_value";
}

// ---------------------------------------------------------------------------------------------
// Sampling
// ---------------------------------------------------------------------------------------------

interface TokenLogprob {
  id: number;
  logprob: number;
  /** The alternatives at this token, best first, as many as `top_logprobs` asks for. */
  top: Array<{ id: number; logprob: number }>;
}

interface SampledChoice {
  ids: number[];
  tokens: TokenLogprob[];
  answer: string | undefined;
  toolCall: { id: string; name: string; arguments: string } | undefined;
}

interface Completion {
  id: string;
  created: number;
  model: string;
  fingerprint: string;
  promptIds: number[];
  choices: SampledChoice[];
}

function complete(state: ServerState, request: ChatRequest): Completion {
  const { model } = state;
  const number = state.requests++;
  const tools = request.tools ?? undefined;
  const toolChoice = request.tool_choice ?? undefined;
  checkToolChoice(request);
  const promptIds = encodeChat(request.messages, tools, toolChoice);
  const settings: Settings = { temperature: request.temperature ?? 1, topP: request.top_p ?? 1, topK: Math.max(0, request.top_k ?? 0) };
  const random = request.seed === undefined || request.seed === null ? generatorFor(state, promptIds, settings) : new SeededRandom(request.seed);
  const parameters = model.parameters();
  const context = model.grammar.context(promptIds);
  const topCount = request.logprobs === true ? (request.top_logprobs ?? 0) : 0;
  const choices = Array.from({ length: request.n ?? 1 }, (_, c): SampledChoice => {
    const reported: Array<{ at: number; logprobs: Float64Array; chosen: number; candidateIds: ReadonlyArray<readonly number[]> }> = [];
    const walk = model.grammar.walk(context, (point, candidateIds, _follow, at) => {
      const logits = parameters.logits(point);
      const processed = processedLogProbs(logits, settings);
      const chosen = sampleFrom(processed, random);
      reported.push({ at, logprobs: model.logprobsMode === "processed" ? processed : logSoftmax(logits), chosen, candidateIds });
      return chosen;
    });
    const toolCall = walk.toolCall && { id: `call_ref${number}_${c}`, ...walk.toolCall };
    return { ids: walk.ids, tokens: tokenLogprobs(walk, reported, topCount), answer: walk.answer, toolCall };
  });
  return {
    id: `chatcmpl-ref${number}`,
    created: Math.floor(Date.now() / 1000),
    model: model.name,
    fingerprint: `policy-v${model.policyVersion()}`,
    promptIds,
    choices,
  };
}

/** vLLM reports an impossible alternative's logprob as this rather than −∞ (JSON has no infinity). */
const IMPOSSIBLE_LOGPROB = -9999;

/**
 * Each response token's logprob: the sum of the choices it carries (0 when forced). Its
 * alternatives are those of the last choice at it: each candidate's first token, after the earlier
 * choices at the same token, merged when candidates share a first token.
 */
function tokenLogprobs(walk: Walk, reported: ReadonlyArray<{ at: number; logprobs: Float64Array; chosen: number; candidateIds: ReadonlyArray<readonly number[]> }>, topCount: number): TokenLogprob[] {
  const tokens: TokenLogprob[] = walk.ids.map((id) => ({ id, logprob: 0, top: [{ id, logprob: 0 }] }));
  for (const choice of reported) {
    const token = tokens[choice.at];
    if (token === undefined) continue;
    const before = token.logprob;
    token.logprob += choice.logprobs[choice.chosen]!;
    const byToken = new Map<number, number>();
    choice.candidateIds.forEach((ids, i) => {
      const first = ids[0];
      if (first === undefined || choice.logprobs[i] === -Infinity) return;
      byToken.set(first, logAdd(byToken.get(first) ?? -Infinity, choice.logprobs[i]!));
    });
    token.top = [...byToken].map(([id, lp]) => ({ id, logprob: before + lp }));
  }
  for (const token of tokens) {
    if (!token.top.some((t) => t.id === token.id)) token.top.push({ id: token.id, logprob: token.logprob });
    token.top = token.top.sort((a, b) => b.logprob - a.logprob || a.id - b.id).slice(0, topCount);
  }
  return tokens;
}

function logAdd(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  const max = Math.max(a, b);
  return max + Math.log(Math.exp(a - max) + Math.exp(b - max));
}

/**
 * The generator of a request without a seed: derived from the backend's seed, the policy version,
 * the prompt, the sampling settings, and how many identical requests came before it — not from a
 * generator shared in arrival order. Concurrent rollouts reach the server in whatever order the
 * event loop runs them; this way the samples a policy version hands out, as a set, are the same
 * in every run with the same seed, which is what makes a training run reproducible.
 */
function generatorFor(state: ServerState, promptIds: readonly number[], settings: Settings): SeededRandom {
  const version = state.model.policyVersion();
  if (version !== state.seenVersion) {
    // Older versions' counts can never be asked for again: forget them, so memory stays bounded.
    state.seen.clear();
    state.seenVersion = version;
  }
  const kind = `${version}|${settings.temperature}|${settings.topP}|${settings.topK}|${promptIds.join(",")}`;
  const occurrence = state.seen.get(kind) ?? 0;
  state.seen.set(kind, occurrence + 1);
  return randomFor(state.model.seed, `${kind}#${occurrence}`);
}

/** A `tool_choice` naming a tool must name an offered one. */
function checkToolChoice(request: ChatRequest): void {
  const choice = request.tool_choice;
  if (typeof choice !== "object" || choice === null) return;
  if ((request.tools ?? []).some((t) => t.function.name === choice.function.name)) return;
  throw new ValidationError("chat completion request", [{ path: "tool_choice", message: `Invalid 'tool_choice': no tool named '${choice.function.name}' is offered.` }]);
}

// ---------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------

function tokenInfo(id: number, logprob: number): Record<string, unknown> {
  return { token: tokenText(id), logprob: Math.max(logprob, IMPOSSIBLE_LOGPROB), bytes: tokenBytes(id) };
}

function logprobsOf(tokens: readonly TokenLogprob[], request: ChatRequest): Record<string, unknown> | null {
  if (request.logprobs !== true) return null;
  const content = tokens.map((t) => ({ ...tokenInfo(t.id, t.logprob), top_logprobs: t.top.map((a) => tokenInfo(a.id, a.logprob)) }));
  return { content, refusal: null };
}

function messageOf(choice: SampledChoice): Record<string, unknown> {
  const call = choice.toolCall;
  if (call === undefined) return { role: "assistant", content: choice.answer ?? "", refusal: null, annotations: [] };
  return {
    role: "assistant",
    content: null,
    refusal: null,
    annotations: [],
    tool_calls: [{ id: call.id, type: "function", function: { name: call.name, arguments: call.arguments } }],
  };
}

function finishReason(choice: SampledChoice): string {
  return choice.toolCall === undefined ? "stop" : "tool_calls";
}

function usageOf(completion: Completion): Record<string, number> {
  const prompt = completion.promptIds.length;
  const generated = completion.choices.reduce((sum, c) => sum + c.ids.length, 0);
  return { prompt_tokens: prompt, completion_tokens: generated, total_tokens: prompt + generated };
}

function completionBody(completion: Completion, request: ChatRequest): Record<string, unknown> {
  const tokenIds = request.return_token_ids === true;
  return {
    id: completion.id,
    object: "chat.completion",
    created: completion.created,
    model: completion.model,
    system_fingerprint: completion.fingerprint,
    // vLLM puts the prompt's ids at the top level of a chat completion.
    ...(tokenIds ? { prompt_token_ids: completion.promptIds } : {}),
    choices: completion.choices.map((choice, index) => ({
      index,
      message: messageOf(choice),
      logprobs: logprobsOf(choice.tokens, request),
      finish_reason: finishReason(choice),
      ...(tokenIds ? { token_ids: choice.ids } : {}),
    })),
    usage: usageOf(completion),
  };
}

/**
 * Server-sent events as vLLM sends them: per choice a role chunk, one chunk with the response (its
 * text or its tool call, its `token_ids` and logprobs), a finish chunk; the prompt's ids on
 * the first chunk; a usage chunk when `stream_options.include_usage`; then `[DONE]`.
 */
function streamCompletion(res: ServerResponse, completion: Completion, request: ChatRequest): void {
  const tokenIds = request.return_token_ids === true;
  const includeUsage = request.stream_options?.include_usage === true;
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
  let first = true;
  const send = (choices: unknown[], usage?: Record<string, number>) => {
    const chunk = {
      id: completion.id,
      object: "chat.completion.chunk",
      created: completion.created,
      model: completion.model,
      system_fingerprint: completion.fingerprint,
      ...(first && tokenIds ? { prompt_token_ids: completion.promptIds } : {}),
      choices,
      ...(includeUsage ? { usage: usage ?? null } : {}),
    };
    first = false;
    res.write(`data: ${JSON.stringify(chunk)}\n\n`);
  };
  const ids = (values: number[]) => (tokenIds ? { token_ids: values } : {});
  completion.choices.forEach((choice, index) => {
    const call = choice.toolCall;
    send([{ index, delta: { role: "assistant", content: call === undefined ? "" : null }, logprobs: null, finish_reason: null, ...ids([]) }]);
    const delta =
      call === undefined
        ? { content: choice.answer ?? "" }
        : { tool_calls: [{ index: 0, id: call.id, type: "function", function: { name: call.name, arguments: call.arguments } }] };
    send([{ index, delta, logprobs: logprobsOf(choice.tokens, request), finish_reason: null, ...ids(choice.ids) }]);
    send([{ index, delta: {}, logprobs: null, finish_reason: finishReason(choice), ...ids([]) }]);
  });
  if (includeUsage) send([], usageOf(completion));
  res.end("data: [DONE]\n\n");
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.destroyed) return;
  const payload = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(payload) });
  res.end(payload);
}

function sendError(res: ServerResponse, status: number, message: string, param: string | null, code: string | null): void {
  const type = status >= 500 ? "server_error" : "invalid_request_error";
  sendJson(res, status, { error: { message, type, param, code } });
}

/** A bug in a handler fails its request, never the process. */
function failHard(res: ServerResponse, error: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendError(res, 500, `reference server error: ${error instanceof Error ? error.message : String(error)}`, null, null);
}
