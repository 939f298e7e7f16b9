/**
 * OpenAI Agents SDK instrumentation (`@openai/agents`, tested with 0.14 and 0.20).
 *
 * The SDK has its own tracing: every run is a trace of spans (`task`, `agent`, `turn`,
 * `generation` / `response`, `function`, `handoff`, `guardrail`, `custom`, …) delivered to the
 * `TracingProcessor`s registered with `addTraceProcessor`. We register one that mirrors each SDK
 * span as a tracetrain span in the rollout running where the SDK span started, keeping the SDK's
 * tree (parents come from the SDK's own parent ids) and its agent names: an `agent` span names
 * everything inside it — turns, tools, model calls, handoffs.
 *
 * A bridge (see bridges.ts) reads the SDK's current span, so spans other layers create inside an
 * SDK span — above all the openai instrumentation's exact record of the `chat.completions.create`
 * / `responses.create` call the SDK makes — are parented by its mirror and carry its agent name.
 * A model call seen by both layers is then one `llm` span (layer `openai`) under an `llm_run`
 * span (layer `agents`), and is counted once.
 *
 * What a user must know:
 * - The SDK only produces spans while its tracing is enabled. It is on by default, but off when
 *   `NODE_ENV=test`, when `OPENAI_AGENTS_DISABLE_TRACING=1`, after `setTracingDisabled(true)`, or
 *   for a run with `tracingDisabled: true`. tracetrain does not switch it on: doing so would also
 *   switch on whatever exporters are registered. With it off, this layer records nothing (the
 *   openai / fetch layers still record the model calls themselves).
 * - `@openai/agents` registers the SDK's default exporter, which sends traces to OpenAI when an
 *   API key is available. That is the SDK's behaviour, independent of tracetrain; call
 *   `setTraceProcessors([])` before installing tracetrain if you don't want it.
 * - With `traceIncludeSensitiveData: false` the SDK leaves messages out of its spans, and so do we.
 */
import { RecordingGuard } from "./recording-guard.js";
import type { ActiveSpan } from "../active-span.js";
import { addBridge, type Bridge } from "../bridges.js";
import { currentFrame } from "../context.js";
import { Attr, type SpanType, Operations, SpanTypes } from "../../types/index.js";
import { nowMs } from "../../types/index.js";
import type { InstallResult, Instrumentation } from "../instrumentation.js";
import type { LlmRequest, LlmResponse } from "../../llm/index.js";
import { recordLlmError, recordLlmRequest, recordLlmResponse, startLlmSpan } from "../llm-call.js";
import { startSpan } from "../spans.js";
import type { TraceState } from "../trace-state.js";
import { chatRequest, chatResponse, responsesRequest, responsesResponse } from "../../llm/index.js";
import { describeCopy, findPackageCopies, loadBuild } from "./package-copies.js";

const LAYER = "agents";

// ---------------------------------------------------------------------------------------------
// The parts of the SDK we use, typed structurally: the package is optional, and this keeps us
// independent of its type declarations (which change between versions) — everything read from
// it is narrowed at run time.
// ---------------------------------------------------------------------------------------------

interface SdkSpanError {
  message: string;
  data?: unknown;
}

interface SdkSpan {
  readonly spanId: string;
  readonly traceId: string;
  readonly parentId: string | null;
  readonly spanData: unknown;
  readonly error: SdkSpanError | null;
}

/** The SDK's `TracingProcessor` interface. */
interface SdkTracingProcessor {
  onTraceStart(trace: unknown): Promise<void>;
  onTraceEnd(trace: unknown): Promise<void>;
  onSpanStart(span: SdkSpan): Promise<void>;
  onSpanEnd(span: SdkSpan): Promise<void>;
  shutdown(timeout?: number): Promise<void>;
  forceFlush(): Promise<void>;
}

interface AgentsSdk {
  addTraceProcessor(processor: SdkTracingProcessor): void;
  getCurrentSpan(): SdkSpan | null;
}

/** The SDK's id for spans and traces created while its tracing is disabled. */
const NOOP_ID = "no-op";

/**
 * `@openai/agents` first: importing it registers the SDK's default exporter with
 * `setTraceProcessors`, which replaces every processor registered before — so it must run before
 * we register ours, not when the user's code imports it later. `@openai/agents-core` alone (a
 * user of custom model providers) works too.
 */
const PACKAGES = ["@openai/agents", "@openai/agents-core"];

