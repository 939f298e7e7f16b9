/**
 * The Vercel AI SDK 7 (`ai`), through its diagnostics channel: no change to the agent, no
 * telemetry option, no OpenTelemetry.
 *
 * AI SDK 7 publishes every operation on Node's `diagnostics_channel` as the tracing channel
 * `ai:telemetry` whenever that channel has subscribers: `generateText` / `streamText` (and
 * `embed`, `rerank`, …), each `step`, each `languageModelCall` (one per attempt) and each
 * `executeTool`. A message is `{type, event}`; the SDK adds `result` or `error` before its
 * `asyncEnd`. `generateText`'s messages go through `tracePromise`; `streamText` and its steps open
 * a long-lived context instead (`start.runStores` around an `AsyncResource` the SDK re-enters for
 * the step's model call and tools, `asyncEnd` when the stream has finished).
 *
 * We bind the tracer's context to the channel's `start` (`bindFrames`): the span a message opens
 * is created there, and everything the SDK runs for that message — the provider's `fetch`, the
 * tool's `execute`, later steps of a stream — runs with that span current. So:
 *
 * - the operation is a `chain` span (`invoke_workflow`, inheriting the agent), or an `agent`
 *   span when the call names itself with `telemetry.functionId`, as AI SDK 7's OpenTelemetry does;
 * - a step is an `operation` span, a tool execution an `execute_tool` span with its arguments and
 *   result;
 * - a model call is an LLM span, read with the AI SDK dialect of src/llm/otel/dialects.ts. When a lower
 *   layer records the same call in full (the fetch layer's exact HTTP call, its child), the core
 *   re-types it `llm_run` (`markRecordedBelow`): one call counts once, whichever layers see it.
 *   The channel carries no streamed output: a streamed call nobody else recorded keeps its request
 *   only, says so (`tracetrain.llm.capture_warning`), and ends with its step.
 *
 * With `@ai-sdk/otel` registered and the `otel` layer on, the SDK describes the same operation
 * twice. The channel is the source then: while it records an operation of a rollout, the otel
 * layer leaves out that rollout's GenAI-convention spans (see {@link aiChannelRecords}), which are
 * the SDK's own; the other OTel spans (a database call inside a tool) are still mirrored.
 *
 * AI SDK 6 and older do not publish on the channel; their structure comes through the `otel`
 * layer with `experimental_telemetry: { isEnabled: true }`.
 */
import * as diagnostics from "node:diagnostics_channel";
import { RecordingGuard } from "./recording-guard.js";
import { Attr, Operations, SpanTypes, nowMs } from "../../types/index.js";
import type { ActiveSpan } from "../active-span.js";
import { type ContextFrame, type StoreBindingChannel, bindFrames, currentFrame } from "../context.js";
import type { InstallResult, Instrumentation } from "../instrumentation.js";
import { recordLlmError, recordLlmResponse, startLlmSpan } from "../llm-call.js";
import { frameOf, startSpan } from "../spans.js";
import type { TraceState } from "../trace-state.js";
import { AiSdkAttr, type OtelAttributes, classifySpan, llmRequestOf, llmResponseOf, providerOfAiSdk } from "../../llm/index.js";

/** The channel's name (`AI_SDK_TELEMETRY_TRACING_CHANNEL` in `ai`). */
export const AI_SDK_CHANNEL = "ai:telemetry";
const LAYER = "ai";

/** Node's `TracingChannel`, as far as we use it. */
interface TracingChannelLike {
  readonly start: StoreBindingChannel;
  subscribe(handlers: TracingHandlers): void;
  unsubscribe(handlers: TracingHandlers): boolean;
}

interface TracingHandlers {
  start(message: unknown): void;
  end(message: unknown): void;
  asyncStart(message: unknown): void;
  asyncEnd(message: unknown): void;
  error(message: unknown): void;
}

type Kind = "operation" | "step" | "model" | "tool";

/** What one channel message opened. */
interface Entry {
  readonly kind: Kind;
  readonly span: ActiveSpan;
  /** The operation it belongs to (`ai.streamText`, …): its model calls stream when it does. */
  readonly operationId: string | undefined;
  /** The enclosing step or operation, if we recorded it. */
  readonly parent: Entry | undefined;
  /** Streamed model calls inside (a step), ended with it: the channel's own end comes when the stream opens. */
  readonly streamed: ActiveSpan[];
  done: boolean;
}

