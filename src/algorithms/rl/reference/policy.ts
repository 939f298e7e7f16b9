/**
 * The reference policy: a log-linear model over a small output vocabulary (the actions), small
 * enough to train on a CPU in seconds and real enough that the whole RL loop — sampling, exact
 * logprobs, PPO-clip updates, checkpoints — is exercised for real.
 *
 *   logits(ctx) = bias + Σ_f x_f(ctx)·W[f] + Σ_p copy[p]·mentioned_p(ctx)
 *
 * with x a sparse vector of hashed features of the context's token ids (W ∈ R^{F × actions}), and
 * a pointer term: `copy[p]` (one scalar per hashed role) added to the logit of every action the
 * context's last message mentions, so "repeat what the user / the tool said" is one parameter that
 * learns from every context, not one per action. Everything starts at zero, so the untrained
 * policy is uniform. Gradients are written by hand (softmax + linear: ∂logπ(a)/∂logits =
 * onehot(a) − π).
 */
import { z } from "zod";
import type { SeededRandom } from "../../../util/index.js";
import { type ContextMessage, splitMessages, tokenText } from "./chat-template.js";

export type OptimizerKind = "adam" | "sgd";

export interface PolicyOptions {
  actionCount: number;
  /** Rows of W (and entries of the copy table); features are hashed into this many buckets. */
  featureBuckets: number;
  learningRate: number;
  /** PPO's ε: ratios outside [1 − ε, 1 + ε] stop pulling in the direction of the advantage. */
  clip: number;
  optimizer: OptimizerKind;
  /** Passes over each batch per update (PPO epochs); ratios move away from 1 after the first. */
  epochs: number;
}

/** One response token to learn from. */
export interface TrainToken {
  features: Features;
  /** Index of the sampled action. */
  action: number;
  /** The sampling policy's logprob of it; null: unknown (the current policy's is used, ratio 1). */
  oldLogprob: number | null;
  advantage: number;
  /** The token's share of the loss (its sample's weight). */
  weight: number;
}

export interface UpdateMetrics {
  loss: number;
  mean_ratio: number;
  clip_fraction: number;
  grad_norm: number;
  entropy: number;
  /** Mean (old − new) logprob of the batch's tokens after the update: how far the update moved. */
  approx_kl: number;
}

const ADAM_BETA1 = 0.9;
const ADAM_BETA2 = 0.999;
const ADAM_EPSILON = 1e-8;

/**
 * The policy's JSON form, for checkpoints. All parameters live in one vector — W's rows, then the
 * bias, then the copy table — and only its segments that ever changed are stored (a W row, the
 * bias, or one copy entry), with Adam's moments, so training resumes exactly.
 */
export const PolicyStateSchema = z.object({
  actionCount: z.number().int().positive(),
  featureBuckets: z.number().int().positive(),
  adamStep: z.number().int().nonnegative(),
  /** [offset, values, Adam m, Adam v] */
  segments: z.array(z.tuple([z.number().int().nonnegative(), z.array(z.number()), z.array(z.number()), z.array(z.number())])),
});
export type PolicyState = z.infer<typeof PolicyStateSchema>;

/** A sparse gradient: segment offset → values. */
type Gradient = Map<number, Float64Array>;

export class Policy {
  readonly options: PolicyOptions;
  private readonly theta: Float64Array;
  private readonly m: Float64Array;
  private readonly v: Float64Array;
  private adamStep = 0;
  /** Segments that ever had a gradient (offset → length), in first-touch order: all an optimizer step can change. */
  private readonly live = new Map<number, number>();

  constructor(options: PolicyOptions, state?: PolicyState) {
    this.options = options;
    const size = this.copyOffset(options.featureBuckets);
    this.theta = new Float64Array(size);
    this.m = new Float64Array(size);
    this.v = new Float64Array(size);
    if (state) this.load(state);
  }

  private get biasOffset(): number {
    return this.options.featureBuckets * this.options.actionCount;
  }

  private copyOffset(entry: number): number {
    return this.biasOffset + this.options.actionCount + entry;
  }

