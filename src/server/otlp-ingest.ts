/**
 * OTLP/HTTP trace ingest: `POST /v1/traces` on the store server, so any OpenTelemetry SDK, in any
 * language, writes spans straight into a rollout — point its OTLP/HTTP exporter at the server and
 * put `tracetrain.rollout_id` and `tracetrain.attempt_id` on its resource (or on each span).
 *
 * Accepts `application/x-protobuf` and `application/json`, each optionally gzip-compressed. A
 * request that cannot be read is a 400 (413 when it is, or inflates to, too much); a readable one
 * is a 200 whose spans are judged one by one: those without ids, that the span schema rejects or
 * that name an attempt the store does not know are left out and reported through OTLP's partial
 * success (`rejected_spans`, `error_message`), in the request's own encoding. The rest are stored.
 * The store skips span ids an attempt already has, so an exporter's retry stores nothing twice.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { promisify } from "node:util";
import { gunzip } from "node:zlib";
import type { AddSpansResult, JsonObject, JsonValue, ParsedSpanInput, SpanInput } from "../types/index.js";
import { NotFoundError, TracetrainError, ValidationError, parseSpanBatch } from "../types/index.js";
import { type Store, Routes } from "../store/index.js";
import { Attr } from "../types/index.js";
import type { DecodedResourceSpans, DecodedSpan } from "../otlp/index.js";
import { decodeTraceRequestJson, decodeTraceRequestProtobuf, encodeTraceResponseProtobuf, traceResponseJson } from "../otlp/index.js";
import type { Route, RouteContext } from "../http/index.js";
import { type OtlpIngestOptions, parseOtlpIngestOptions } from "./options.js";

/** What one request came to. */
export interface OtlpIngestOutcome {
  /** Spans in the request. */
  received: number;
  /** Spans stored now. */
  added: number;
  /** Spans the store already had (an exporter's retry). */
  duplicates: number;
  /** Spans left out, and why (the first few reasons). */
  rejected: number;
  errorMessage: string;
}

type Encoding = "protobuf" | "json";

const inflate = promisify(gunzip);

/** The `POST /v1/traces` route; `startStoreServer` serves one by default. */
export function createOtlpIngestRoute(store: Store, options: OtlpIngestOptions = {}): Route {
  const { maxDecompressedBytes } = parseOtlpIngestOptions(options);
  return {
    method: Routes.otlpTraces.method,
    path: Routes.otlpTraces.path,
    async handle(request: IncomingMessage, response: ServerResponse, body: Buffer, context: RouteContext): Promise<void> {
      const encoding = encodingOf(request.headers["content-type"]);
      const bytes = await decompress(body, request.headers["content-encoding"], maxDecompressedBytes ?? context.bodyLimitBytes);
      const resources = encoding === "protobuf" ? decodeTraceRequestProtobuf(bytes) : decodeTraceRequestJson(parseJson(bytes));
      const outcome = await ingestSpans(store, resources);
      context.metrics.spansIngested += outcome.added;
      context.metrics.otlpSpansRejected += outcome.rejected;
      if (encoding === "protobuf") {
        const answer = encodeTraceResponseProtobuf(outcome.rejected, outcome.errorMessage);
        response.writeHead(200, { "content-type": "application/x-protobuf", "content-length": answer.length }).end(answer);
      } else {
        const answer = JSON.stringify(traceResponseJson(outcome.rejected, outcome.errorMessage));
        response.writeHead(200, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(answer) }).end(answer);
      }
    },
  };
}

/**
 * Stores decoded OTLP spans: each gets its rollout and attempt from its attributes or its
 * resource's and is validated alone, so one bad span costs only itself.
 */