async function loadSdk(): Promise<AgentsSdk | string> {
  const failures: string[] = [];
  for (const name of PACKAGES) {
    // One copy is enough: every copy of the SDK (0.14 and later) shares one trace provider through a global symbol.
    const copy = findPackageCopies(name)[0];
    if (copy === undefined) {
      failures.push(`${name} is not installed`);
      continue;
    }
    try {
      const module = await loadBuild(copy, ".", "esm");
      if (isAgentsSdk(module)) return module;
      failures.push(`${describeCopy(copy)} has no addTraceProcessor/getCurrentSpan`);
    } catch (error) {
      failures.push(`${describeCopy(copy)} could not be loaded (${error instanceof Error ? error.message.split("\n")[0] : String(error)})`);
    }
  }
  return `the OpenAI Agents SDK is not available: ${failures.join("; ")}`;
}

function isAgentsSdk(value: unknown): value is AgentsSdk {
  return isRecord(value) && typeof value.addTraceProcessor === "function" && typeof value.getCurrentSpan === "function";
}

// ---------------------------------------------------------------------------------------------
// The instrumentation
// ---------------------------------------------------------------------------------------------

/**
 * The SDK has no way to unregister a processor, so each SDK module gets one mirror for the life
 * of the process: uninstalling makes it inert, installing again reactivates it (instead of
 * registering a second one).
 */
const mirrors = new WeakMap<AgentsSdk, SpanMirror>();

/** Mirrors OpenAI Agents SDK spans into the current rollout (see the file comment). */
export function createAgentsInstrumentation(): Instrumentation {
  let installed: { mirror: SpanMirror; removeBridge: () => void } | undefined;
  return {
    name: "agents",
    async install(): Promise<InstallResult> {
      if (installed) return { installed: true };
      const sdk = await loadSdk();
      if (typeof sdk === "string") return { installed: false, reason: sdk };
      let mirror = mirrors.get(sdk);
      if (!mirror) mirrors.set(sdk, (mirror = new SpanMirror(sdk)));
      mirror.active = true;
      if (!mirror.registered) mirror.register();
      installed = { mirror, removeBridge: addBridge(mirror.bridge) };
      return { installed: true };
    },
    uninstall(): void {
      if (!installed) return;
      // Still registered with the SDK (it cannot remove processors), but inert from here on.
      installed.mirror.active = false;
      installed.removeBridge();
      installed = undefined;
    },
  };
}

/** What we track for one SDK span. */
interface Mirror {
  /** The SDK span (any clone shares its `spanData` object, which the SDK fills in as it goes). */
  readonly sdk: SdkSpan;
  readonly kind: MirrorKind;
  readonly parent: ActiveSpan;
  readonly agentName: string | undefined;
  readonly startTime: number;
  /** Our span, once created; undefined before, or if the tracer declined to create it. */
  span: ActiveSpan | undefined;
  created: boolean;
  ended: boolean;
}

type MirrorKind = "agent" | "tool" | "handoff" | "generation" | "response" | "chain";

/**
 * Spans whose name depends on data the SDK fills in after starting them (the model of a
 * generation, the target of a handoff) are created lazily: when something needs them as a parent
 * (a child SDK span, or another layer's span via the bridge) or when they end — with the start
 * time noted when the SDK started them.
 */
const LAZY: ReadonlySet<MirrorKind> = new Set<MirrorKind>(["handoff", "generation", "response"]);

/** The `TracingProcessor` we register. Every callback is synchronous work behind a resolved promise. */
class SpanMirror implements SdkTracingProcessor {
  active = false;
  /** Whether the SDK has us in its processor list (as far as we can tell: it has no getter). */
  registered = false;
  /** Per rollout, SDK span id → mirror; dies with the rollout's trace state. */
  private readonly registries = new WeakMap<TraceState, Map<string, Mirror>>();
  /** The SDK awaits our promise: a tracing bug would surface in the agent as a rejection. */
  private readonly recording = new RecordingGuard("recording an OpenAI Agents SDK span");

  constructor(private readonly sdk: AgentsSdk) {}

  // SDK traces are not mirrored: their `task` span already stands for the run, and a trace may
  // start outside a rollout while its spans run inside one.
  async onTraceStart(): Promise<void> {}
  async onTraceEnd(): Promise<void> {}