  /** Log-probabilities of every action in a context with features `features`. */
  logProbs(features: Features): Float64Array {
    const k = this.options.actionCount;
    const logits = this.theta.slice(this.biasOffset, this.biasOffset + k);
    features.rows.forEach((row, f) => {
      const base = row * k;
      const x = features.values[f]!;
      for (let a = 0; a < k; a++) logits[a]! += x * this.theta[base + a]!;
    });
    for (const pointer of features.pointers) {
      const weight = this.theta[this.copyOffset(pointer.entry)]!;
      for (const a of pointer.actions) logits[a]! += weight;
    }
    return logSoftmax(logits);
  }

  /**
   * One PPO-clip update from `tokens`. The loss is the weighted mean over tokens of
   * −min(r·A, clip(r, 1−ε, 1+ε)·A) with r = π_new(a)/π_old(a).
   */
  update(tokens: readonly TrainToken[]): UpdateMetrics {
    const totalWeight = tokens.reduce((sum, t) => sum + t.weight, 0);
    // Unknown old logprobs are fixed once, before any epoch, so later epochs measure real drift.
    const old = tokens.map((t) => t.oldLogprob ?? this.logProbs(t.features)[t.action]!);
    const sums = { loss: 0, ratio: 0, clipped: 0, gradNorm: 0, entropy: 0 };
    const epochs = this.options.epochs;
    for (let epoch = 0; epoch < epochs; epoch++) {
      const pass = this.gradient(tokens, old, totalWeight);
      sums.loss += pass.loss;
      sums.ratio += pass.ratio;
      sums.clipped += pass.clipped;
      sums.gradNorm += pass.gradNorm;
      if (epoch === 0) sums.entropy = pass.entropy;
      this.step(pass.gradient);
    }
    let kl = 0;
    tokens.forEach((t, i) => (kl += t.weight * (old[i]! - this.logProbs(t.features)[t.action]!)));
    return {
      loss: sums.loss / epochs,
      mean_ratio: sums.ratio / epochs,
      clip_fraction: sums.clipped / epochs,
      grad_norm: sums.gradNorm / epochs,
      entropy: sums.entropy,
      approx_kl: kl / totalWeight,
    };
  }

  /** Loss and its sparse gradient for one pass over the batch. */
  private gradient(tokens: readonly TrainToken[], old: readonly number[], totalWeight: number) {
    const { actionCount: k, clip } = this.options;
    const gradient: Gradient = new Map();
    const segment = (offset: number, length: number) => {
      let values = gradient.get(offset);
      if (values === undefined) gradient.set(offset, (values = new Float64Array(length)));
      return values;
    };
    let loss = 0;
    let ratio = 0;
    let clipped = 0;
    let entropy = 0;
    tokens.forEach((token, i) => {
      const logProbs = this.logProbs(token.features);
      const r = Math.exp(logProbs[token.action]! - old[i]!);
      const a = token.advantage;
      const share = token.weight / totalWeight;
      loss -= share * Math.min(r * a, clamp(r, 1 - clip, 1 + clip) * a);
      ratio += share * r;
      entropy -= share * logProbs.reduce((sum, lp) => sum + Math.exp(lp) * lp, 0);
      // Past the clip range, on the side the advantage pushes towards, the min picks the constant term.
      if ((a > 0 && r > 1 + clip) || (a < 0 && r < 1 - clip)) {
        clipped += share;
        return;
      }
      // ∂(−share·r·A)/∂logits = −share·A·r·(onehot(action) − π)
      const coefficient = -share * a * r;
      const g = new Float64Array(k);
      for (let j = 0; j < k; j++) g[j] = coefficient * ((j === token.action ? 1 : 0) - Math.exp(logProbs[j]!));
      addInto(segment(this.biasOffset, k), g, 1);
      token.features.rows.forEach((row, f) => addInto(segment(row * k, k), g, token.features.values[f]!));
      for (const pointer of token.features.pointers) {
        segment(this.copyOffset(pointer.entry), 1)[0]! += pointer.actions.reduce((sum, action) => sum + g[action]!, 0);
      }
    });
    let squares = 0;
    for (const values of gradient.values()) squares += values.reduce((sum, x) => sum + x * x, 0);
    return { loss, ratio, clipped, entropy, gradNorm: Math.sqrt(squares), gradient };
  }