/** Operations the channel is recording, per rollout (see {@link aiChannelRecords}). */
const openOperations = new WeakMap<TraceState, number>();

/**
 * Whether the `ai` layer is recording an AI SDK operation in this rollout now. The otel layer asks
 * before mirroring a GenAI-convention span: AI SDK 7 with `@ai-sdk/otel` registered describes the
 * same operation on both, and the channel's record is the one kept.
 */
export function aiChannelRecords(trace: TraceState): boolean {
  return (openOperations.get(trace) ?? 0) > 0;
}

export function createAiSdkInstrumentation(): Instrumentation {
  let installed: { channel: TracingChannelLike; handlers: TracingHandlers; unbind: () => void } | undefined;
  return {
    name: LAYER,
    async install(): Promise<InstallResult> {
      if (installed) return { installed: true };
      const tracingChannel = (diagnostics as { tracingChannel?: unknown }).tracingChannel;
      if (typeof tracingChannel !== "function") {
        return { installed: false, reason: `node:diagnostics_channel has no tracingChannel in Node ${process.version} (Node 18.19 / 19.9 and later have it)` };
      }
      const channel = (tracingChannel as (name: string) => TracingChannelLike)(AI_SDK_CHANNEL);
      const recorder = new ChannelRecorder();
      const handlers: TracingHandlers = {
        start() {},
        asyncStart() {},
        // A tracing channel publishes no asyncEnd when the traced function throws synchronously.
        end: (message) => recorder.finish(message, true),
        asyncEnd: (message) => recorder.finish(message, false),
        error() {},
      };
      // Subscribed as well as bound: the SDK publishes only while the channel has subscribers.
      channel.subscribe(handlers);
      const unbind = bindFrames(channel.start, (message) => recorder.open(message));
      installed = { channel, handlers, unbind };
      return { installed: true };
    },
    uninstall(): void {
      if (!installed) return;
      installed.unbind();
      installed.channel.unsubscribe(installed.handlers);
      installed = undefined;
    },
  };
}

/** Turns the channel's messages into spans of the rollout they run in. */
class ChannelRecorder {
  private readonly entries = new WeakMap<object, Entry>();
  private readonly bySpan = new WeakMap<ActiveSpan, Entry>();
  /** The SDK publishes inside its own work: a recording bug must not break the agent. */
  private readonly recording = new RecordingGuard("recording an AI SDK diagnostics-channel message");

  /** The store transform of the channel's `start`: opens the message's span, returns the frame the SDK's work runs in. */
  open(message: unknown): ContextFrame | undefined {
    const outer = currentFrame();
    if (outer === undefined || !isRecord(message) || this.entries.has(message)) return outer;
    const entry = this.recording.run(() => this.start(message, outer));
    if (entry === undefined) return outer;
    this.entries.set(message, entry);
    this.bySpan.set(entry.span, entry);
    if (entry.kind === "operation") openOperations.set(entry.span.trace, (openOperations.get(entry.span.trace) ?? 0) + 1);
    return frameOf(entry.span);
  }

  /** At the message's `asyncEnd` (or at `end` after a synchronous throw): records the result or error and ends the span. */
  finish(message: unknown, atSyncEnd: boolean): void {
    if (!isRecord(message)) return;
    const entry = this.entries.get(message);
    if (entry === undefined || entry.done || (atSyncEnd && message.error === undefined)) return;
    entry.done = true;
    if (entry.kind === "operation") {
      const trace = entry.span.trace;
      openOperations.set(trace, Math.max(0, (openOperations.get(trace) ?? 1) - 1));
    }
    this.recording.run(() => this.end(entry, message));
  }

  private start(message: Record<string, unknown>, outer: ContextFrame): Entry | undefined {
    const type = str(message.type) ?? "";
    const event = rec(message.event) ?? {};
    const parent = this.bySpan.get(outer.span);
    const operationId = parent?.operationId;
    const make = (kind: Kind, span: ActiveSpan | undefined, ownOperation = operationId): Entry | undefined =>
      span === undefined ? undefined : { kind, span, operationId: ownOperation, parent, streamed: [], done: false };
    switch (type) {
      case "step":
        return make("step", startSpan(`step ${(num(event.stepNumber) ?? 0) + 1}`, { layer: LAYER, type: SpanTypes.operation, attributes: { "ai.step.number": event.stepNumber } }));
      case "languageModelCall": {
        const streams = operationId === "ai.streamText" || operationId === "ai.streamObject";
        const attributes = callRequestAttributes(event, `${operationId ?? "ai.languageModel"}.${streams ? "doStream" : "doGenerate"}`);
        return make("model", startLlmSpan(LAYER, llmRequestOf("", attributes, "ai_sdk")));
      }
      case "executeTool":
        return make("tool", startToolSpan(event));
      default: {
        const ownOperation = str(event.operationId) ?? `ai.${type}`;
        return make("operation", startOperationSpan(ownOperation, event), ownOperation);
      }
    }
  }