export async function ingestSpans(store: Store, resources: readonly DecodedResourceSpans[]): Promise<OtlpIngestOutcome> {
  const rejections = new Rejections();
  const byAttempt = new Map<string, ParsedSpanInput[]>();
  let received = 0;
  for (const resource of resources) {
    for (const decoded of resource.spans) {
      received++;
      if ("problem" in decoded) {
        rejections.add(1, decoded.problem);
        continue;
      }
      const span = assemble(decoded, resource.attributes);
      if (typeof span === "string") {
        rejections.add(1, `span ${label(decoded)}: ${span}`);
        continue;
      }
      let parsed: ParsedSpanInput;
      try {
        parsed = parseSpanBatch([span])[0]!;
      } catch (error) {
        if (!(error instanceof ValidationError)) throw error;
        rejections.add(1, `span ${label(decoded)}: ${describeIssue(error)}`);
        continue;
      }
      const key = `${parsed.rolloutId}\u0000${parsed.attemptId}`;
      const group = byAttempt.get(key);
      if (group) group.push(parsed);
      else byAttempt.set(key, [parsed]);
    }
  }
  const stored = await storeGroups(store, [...byAttempt.values()], rejections);
  return { received, ...stored, rejected: rejections.count, errorMessage: rejections.message(received) };
}

/**
 * The span in our schema, or why it has no rollout or attempt. Resource attributes are kept on
 * every span of the resource (the span's own win a shared key), and so are the ids: they are
 * how the sender described the span, and the record should say so.
 */
function assemble(decoded: DecodedSpan, resource: JsonObject): SpanInput | string {
  const attributes = decoded.attributes ?? {};
  const merged = Object.keys(resource).length === 0 ? attributes : { ...resource, ...attributes };
  const rolloutId = merged[Attr.rolloutId];
  const attemptId = merged[Attr.attemptId];
  if (rolloutId === undefined || attemptId === undefined) {
    const missing = rolloutId === undefined && attemptId === undefined ? `${Attr.rolloutId} or ${Attr.attemptId}` : rolloutId === undefined ? Attr.rolloutId : Attr.attemptId;
    return `no ${missing} attribute (set it on the span or on its resource)`;
  }
  if (typeof rolloutId !== "string") return `${Attr.rolloutId} must be a string, got ${kindOf(rolloutId)}`;
  if (typeof attemptId !== "string") return `${Attr.attemptId} must be a string, got ${kindOf(attemptId)}`;
  return { ...decoded, rolloutId, attemptId, attributes: merged };
}

/**
 * Stores all groups (one per attempt) in one call. The store takes a batch all or nothing, so if
 * it refuses (an attempt it does not know), each group is stored alone and only the refused ones
 * are rejected; a group refused as invalid (a value one backend cannot hold) is split into spans.
 */
async function storeGroups(store: Store, groups: ParsedSpanInput[][], rejections: Rejections): Promise<AddSpansResult> {
  if (groups.length === 0) return { added: 0, duplicates: 0 };
  let refusal: NotFoundError | ValidationError;
  try {
    return await store.addSpans(groups.length === 1 ? groups[0]! : groups.flat());
  } catch (error) {
    if (!isRefusal(error)) throw error;
    refusal = error;
  }
  const total: AddSpansResult = { added: 0, duplicates: 0 };
  for (const group of groups) {
    const result = groups.length === 1 ? await settle(store, group, refusal, rejections) : await storeAlone(store, group, rejections);
    total.added += result.added;
    total.duplicates += result.duplicates;
  }
  return total;
}

async function storeAlone(store: Store, spans: ParsedSpanInput[], rejections: Rejections): Promise<AddSpansResult> {
  try {
    return await store.addSpans(spans);
  } catch (error) {
    if (!isRefusal(error)) throw error;
    return settle(store, spans, error, rejections);
  }
}

/** What is left of a group the store refused: nothing if its attempt is unknown, else each span that it takes alone. */
async function settle(store: Store, spans: ParsedSpanInput[], refusal: NotFoundError | ValidationError, rejections: Rejections): Promise<AddSpansResult> {
  if (refusal instanceof NotFoundError || spans.length === 1) {
    rejections.add(spans.length, refusal instanceof NotFoundError ? refusal.message : `span ${label(spans[0]!)}: ${describeIssue(refusal)}`);
    return { added: 0, duplicates: 0 };
  }
  const total: AddSpansResult = { added: 0, duplicates: 0 };
  for (const span of spans) {
    const result = await storeAlone(store, [span], rejections);
    total.added += result.added;
    total.duplicates += result.duplicates;
  }
  return total;
}