  private step(gradient: Gradient): void {
    for (const [offset, values] of gradient) if (!this.live.has(offset)) this.live.set(offset, values.length);
    const lr = this.options.learningRate;
    if (this.options.optimizer === "sgd") {
      for (const [offset, values] of gradient) values.forEach((g, j) => (this.theta[offset + j]! -= lr * g));
      return;
    }
    this.adamStep++;
    const c1 = 1 - ADAM_BETA1 ** this.adamStep;
    const c2 = 1 - ADAM_BETA2 ** this.adamStep;
    // Dense Adam restricted to live segments: a segment never touched has zero moments and zero
    // gradient, so Adam would not move it; touched ones keep moving on their momentum, as in dense Adam.
    for (const [offset, length] of this.live) {
      const g = gradient.get(offset);
      for (let j = 0; j < length; j++) {
        const i = offset + j;
        const grad = g?.[j] ?? 0;
        this.m[i] = ADAM_BETA1 * this.m[i]! + (1 - ADAM_BETA1) * grad;
        this.v[i] = ADAM_BETA2 * this.v[i]! + (1 - ADAM_BETA2) * grad * grad;
        this.theta[i]! -= (lr * (this.m[i]! / c1)) / (Math.sqrt(this.v[i]! / c2) + ADAM_EPSILON);
      }
    }
  }

  exportState(): PolicyState {
    const slice = (values: Float64Array, offset: number, length: number) => Array.from(values.subarray(offset, offset + length));
    return {
      actionCount: this.options.actionCount,
      featureBuckets: this.options.featureBuckets,
      adamStep: this.adamStep,
      segments: [...this.live].map(([offset, length]) => [offset, slice(this.theta, offset, length), slice(this.m, offset, length), slice(this.v, offset, length)]),
    };
  }

  private load(state: PolicyState): void {
    const problem = policyStateProblem(state, this.options.actionCount, this.options.featureBuckets);
    if (problem !== undefined) throw new RangeError(problem);
    this.adamStep = state.adamStep;
    for (const [offset, values, m, v] of state.segments) {
      this.theta.set(values, offset);
      this.m.set(m, offset);
      this.v.set(v, offset);
      this.live.set(offset, values.length);
    }
  }
}

/** Why `state` cannot be loaded into a policy of this shape, or undefined when it can. */
export function policyStateProblem(state: PolicyState, actionCount: number, featureBuckets: number): string | undefined {
  if (state.actionCount !== actionCount) return `the state's policy has ${state.actionCount} actions, not ${actionCount}`;
  if (state.featureBuckets !== featureBuckets) return `the state has ${state.featureBuckets} feature buckets, not ${featureBuckets}`;
  const bias = featureBuckets * actionCount;
  const size = bias + actionCount + featureBuckets;
  // A segment is a W row, the bias, or one copy entry, with its moments alongside.
  const fits = ([offset, values, m, v]: PolicyState["segments"][number]) => {
    const length = offset < bias ? (offset % actionCount === 0 ? actionCount : -1) : offset === bias ? actionCount : offset < size ? 1 : -1;
    return values.length === length && m.length === length && v.length === length;
  };
  const bad = state.segments.findIndex((segment) => !fits(segment));
  return bad === -1 ? undefined : `segment ${bad} of the state does not fit a policy of ${actionCount} actions and ${featureBuckets} feature buckets`;
}

// ---------------------------------------------------------------------------------------------
// Features
// ---------------------------------------------------------------------------------------------

/** A sparse feature vector: rows of W and their values, and the pointer terms. */
export interface Features {
  rows: Int32Array;
  values: Float64Array;
  /** An entry of the copy table, and the actions it adds its weight to. */
  pointers: Array<{ entry: number; actions: number[] }>;
}

/**
 * Hashed features of a context, computed from token ids alone so that training sees exactly what
 * sampling saw. The context is read as chat messages (see `splitMessages`); what matters is the
 * last finished message (a user request, a tool result) and the message being written:
 *
 * - the signature — (role of the last finished message, role of the message being written) — with
 *   value 1: which kind of turn this is;
 * - mentions: for each action whose text appears as a token of the last finished message (case and
 *   surrounding spaces ignored), (role, action) with value 1, and one pointer term (role) over all
 *   of them, whose single weight says "repeat what this role said" — the copy mechanism of pointer
 *   networks. It learns from every context at once, where a per-action feature learns only from
 *   the contexts that mention its action;
 * - the bag of tokens: (role, token id) for each distinct token of the last finished message, and
 *   of the message being written, each with value 1/(distinct tokens of its message).
 *
 * Conjunction with the role lets one token mean different things in a user message and in a tool
 * result. The bag is scaled to weigh as one feature because its tokens mostly repeat from context
 * to context (the template's words): at value 1 each, an update would move the shared part of every
 * logit by (tokens × learning rate) — mostly noise — and swamp the few tokens that tell contexts
 * apart; the policy then collapses onto one action before it learns anything (measured).
 */