  // The SDK calls processors from `span.start()` / `span.end()`, in the async context of the code
  // starting or ending the span (checked by the tests), so `currentFrame()` here is the rollout —
  // and the span current in our context — where the SDK span runs.
  async onSpanStart(span: SdkSpan): Promise<void> {
    if (this.active) this.recording.run(() => this.begin(span));
  }

  async onSpanEnd(span: SdkSpan): Promise<void> {
    if (this.active) this.recording.run(() => this.finish(span));
  }

  /**
   * Called when the SDK drops its processors: `setTraceProcessors()` replacing them, or the SDK's
   * own exit handlers (SIGINT/SIGTERM/beforeExit) shutting its provider down. We only note that
   * we are no longer registered; the next `install()` registers again. (Re-registering here would
   * be wrong: the provider's shutdown iterates the very list we would append to, without end.)
   * So call `setTraceProcessors()` before `tracer.instrument()`, not after.
   */
  async shutdown(): Promise<void> {
    this.registered = false;
  }

  register(): void {
    this.sdk.addTraceProcessor(this);
    this.registered = true;
  }

  async forceFlush(): Promise<void> {}

  /** Parent of spans other layers start inside an SDK span: that span's mirror. */
  readonly bridge: Bridge = (trace) => {
    if (!this.active) return undefined;
    const current = this.sdk.getCurrentSpan();
    if (!current || current.spanId === NOOP_ID) return undefined;
    // Normally onSpanStart has run; if another processor registered before us is still being
    // awaited, it has not yet — then the mirror is begun here.
    const mirror = this.registryOf(trace).get(current.spanId) ?? this.recording.run(() => this.begin(current));
    if (!mirror || mirror.ended) return undefined;
    const span = this.create(mirror);
    return span ? { span, agentName: mirror.agentName } : undefined;
  };

  private begin(sdk: SdkSpan): Mirror | undefined {
    const frame = currentFrame();
    if (!frame || sdk.spanId === NOOP_ID) return undefined;
    const registry = this.registryOf(frame.trace);
    const existing = registry.get(sdk.spanId);
    if (existing) return existing;
    const data = recordOf(sdk.spanData);
    const kind = kindOf(data);
    // The innermost of two ancestors: the SDK parent's mirror, or the span current in our context
    // (e.g. a `withAgent` inside a tool, around a nested run) if that started later.
    let parent = frame.span;
    let agentName = frame.agentName;
    const parentMirror = sdk.parentId === null ? undefined : registry.get(sdk.parentId);
    const parentSpan = parentMirror ? this.create(parentMirror) : undefined;
    if (parentMirror && parentSpan && !parentSpan.ended && parentSpan.startTime >= parent.startTime) {
      parent = parentSpan;
      agentName = parentMirror.agentName;
    }
    if (kind === "agent") agentName = str(data.name) ?? agentName;
    if (data.type === "turn") agentName = str(data.agent_name) ?? agentName;
    const mirror: Mirror = { sdk, kind, parent, agentName, startTime: nowMs(), span: undefined, created: false, ended: false };
    registry.set(sdk.spanId, mirror);
    if (!LAZY.has(kind)) this.create(mirror);
    return mirror;
  }

  private finish(sdk: SdkSpan): void {
    const frame = currentFrame();
    if (!frame) return;
    const mirror = this.registryOf(frame.trace).get(sdk.spanId);
    if (!mirror || mirror.ended) return;
    const span = this.create(mirror);
    mirror.ended = true;
    if (span) recordEnd(span, mirror.kind, recordOf(sdk.spanData), sdk.error);
  }

  /** Our span for `mirror`, created on first need (with the start time the SDK span started at). */
  private create(mirror: Mirror): ActiveSpan | undefined {
    if (mirror.created) return mirror.span;
    mirror.created = true;
    const data = recordOf(mirror.sdk.spanData);
    const { parent, agentName, startTime } = mirror;
    let span: ActiveSpan | undefined;
    if (mirror.kind === "generation" || mirror.kind === "response") {
      const request = mirror.kind === "generation" ? generationRequest(data) : responseRequest(data);
      span = startLlmSpan(LAYER, request, { parent, startTime });
      // startLlmSpan takes the agent from our context; the SDK's agent is the one that counts.
      if (agentName !== undefined) span?.setAttribute(Attr.agentName, agentName);
    } else {
      const { name, type, attributes } = describeSpan(mirror.kind, data);
      span = startSpan(name, { layer: LAYER, type, parent, startTime, attributes, ...(agentName === undefined ? {} : { agentName }) });
    }
    span?.setAttribute(Attr.frameworkRunId, mirror.sdk.spanId);
    mirror.span = span;
    return span;
  }

