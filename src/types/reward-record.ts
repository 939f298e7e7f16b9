/**
 * A reward as a reward span records it. Pure vocabulary, kept at the ground floor so the tracer's
 * emitters and the store server's reward route write the very same span.
 */
import type { JsonValue } from "./json.js";
import { Attr, EventNames } from "./conventions.js";
import { ValidationError } from "./errors.js";
import { parseRewardValue, type RewardValue } from "./attempt.js";

/**
 * The longest feedback text a reward takes, in characters. Longer text is rejected rather than
 * clipped: a clipped critique can lose the very sentence that explains the score, and the judge
 * that wrote it is the place to make it shorter. Optimizers show each run's feedback clipped
 * further, so one verbose judge cannot crowd out the other runs.
 */
export const MAX_REWARD_FEEDBACK_CHARS = 8000;

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
  /**
   * The evaluator's textual feedback: why the run earned this reward ("the room has no
   * projector"). Optimizers (APO's critiques, GEPA's reflections) read it with the run. At most
   * {@link MAX_REWARD_FEEDBACK_CHARS} characters; an empty text records no feedback.
   */
  feedback?: string;
}

/**
 * What a reward function given to `withReward` may return when it explains its score — a judge
 * produces both: the value (one number or named values) and the feedback text. An object with a
 * `feedback` key is read this way, so a named reward value cannot itself be called `feedback`.
 */
export interface RewardWithFeedback {
  value: RewardValue;
  /** `undefined` records no feedback (or the `feedback` option's, when given). */
  feedback: string | undefined;
}

/** Whether a reward function's result is a {@link RewardWithFeedback} rather than a bare value. */
export function isRewardWithFeedback(result: unknown): result is RewardWithFeedback {
  return typeof result === "object" && result !== null && !Array.isArray(result) && Object.hasOwn(result, "feedback");
}

/** A validated reward as a reward span records it: the one place that turns a value and options into attributes. */
export interface RewardRecord {
  /** The reward's value (with several named values, the primary one): the outcome reward when final. */
  readonly value: number;
  readonly final: boolean;
  /** The feedback text, when one was given. */
  readonly feedback: string | undefined;
  /** The reward span's `tracetrain.reward.*` attributes (absent options left out). */
  readonly attributes: Record<string, JsonValue>;
  /** The `gen_ai.evaluation.result` event that mirrors the reward, so any OTel tool shows it as a score. */
  readonly event: { readonly name: string; readonly attributes: Record<string, JsonValue> };
}

/**
 * Validates a reward and computes what its span records — without recording anything. Shared by the
 * tracer's `emitReward` and `withReward` and the store server's reward route, so a reward posted
 * over HTTP is the very same span an in-process emitter writes. Throws a ValidationError naming
 * `value`, `primary` or `feedback` when the reward is not valid.
 */
export function rewardRecord(value: unknown, options: RewardOptions = {}): RewardRecord {
  const checked = parseRewardValue(value);
  let name: string;
  let primary: number;
  if (typeof checked === "number") {
    name = options.name ?? "reward";
    primary = checked;
  } else {
    name = options.primary ?? Object.keys(checked)[0]!;
    // Own keys only: `primary: "toString"` must not pick up what every object inherits.
    if (!Object.hasOwn(checked, name)) {
      throw new ValidationError("reward", [{ path: "primary", message: `primary '${name}' is not one of ${Object.keys(checked).join(", ")}` }]);
    }
    primary = checked[name]!;
  }
  const feedback = feedbackText(options.feedback);
  const final = options.final ?? options.callId === undefined;
  const attributes: Record<string, JsonValue> = { [Attr.rewardValue]: primary, [Attr.rewardName]: name };
  if (typeof checked !== "number") attributes[Attr.rewardValues] = { ...checked };
  attributes[Attr.rewardFinal] = final;
  if (options.callId !== undefined) attributes[Attr.rewardCallId] = options.callId;
  const event: Record<string, JsonValue> = { [Attr.evaluationName]: name, [Attr.evaluationScore]: primary };
  if (feedback !== undefined) {
    attributes[Attr.rewardFeedback] = feedback;
    event[Attr.evaluationExplanation] = feedback;
  }
  return { value: primary, final, feedback, attributes, event: { name: EventNames.evaluationResult, attributes: event } };
}

/** The feedback option checked: a well-formed string within the limit; empty counts as none. */
function feedbackText(feedback: unknown): string | undefined {
  if (feedback === undefined) return undefined;
  if (typeof feedback !== "string") throw feedbackError(`expected a string, got ${feedback === null ? "null" : Array.isArray(feedback) ? "an array" : typeof feedback}`);
  if (!feedback.isWellFormed()) throw feedbackError("contains a lone surrogate (not valid Unicode text)");
  if (feedback.length > MAX_REWARD_FEEDBACK_CHARS) throw feedbackError(`is ${feedback.length} characters long; at most ${MAX_REWARD_FEEDBACK_CHARS} are recorded — have the evaluator summarize it`);
  return feedback.trim() === "" ? undefined : feedback;
}

function feedbackError(message: string): ValidationError {
  return new ValidationError("reward", [{ path: "feedback", message }]);
}