export class FeatureSpace {
  private readonly mentions: ReadonlyMap<string, number>;

  /** `actions` are the action texts, in the policy's order. */
  constructor(
    readonly buckets: number,
    actions: readonly string[],
  ) {
    this.mentions = new Map(actions.map((text, i) => [normalize(text), i]));
  }

  featurize(ids: readonly number[]): Features {
    const messages = splitMessages(ids);
    const lastMessage = messages[messages.length - 1];
    const open: ContextMessage | undefined = lastMessage && !lastMessage.closed ? lastMessage : undefined;
    const previous = messages.findLast((m) => m.closed);
    const before = previous?.role ?? "";
    const writing = open?.role ?? "";
    const features = new Map<number, number>();
    const add = (row: number, value: number) => features.set(row, (features.get(row) ?? 0) + value);
    add(this.hash("signature", `${before}\n${writing}`, -1), 1);
    const previousTokens = new Set(previous?.tokens ?? []);
    const mentioned = new Set<number>();
    for (const token of previousTokens) {
      add(this.hash("previous", before, token), 1 / previousTokens.size);
      const action = this.mentions.get(normalize(tokenText(token)));
      if (action !== undefined) mentioned.add(action);
    }
    for (const action of mentioned) add(this.hash("mention", before, action), 1);
    const openTokens = new Set(open?.tokens ?? []);
    for (const token of openTokens) add(this.hash("writing", writing, token), 1 / openTokens.size);
    const pointers = mentioned.size > 0 ? [{ entry: this.hash("copy", before, -1), actions: [...mentioned] }] : [];
    return { rows: Int32Array.from(features.keys()), values: Float64Array.from(features.values()), pointers };
  }

  /** FNV-1a of the feature's parts, into [0, buckets). */
  private hash(kind: string, role: string, value: number): number {
    const key = `${kind}\u0000${role}\u0000${value}`;
    let hash = 0x811c9dc5;
    for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
    return (hash >>> 0) % this.buckets;
  }
}

/** Mentions ignore case and surrounding spaces: " Green" in a text mentions the action "green". */
function normalize(text: string): string {
  return text.trim().toLowerCase();
}

// ---------------------------------------------------------------------------------------------
// Softmax and sampling
// ---------------------------------------------------------------------------------------------

export function logSoftmax(logits: Float64Array): Float64Array {
  const max = logits.reduce((a, b) => Math.max(a, b), -Infinity);
  const logSum = max + Math.log(logits.reduce((sum, x) => sum + Math.exp(x - max), 0));
  return logits.map((x) => x - logSum);
}

export interface SamplingOptions {
  /** 0 = argmax; otherwise logits are divided by it. */
  temperature: number;
  /** Nucleus sampling: only the most likely actions whose probabilities add up to `topP` (1 = all). */
  topP: number;
  random: SeededRandom;
}

/** The index of a sampled action, from the policy's log-probabilities. */
export function sampleAction(logProbs: Float64Array, { temperature, topP, random }: SamplingOptions): number {
  if (temperature === 0) return argmax(logProbs);
  const probs = Array.from(logSoftmax(logProbs.map((lp) => lp / temperature)), Math.exp);
  const order = probs.map((_, i) => i).sort((a, b) => probs[b]! - probs[a]! || a - b);
  const kept: number[] = [];
  let mass = 0;
  for (const i of order) {
    kept.push(i);
    mass += probs[i]!;
    if (mass >= topP) break;
  }
  let u = random.next() * mass;
  for (const i of kept) {
    u -= probs[i]!;
    if (u < 0) return i;
  }
  return kept[kept.length - 1]!;
}

function argmax(values: Float64Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}

function addInto(target: Float64Array, values: Float64Array, scale: number): void {
  for (let j = 0; j < values.length; j++) target[j]! += scale * values[j]!;
}