  private end(entry: Entry, message: Record<string, unknown>): void {
    const error = message.error;
    const result = rec(message.result);
    const endTime = nowMs();
    switch (entry.kind) {
      case "model":
        return this.endModelCall(entry, result, error, endTime);
      case "tool":
        return endToolSpan(entry.span, result, error, endTime);
      default:
        endStreamedCalls(entry, error, endTime);
        if (result !== undefined) entry.span.setAttributes(operationResult(entry.kind, result));
        if (error !== undefined) entry.span.recordException(error);
        else entry.span.setStatus("ok");
        entry.span.end(endTime);
    }
  }

  private endModelCall(entry: Entry, result: Record<string, unknown> | undefined, error: unknown, endTime: number): void {
    const span = entry.span;
    if (error !== undefined) return recordLlmError(span, error);
    if (result !== undefined && "stream" in result) {
      span.setAttribute(Attr.requestStream, true);
      // Its output arrives after this: the call lasts as long as the step that reads its stream.
      const holder = entry.parent !== undefined && !entry.parent.done ? entry.parent : undefined;
      if (holder) holder.streamed.push(span);
      else endStreamedCall(span, undefined, endTime);
      return;
    }
    // No result: the call was made with recordInputs or recordOutputs off, and the SDK withholds it.
    recordLlmResponse(span, llmResponseOf(result === undefined ? {} : callResponseAttributes(result), "ai_sdk"), { endTime });
  }

}

function startOperationSpan(operationId: string, event: Record<string, unknown>): ActiveSpan | undefined {
  const { type } = classifySpan(operationId, { [AiSdkAttr.operationId]: operationId });
  // A call the application named (telemetry.functionId) is an agent of that name, as AI SDK 7's OpenTelemetry has it.
  const functionId = str(event.functionId);
  const agent = type === SpanTypes.chain && functionId !== undefined;
  const operationName = agent ? Operations.invokeAgent : type === SpanTypes.chain ? Operations.invokeWorkflow : undefined;
  return startSpan(agent ? `${Operations.invokeAgent} ${functionId}` : operationId, {
    layer: LAYER,
    type: agent ? SpanTypes.agent : type,
    ...(agent ? { agentName: functionId } : {}),
    attributes: {
      [Attr.operationName]: operationName,
      [Attr.providerName]: providerOfAiSdk(str(event.provider)),
      [Attr.requestModel]: str(event.modelId),
      [Attr.genAiAgentName]: agent ? functionId : undefined,
      [Attr.frameworkRunId]: str(event.callId),
      [AiSdkAttr.operationId]: operationId,
      [AiSdkAttr.modelProvider]: str(event.provider),
      [AiSdkAttr.modelId]: str(event.modelId),
      "ai.telemetry.functionId": functionId,
    },
  });
}

function startToolSpan(event: Record<string, unknown>): ActiveSpan | undefined {
  const call = rec(event.toolCall) ?? {};
  const name = str(call.toolName);
  return startSpan(`${Operations.executeTool} ${name ?? "tool"}`, {
    layer: LAYER,
    type: SpanTypes.tool,
    attributes: {
      [Attr.operationName]: Operations.executeTool,
      [Attr.toolName]: name,
      [Attr.toolCallId]: str(call.toolCallId),
      [Attr.toolCallArguments]: call.input,
    },
  });
}

function endToolSpan(span: ActiveSpan, result: Record<string, unknown> | undefined, error: unknown, endTime: number): void {
  // The SDK catches a tool's error and resolves with a `tool-error` output.
  const output = rec(result?.output);
  if (error !== undefined) span.recordException(error);
  else if (output?.type === "tool-error") span.recordException(output.error);
  else {
    if (output?.type === "tool-result") span.setAttribute(Attr.toolCallResult, output.output);
    span.setStatus("ok");
  }
  span.end(endTime);
}