function isRefusal(error: unknown): error is NotFoundError | ValidationError {
  return error instanceof NotFoundError || error instanceof ValidationError;
}

const MAX_REASONS = 5;
const MAX_REASON_LENGTH = 300;

/** Counts rejected spans and keeps the first few reasons, so a hostile request cannot make a huge answer. */
class Rejections {
  count = 0;
  private readonly reasons: string[] = [];
  private omitted = 0;

  add(spans: number, reason: string): void {
    this.count += spans;
    if (this.reasons.length >= MAX_REASONS) {
      this.omitted++;
      return;
    }
    const text = reason.length > MAX_REASON_LENGTH ? `${reason.slice(0, MAX_REASON_LENGTH)}…` : reason;
    this.reasons.push(spans > 1 ? `${spans} spans: ${text}` : text);
  }

  message(received: number): string {
    if (this.count === 0) return "";
    const more = this.omitted > 0 ? `; and ${this.omitted} more` : "";
    return `${this.count} of ${received} span${received === 1 ? "" : "s"} rejected: ${this.reasons.join("; ")}${more}`;
  }
}

/** `'name' (span id)`, short enough for a message. */
function label(span: { name?: string; spanId: string }): string {
  const name = span.name ?? "";
  return `'${name.length > 60 ? `${name.slice(0, 60)}…` : name}' (${span.spanId.slice(0, 32) || "no span id"})`;
}

/** The first issue of a one-span validation, without the batch index the span parser puts first. */
function describeIssue(error: ValidationError): string {
  const issue = error.issues[0];
  if (!issue) return error.message;
  const path = issue.path.replace(/^\[0\]\.?/, "");
  return path ? `${path}: ${issue.message}` : issue.message;
}

function kindOf(value: JsonValue): string {
  return value === null ? "null" : Array.isArray(value) ? "an array" : typeof value;
}

// ---- the HTTP envelope ------------------------------------------------------------------------

/** The body's encoding from its content type (parameters such as `charset` ignored). */
function encodingOf(header: string | undefined): Encoding {
  const type = (header ?? "").split(";")[0]!.trim().toLowerCase();
  if (type === "application/x-protobuf" || type === "application/protobuf") return "protobuf";
  if (type === "application/json") return "json";
  const got = header === undefined ? "none" : JSON.stringify(header.slice(0, 100));
  throw new ValidationError("OTLP request", [{ path: "content-type", message: `expected application/x-protobuf or application/json, got ${got}` }]);
}

/**
 * The body, inflated if it is gzip. The limit applies to the inflated size and stops inflating
 * the moment it is passed: a small body that would inflate to gigabytes (a zip bomb) costs at
 * most `limit` bytes of memory and gets 413.
 */
async function decompress(body: Buffer, header: string | undefined, limit: number): Promise<Buffer> {
  const coding = (header ?? "").trim().toLowerCase();
  if (coding === "" || coding === "identity") return body;
  if (coding !== "gzip" && coding !== "x-gzip") {
    throw new ValidationError("OTLP request", [{ path: "content-encoding", message: `expected gzip or none, got ${JSON.stringify(coding.slice(0, 100))}` }]);
  }
  try {
    return await inflate(body, { maxOutputLength: limit });
  } catch (error) {
    const code = typeof error === "object" && error !== null && "code" in error ? error.code : undefined;
    if (code === "ERR_BUFFER_TOO_LARGE") {
      throw new TracetrainError("payload_too_large", `gzip body inflates to more than ${limit} bytes; export smaller batches`);
    }
    throw new ValidationError("OTLP request", [{ path: "body", message: `not valid gzip (${error instanceof Error ? error.message : String(error)})` }]);
  }
}

function parseJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString("utf8"));
  } catch (error) {
    throw new ValidationError("OTLP request", [{ path: "body", message: `not valid JSON (${(error as Error).message})` }]);
  }
}