  private registryOf(trace: TraceState): Map<string, Mirror> {
    let registry = this.registries.get(trace);
    if (!registry) this.registries.set(trace, (registry = new Map()));
    return registry;
  }

}

// ---------------------------------------------------------------------------------------------
// SDK span data → our spans
// ---------------------------------------------------------------------------------------------

function kindOf(data: Record<string, unknown>): MirrorKind {
  switch (data.type) {
    case "agent":
      return "agent";
    case "function":
      return "tool";
    case "handoff":
      return "handoff";
    case "generation":
      return "generation";
    case "response":
      return "response";
    default:
      // task, turn, guardrail, custom, mcp_tools, speech, transcription, and types added later.
      return "chain";
  }
}

/** Name, type and start attributes of a non-LLM span. */
function describeSpan(kind: MirrorKind, data: Record<string, unknown>): { name: string; type: SpanType; attributes: Record<string, unknown> } {
  switch (kind) {
    case "agent": {
      const name = str(data.name) ?? "Agent";
      return {
        name: `${Operations.invokeAgent} ${name}`,
        type: SpanTypes.agent,
        attributes: { [Attr.operationName]: Operations.invokeAgent, [Attr.genAiAgentName]: name },
      };
    }
    case "tool": {
      const name = str(data.name) ?? "function";
      return {
        name: `${Operations.executeTool} ${name}`,
        type: SpanTypes.tool,
        attributes: { [Attr.operationName]: Operations.executeTool, [Attr.toolName]: name },
      };
    }
    case "handoff":
      return { name: handoffName(data), type: SpanTypes.handoff, attributes: handoffAttributes(data) };
    default:
      return { name: chainName(data), type: SpanTypes.chain, attributes: {} };
  }
}

function handoffName(data: Record<string, unknown>): string {
  const from = str(data.from_agent);
  const to = str(data.to_agent);
  return ["handoff", from, to === undefined ? undefined : `-> ${to}`].filter((part) => part !== undefined).join(" ");
}

function handoffAttributes(data: Record<string, unknown>): Record<string, unknown> {
  return { [Attr.handoffFrom]: str(data.from_agent), [Attr.handoffTo]: str(data.to_agent) };
}

/** `task Agent workflow`, `turn 2`, `guardrail no_pii`; a custom span keeps its own name. */
function chainName(data: Record<string, unknown>): string {
  const type = str(data.type) ?? "span";
  if (type === "custom") return str(data.name) ?? "custom";
  const label = type === "turn" ? num(data.turn) : (str(data.name) ?? str(data.server));
  return label === undefined ? type : `${type} ${label}`;
}

/** Fills in what the SDK learned while the span ran, and ends it. */
function recordEnd(span: ActiveSpan, kind: MirrorKind, data: Record<string, unknown>, error: SdkSpanError | null): void {
  const failure = error ? spanError(error) : undefined;
  if (kind === "generation" || kind === "response") {
    recordLlmRequest(span, kind === "generation" ? generationRequest(data) : responseRequest(data));
    if (failure) recordLlmError(span, failure);
    else recordLlmResponse(span, kind === "generation" ? generationResponse(data) : responseResponse(data));
    return;
  }
  switch (kind) {
    case "tool":
      // Kept as the strings the model sent and was sent back: exactly what it saw.
      span.setAttributes({ [Attr.toolCallArguments]: str(data.input), [Attr.toolCallResult]: str(data.output) });
      if (data.mcp_data !== undefined) span.setAttribute(Attr.frameworkSpanData, { mcp_data: data.mcp_data });
      break;
    case "handoff":
      span.setAttributes(handoffAttributes(data));
      break;
    case "agent":
      span.setAttribute(Attr.frameworkSpanData, { handoffs: data.handoffs, tools: data.tools, output_type: data.output_type });
      break;
    default:
      span.setAttribute(Attr.frameworkSpanData, withoutPrivateFields(data));
  }
  if (failure) span.recordException(failure);
  span.end();
}

/** The SDK records errors as `{message, data}`; as an Error (without our stack) they record like any other. */
function spanError(error: SdkSpanError): Error {
  const detail = error.data === undefined ? "" : ` ${safeJson(error.data)}`;
  const converted = new Error(`${error.message}${detail}`);
  converted.name = "AgentsSpanError";
  converted.stack = undefined;
  return converted;
}

