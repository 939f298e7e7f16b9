/**
 * What agent code may call by hand. Each works anywhere: inside a traced rollout it records a
 * span in that rollout; outside one it does nothing (and says so once), so the same agent code
 * runs unchanged in a unit test.
 */
import type { RewardOptions, RewardRecord, RewardValue, RewardWithFeedback } from "../types/index.js";
import { consoleLogger, isRewardWithFeedback, rewardRecord } from "../types/index.js";
import { type ActiveSpan, describeError } from "./active-span.js";
import { type ContextFrame, currentFrame } from "./context.js";
import { Attr, Operations, SpanNames, SpanTypes } from "../types/index.js";
import { runInSpan, startSpan, withSpan } from "./spans.js";

const warned = new Set<string>();

function outsideTrace(what: string): void {
  if (warned.has(what)) return;
  warned.add(what);
  consoleLogger.warn(`${what}() was called outside a traced rollout and recorded nothing (this is reported once)`);
}

/**
 * Records a reward. Pass one number, or several named values (`{accuracy: 1, brevity: 0.4}`),
 * of which `primary` (default the first) is the reward's value. A final reward becomes the
 * attempt's outcome reward when the runner completes it; if several are emitted, the last counts.
 * `feedback` says why the run earned it, for optimizers to read. Throws a ValidationError naming
 * the field (`value`, `primary`, `feedback`) when the reward is not valid — inside a trace or not.
 */
export function emitReward(value: number | Record<string, number>, options: RewardOptions = {}): void {
  // Validated even outside a trace: a bad reward is a bug in the agent's scoring, caught in its unit tests too.
  const reward = rewardRecord(value, options);
  const frame = currentFrame();
  if (!frame) return outsideTrace("emitReward");
  const span = startSpan(SpanNames.reward, { layer: "emitter", type: SpanTypes.reward, attributes: reward.attributes });
  if (!span) return;
  recordReward(span, reward, frame);
}

/**
 * Runs a reward function — one that may itself call an LLM, e.g. a judge — inside a reward span,
 * and records the number (or named values) it returns as the reward, with the same options as
 * {@link emitReward}. LLM calls made inside are children of the reward span, so adapters can tell
 * a judge from the policy (`excludeCallsInsideRewards`). `fn` may return its value with the
 * feedback it wrote, `{ value, feedback }` ({@link RewardWithFeedback}); that feedback replaces
 * the `feedback` option's. Returns what `fn` returned; if `fn` throws, or returns an invalid
 * reward (a ValidationError naming the field), the span records the error, no reward is
 * recorded, and the error is rethrown.
 */
export async function withReward<V extends RewardValue | RewardWithFeedback>(fn: () => V | Promise<V>, options: RewardOptions = {}): Promise<V> {
  const frame = currentFrame();
  if (!frame) {
    outsideTrace("withReward");
    return fn();
  }
  const span = startSpan(SpanNames.reward, { layer: "emitter", type: SpanTypes.reward, attributes: { [Attr.rewardCallId]: options.callId } });
  if (!span) return fn();
  try {
    const value = await runInSpan(span, fn);
    const reward = isRewardWithFeedback(value) ? rewardRecord(value.value, { ...options, feedback: value.feedback ?? options.feedback }) : rewardRecord(value, options);
    span.setAttributes(reward.attributes);
    recordReward(span, reward, frame);
    return value;
  } catch (error) {
    span.recordException(error).end();
    throw error;
  }
}

/** Ends a reward span with its event, and makes a final reward the trace's outcome reward. */
function recordReward(span: ActiveSpan, reward: RewardRecord, frame: ContextFrame): void {
  span.addEvent(reward.event.name, reward.event.attributes);
  span.end();
  if (reward.final) frame.trace.recordFinalReward(reward.value);
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
