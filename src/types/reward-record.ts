/**
 * A reward as a reward span records it. Pure vocabulary, kept at the ground floor so the tracer's
 * emitters and the store server's reward route write the very same span.
 */
import type { JsonValue } from "./json.js";
import { Attr, EventNames } from "./conventions.js";
import { ValidationError } from "./errors.js";
import { parseRewardValue } from "./attempt.js";

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

/** A validated reward as a reward span records it: the one place that turns a value and options into attributes. */
export interface RewardRecord {
  /** The reward's value (with several named values, the primary one): the outcome reward when final. */
  readonly value: number;
  readonly final: boolean;
  /** The reward span's `tracetrain.reward.*` attributes (absent options left out). */
  readonly attributes: Record<string, JsonValue>;
  /** The `gen_ai.evaluation.result` event that mirrors the reward, so any OTel tool shows it as a score. */
  readonly event: { readonly name: string; readonly attributes: Record<string, JsonValue> };
}

/**
 * Validates a reward and computes what its span records — without recording anything. Shared by the
 * tracer's `emitReward` and `withReward` and the store server's reward route, so a reward posted
 * over HTTP is the very same span an in-process emitter writes. Throws a ValidationError naming
 * `value` or `primary` when the reward is not valid.
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
  const final = options.final ?? options.callId === undefined;
  const attributes: Record<string, JsonValue> = { [Attr.rewardValue]: primary, [Attr.rewardName]: name };
  if (typeof checked !== "number") attributes[Attr.rewardValues] = { ...checked };
  attributes[Attr.rewardFinal] = final;
  if (options.callId !== undefined) attributes[Attr.rewardCallId] = options.callId;
  return {
    value: primary,
    final,
    attributes,
    event: { name: EventNames.evaluationResult, attributes: { [Attr.evaluationName]: name, [Attr.evaluationScore]: primary } },
  };
}
