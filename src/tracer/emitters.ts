/**
 * What agent code may call by hand. Each works anywhere: inside a traced rollout it records a
 * span in that rollout; outside one it does nothing (and says so once), so the same agent code
 * runs unchanged in a unit test.
 */
import { ValidationError, consoleLogger } from "../types/index.js";
import { describeError } from "./active-span.js";
import { currentFrame } from "./context.js";
import { Attr, EventNames, Operations, SpanNames, SpanTypes } from "./conventions.js";
import { runInSpan, startSpan, withSpan } from "./spans.js";

const warned = new Set<string>();

function outsideTrace(what: string): void {
  if (warned.has(what)) return;
  warned.add(what);
  consoleLogger.warn(`${what}() was called outside a traced rollout and recorded nothing (this is reported once)`);
}

export interface RewardOptions {
  /**
   * Whether this is the rollout's outcome reward. Defaults to `true`, unless `callId` is given
   * (a reward for one LLM call is intermediate unless you say otherwise).
   */
  final?: boolean;
  /** The LLM call (its span id) this reward is meant for. */
  callId?: string;
  /** A name for a single reward value (default `"reward"`). */
  name?: string;
  /** With several named values: which one is the primary value (default: the first). */
  primary?: string;
}

/**
 * Records a reward. Pass one number, or several named values (`{accuracy: 1, brevity: 0.4}`),
 * of which `primary` (default the first) is the reward's value. A final reward becomes the
 * attempt's outcome reward when the runner completes it; if several are emitted, the last counts.
 */
export function emitReward(value: number | Record<string, number>, options: RewardOptions = {}): void {
  const { primary, values } = rewardValues(value, options);
  const frame = currentFrame();
  if (!frame) return outsideTrace("emitReward");
  const final = options.final ?? options.callId === undefined;
  const span = startSpan(SpanNames.reward, {
    layer: "emitter",
    type: SpanTypes.reward,
    attributes: {
      [Attr.rewardValue]: primary.value,
      [Attr.rewardName]: primary.name,
      [Attr.rewardValues]: values,
      [Attr.rewardFinal]: final,
      [Attr.rewardCallId]: options.callId,
    },
  });
  if (!span) return;
  // Mirrors the reward as OTel's evaluation event, so any OTel tool shows it as a score.
  span.addEvent(EventNames.evaluationResult, { [Attr.evaluationName]: primary.name, [Attr.evaluationScore]: primary.value });
  span.end();
  if (final) frame.trace.recordFinalReward(primary.value);
}

/**
 * Runs a reward function — one that may itself call an LLM, e.g. a judge — inside a reward span,
 * and records the number (or named values) it returns as the reward, with the same options as
 * {@link emitReward}. LLM calls made inside are children of the reward span, so adapters can tell
 * a judge from the policy (`excludeCallsInsideRewards`). Returns what `fn` returned; if `fn`
 * throws, the span records the error, no reward is recorded, and the error is rethrown.
 */
export async function withReward<V extends number | Record<string, number>>(fn: () => V | Promise<V>, options: RewardOptions = {}): Promise<V> {
  const frame = currentFrame();
  if (!frame) {
    outsideTrace("withReward");
    return fn();
  }
  const span = startSpan(SpanNames.reward, { layer: "emitter", type: SpanTypes.reward, attributes: { [Attr.rewardCallId]: options.callId } });
  if (!span) return fn();
  try {
    const value = await runInSpan(span, fn);
    const { primary, values } = rewardValues(value, options);
    const final = options.final ?? options.callId === undefined;
    span.setAttributes({ [Attr.rewardValue]: primary.value, [Attr.rewardName]: primary.name, [Attr.rewardValues]: values, [Attr.rewardFinal]: final });
    span.addEvent(EventNames.evaluationResult, { [Attr.evaluationName]: primary.name, [Attr.evaluationScore]: primary.value });
    span.end();
    if (final) frame.trace.recordFinalReward(primary.value);
    return value;
  } catch (error) {
    span.recordException(error).end();
    throw error;
  }
}

/** Validates a reward up front: a NaN reward is a bug in the agent's scoring, better caught at once. */
function rewardValues(value: number | Record<string, number>, options: RewardOptions) {
  const invalid = (message: string) => new ValidationError("reward", [{ path: "value", message }]);
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw invalid(`expected a finite number, got ${value}`);
    return { primary: { name: options.name ?? "reward", value }, values: undefined };
  }
  const entries = typeof value === "object" && value !== null ? Object.entries(value) : [];
  if (entries.length === 0) throw invalid("expected a number or a non-empty {name: number} object");
  const bad = entries.find(([, v]) => typeof v !== "number" || !Number.isFinite(v));
  if (bad) throw invalid(`'${bad[0]}' must be a finite number, got ${String(bad[1])}`);
  const name = options.primary ?? entries[0]![0];
  if (!(name in value)) throw invalid(`primary '${name}' is not one of ${entries.map(([k]) => k).join(", ")}`);
  return { primary: { name, value: value[name]! }, values: value };
}

/** Records a free-form message (a log line that belongs to the rollout). */
export function emitMessage(message: string, attributes: Record<string, unknown> = {}): void {
  if (!currentFrame()) return outsideTrace("emitMessage");
  startSpan(SpanNames.message, { layer: "emitter", type: SpanTypes.message, attributes: { ...attributes, [Attr.messageBody]: message } })?.end();
}

/** Records any value as JSON (class instances, Maps and cycles are converted safely). */
export function emitObject(value: unknown, attributes: Record<string, unknown> = {}): void {
  if (!currentFrame()) return outsideTrace("emitObject");
  startSpan(SpanNames.object, { layer: "emitter", type: SpanTypes.object, attributes: { ...attributes, [Attr.objectJson]: value } })?.end();
}

/** Records an error the agent handled itself (an error it did not handle is recorded by the runner). */
export function emitException(error: unknown, attributes: Record<string, unknown> = {}): void {
  if (!currentFrame()) return outsideTrace("emitException");
  const { type } = describeError(error);
  startSpan(SpanNames.exception, { layer: "emitter", type: SpanTypes.exception, attributes: { ...attributes, [Attr.errorType]: type } })
    ?.recordException(error)
    .end();
}

/**
 * Runs `fn` as a named step of the agent, recording its input (if given) and its output or error.
 * Returns what `fn` returns. Spans created inside are children of this one.
 */
export function operation<T>(name: string, fn: () => T, options: { input?: unknown; attributes?: Record<string, unknown> } = {}): T {
  return withSpan(
    name,
    {
      layer: "emitter",
      type: SpanTypes.operation,
      attributes: { ...options.attributes, [Attr.operationInput]: options.input },
      onResult: (span, value) => span.setAttribute(Attr.operationOutput, value),
    },
    () => fn(),
  );
}

/**
 * Runs `fn` as agent `name`: every span created inside — LLM calls included — carries
 * `tracetrain.agent.name`, which is how one agent of a multi-agent system is selected for
 * training while the others stay fixed.
 */
export function withAgent<T>(name: string, fn: () => T): T {
  return withSpan(
    `${Operations.invokeAgent} ${name}`,
    {
      layer: "emitter",
      type: SpanTypes.agent,
      agentName: name,
      agentScope: name,
      attributes: { [Attr.operationName]: Operations.invokeAgent, [Attr.genAiAgentName]: name },
    },
    () => fn(),
  );
}
