/**
 * Records the calls the gateway forwards as LLM-call spans, in the same shape the in-process
 * tracer writes (so adapters read both alike), and delivers them to the store in batches.
 */
import { ActiveSpan } from "../tracer/index.js";
import { Attr, SpanTypes, llmSpanName } from "../types/index.js";
import { nowMs } from "../types/index.js";
import type { LlmRequest, LlmResponse } from "../llm/index.js";
import { recordLlmRequest, recordLlmResponse } from "../tracer/index.js";
import { SpanBuffer, type SpanSink } from "../tracer/index.js";
import { TraceState } from "../tracer/index.js";
import type { Logger } from "../types/index.js";
import type { Scope } from "./scope.js";

export interface CallDetails {
  scope: Scope;
  request: LlmRequest;
  /** The W3C `traceparent` the client sent, if any: the call then joins the client's trace. */
  traceparent: string | undefined;
}

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;
const ZERO_TRACE = "0".repeat(32);
const ZERO_SPAN = "0".repeat(16);

export class CallRecorder {
  private readonly buffer: SpanBuffer;
  private reportedDrops = 0;

  constructor(
    sink: SpanSink,
    private readonly logger: Logger,
  ) {
    this.buffer = new SpanBuffer(sink, { batchSize: 256, flushIntervalMs: 100, retryDelaysMs: [100, 500, 2000, 5000] });
  }

  /** Starts the span of one call, with what is known of its request so far (see {@link describe}). */
  start(details: CallDetails): ActiveSpan {
    const parent = parseTraceparent(details.traceparent);
    const trace = new TraceState({ rolloutId: details.scope.rolloutId, attemptId: details.scope.attemptId }, this.buffer, false, parent?.traceId);
    const span = new ActiveSpan(trace, llmSpanName(details.request.operation, details.request.model), parent?.spanId ?? null, "client", nowMs());
    span.setAttribute(Attr.layer, "gateway").setAttribute(Attr.spanType, SpanTypes.llm);
    if (details.scope.agentName !== undefined) span.setAttribute(Attr.agentName, details.scope.agentName);
    recordLlmRequest(span, details.request);
    return span;
  }

  /**
   * Records the call's request as it goes upstream, naming the span after its operation and model,
   * with the version of the policy that will answer it.
   */
  describe(span: ActiveSpan, request: LlmRequest, policyVersion: string | number | undefined): void {
    span.updateName(llmSpanName(request.operation, request.model));
    if (policyVersion !== undefined) span.setAttribute(Attr.policyVersion, policyVersion);
    recordLlmRequest(span, request);
  }

  /** Records a response and ends the span; a call without exact token ids is marked text-only. */
  finish(span: ActiveSpan, response: LlmResponse): void {
    if (!response.choices.some((c) => c.tokenIds !== undefined)) span.setAttribute(Attr.textOnly, true);
    recordLlmResponse(span, response);
    this.reportDrops();
  }

  /**
   * Resolves once the spans ended so far are in the store (or given up on, which is logged): the
   * gateway finishes an answer only then, so a rollout completed after its agent's last call never
   * misses that call. Concurrent callers share one delivery.
   */
  stored(): Promise<void> {
    return this.buffer.flushShared().then(() => this.reportDrops());
  }

  /** Delivers every span ended so far. */
  flush(): Promise<void> {
    return this.buffer.flush().then(() => this.reportDrops());
  }

  private reportDrops(): void {
    const { dropped, errors } = this.buffer.stats;
    if (dropped > this.reportedDrops) {
      this.logger.error(`the gateway could not deliver ${dropped - this.reportedDrops} call span(s) to the store`, { errors });
      this.reportedDrops = dropped;
    }
  }
}

function parseTraceparent(header: string | undefined): { traceId: string; spanId: string } | undefined {
  const match = header === undefined ? null : TRACEPARENT.exec(header.trim());
  if (!match || match[1] === ZERO_TRACE || match[2] === ZERO_SPAN) return undefined;
  return { traceId: match[1]!, spanId: match[2]! };
}