/** What a finished step or operation says of itself (its model calls and tools have their own spans). */
function operationResult(kind: Kind, result: Record<string, unknown>): Record<string, unknown> {
  return {
    [AiSdkAttr.responseFinishReason]: str(result.finishReason),
    [AiSdkAttr.responseText]: kind === "operation" ? str(result.text) : undefined,
  };
}

function endStreamedCalls(entry: Entry, error: unknown, endTime: number): void {
  for (const span of entry.streamed.splice(0)) endStreamedCall(span, error, endTime);
}

function endStreamedCall(span: ActiveSpan, error: unknown, endTime: number): void {
  if (span.getAttribute(Attr.spanType) === SpanTypes.llm) {
    span.setAttribute(
      Attr.captureWarning,
      "the AI SDK's diagnostics channel carries no streamed output, and no other layer recorded this call (the fetch layer records OpenAI-compatible and Anthropic APIs): its response is missing",
    );
  }
  if (error !== undefined) span.recordException(error);
  else span.setStatus("ok");
  span.end(endTime);
}

// ---------------------------------------------------------------------------------------------
// A model call's event and result, as the AI SDK dialect's attributes (src/llm/otel/dialects.ts reads them)
// ---------------------------------------------------------------------------------------------

function callRequestAttributes(event: Record<string, unknown>, operationId: string): OtelAttributes {
  return {
    [AiSdkAttr.operationId]: operationId,
    [AiSdkAttr.modelProvider]: event.provider,
    [AiSdkAttr.modelId]: event.modelId,
    // AI SDK 7 passes the system prompt apart, as `instructions` (a string or system messages).
    [AiSdkAttr.promptMessages]: [...systemMessages(event.instructions ?? event.system), ...(Array.isArray(event.messages) ? event.messages : [])],
    [AiSdkAttr.promptTools]: event.tools,
    [Attr.requestTemperature]: event.temperature,
    [Attr.requestTopP]: event.topP,
    [Attr.requestMaxTokens]: event.maxOutputTokens,
    [Attr.requestStopSequences]: event.stopSequences,
    [Attr.requestSeed]: event.seed,
  };
}

function systemMessages(instructions: unknown): unknown[] {
  if (typeof instructions === "string") return [{ role: "system", content: instructions }];
  if (Array.isArray(instructions)) return instructions;
  return isRecord(instructions) ? [instructions] : [];
}

/** A `doGenerate` result (`content` parts, `finishReason`, `usage`, `response`) as response attributes. */
function callResponseAttributes(result: Record<string, unknown>): OtelAttributes {
  const content = Array.isArray(result.content) ? result.content.filter(isRecord) : [];
  const of = (type: string) => content.filter((part) => part.type === type);
  const texts = of("text").map((part) => str(part.text) ?? "");
  const reasoning = of("reasoning").map((part) => str(part.text) ?? "");
  const toolCalls = of("tool-call").map((part) => ({ toolCallId: part.toolCallId, toolName: part.toolName, input: part.input }));
  const response = rec(result.response) ?? {};
  const usage = rec(result.usage) ?? {};
  return {
    [AiSdkAttr.responseText]: texts.length > 0 ? texts.join("") : undefined,
    [AiSdkAttr.responseReasoning]: reasoning.length > 0 ? reasoning.join("") : undefined,
    [AiSdkAttr.responseToolCalls]: toolCalls.length > 0 ? toolCalls : undefined,
    // AI SDK 7: `{unified, raw}`; before: the unified reason itself.
    [AiSdkAttr.responseFinishReason]: str(result.finishReason) ?? str(rec(result.finishReason)?.unified),
    [AiSdkAttr.responseId]: response.id,
    [AiSdkAttr.responseModel]: response.modelId,
    [AiSdkAttr.inputTokens]: tokenCount(usage.inputTokens),
    [AiSdkAttr.outputTokens]: tokenCount(usage.outputTokens),
  };
}

/** AI SDK 7 counts `{total, …}`; before, a number. */
function tokenCount(value: unknown): number | undefined {
  return num(value) ?? num(rec(value)?.total);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function rec(value: unknown): Record<string, unknown> | undefined {
  return isRecord(value) ? value : undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function num(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}