/** Fields starting with `_` are the SDK's "for other tracing providers" extras, not span data. */
function withoutPrivateFields(data: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(data).filter(([key]) => !key.startsWith("_")));
}

// ---------------------------------------------------------------------------------------------
// Model calls. What the SDK keeps is (nearly) what went over the wire, so the openai layer's wire
// converters read it: a call recorded by either layer has the same messages, tool calls and usage.
// ---------------------------------------------------------------------------------------------

/** A `generation` span (Chat Completions, and other providers): `input` is the chat messages sent. */
function generationRequest(data: Record<string, unknown>): LlmRequest {
  const config = recordOf(data.model_config);
  const request = chatRequest({ model: data.model, messages: data.input, temperature: config.temperature, top_p: config.top_p });
  // Other model providers write generation spans too: the wire protocol is not known here.
  return { ...request, provider: undefined, messages: Array.isArray(data.input) ? request.messages : undefined };
}

/** `output` holds the provider's raw response: a ChatCompletion for the OpenAI model (vLLM token ids included). */
function generationResponse(data: Record<string, unknown>): LlmResponse {
  const output = Array.isArray(data.output) ? data.output.filter(isRecord) : [];
  const completion = output.find((item) => Array.isArray(item.choices));
  const response = completion
    ? chatResponse(completion)
    : responsesResponse(output.find((item) => Array.isArray(item.output)) ?? { status: "completed", output });
  const usage = recordOf(data.usage);
  return {
    ...response,
    inputTokens: num(usage.input_tokens) ?? response.inputTokens,
    outputTokens: num(usage.output_tokens) ?? response.outputTokens,
  };
}

/**
 * A `response` span (Responses API), from the SDK's private `_input` (the SDK's own item list) and
 * `_response` (the Response object as the server sent it, which also echoes the instructions,
 * tools and sampling settings of the request). The model asked for is not in the span: the model
 * the server reports stands for it.
 */
function responseRequest(data: Record<string, unknown>): LlmRequest {
  const response = recordOf(data._response);
  const request = responsesRequest({
    model: response.model,
    instructions: response.instructions,
    input: data._input === undefined ? [] : wireInput(data._input),
    tools: response.tools,
    temperature: response.temperature,
    top_p: response.top_p,
    max_output_tokens: response.max_output_tokens,
  });
  return request.messages?.length === 0 ? { ...request, messages: undefined } : request;
}

function responseResponse(data: Record<string, unknown>): LlmResponse {
  const response = responsesResponse(data._response);
  return { ...response, id: response.id ?? str(data.response_id) };
}

/**
 * The SDK's input items in the Responses wire format: `callId` → `call_id`,
 * `function_call_result` (output `{type: "text", text}`) → `function_call_output` (output text),
 * `input_image.image` → `image_url`. Raw wire items pass through.
 */
function wireInput(input: unknown): unknown {
  if (!Array.isArray(input)) return input;
  return input.map((item: unknown) => {
    if (!isRecord(item)) return item;
    const callId = str(item.call_id) ?? str(item.callId);
    if (item.type === "function_call") return { type: item.type, call_id: callId, name: item.name, arguments: item.arguments };
    if (item.type === "function_call_result") return { type: "function_call_output", call_id: callId, output: outputText(item.output) };
    if (Array.isArray(item.content)) return { ...item, content: item.content.map(wirePart) };
    return item;
  });
}

function wirePart(part: unknown): unknown {
  if (!isRecord(part) || part.type !== "input_image" || part.image_url !== undefined) return part;
  const url = str(part.image) ?? str(part.imageUrl);
  return url === undefined ? part : { type: "input_image", image_url: url };
}

/** A tool result's output as the text the model reads. */
function outputText(output: unknown): string {
  if (typeof output === "string") return output;
  if (isRecord(output) && typeof output.text === "string") return output.text;
  if (Array.isArray(output) && output.every((part) => isRecord(part) && typeof part.text === "string")) {
    return output.map((part) => (part as { text: string }).text).join("");
  }
  return safeJson(output);
}

// ---------------------------------------------------------------------------------------------
// Narrowing helpers
// ---------------------------------------------------------------------------------------------

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function recordOf(value: unknown): Record<string, unknown> {
  return isRecord(value) ? value : {};
}

function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function num(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
