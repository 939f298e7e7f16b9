/**
 * The reference policy: a log-linear model over the candidates of each *choice point* of a
 * response (see grammar.ts), small enough to train on a CPU in seconds and real enough that the
 * whole RL loop — sampling, exact logprobs under the sampling settings, clipped policy-gradient
 * updates, checkpoints — is exercised for real.
 *
 *   logit(c) = Σ_f idf_f · θ[hash(f, slot, c)] + θ[hash(turn, slot, c)] + θ[hash(bias, slot, c)] + Σ_r θ[hash(copy, slot kind, r)]·mentions_r(c)
 *
 * Every parameter is one entry of a single hashed vector θ: a feature f of the context (a word of
 * the request or of the last message, valued by its IDF, see {@link Parameters}) conjoined with the choice point's slot and the candidate, so any candidate set works (the
 * offered tools, a parameter's enum, the backend's actions); a bias per (slot, candidate); and a
 * copy pointer, one scalar per (slot kind, role) added to every candidate the role's message
 * mentions ("repeat what the tool said"), which learns from every context at once. Everything
 * starts at zero, so the untrained policy is uniform at each choice point. Gradients are written by
 * hand (softmax of a linear function).
 */
import { z } from "zod";
import type { SeededRandom } from "../../../util/index.js";

export type OptimizerKind = "adam" | "sgd";

/** One term of a candidate's logit: θ[index] times the value of `feature` (a context feature's hash), or times 1 when `feature` is {@link CONSTANT}. */
export interface Term {
  index: number;
  feature: number;
}

/** The feature of bias, copy and turn terms: value 1 always. */
export const CONSTANT = -1;

/** A point where the policy chooses among candidates; each candidate's logit is a sum of terms. */
export interface ChoicePoint {
  /** What is chosen: `kind`, `answer`, `tool`, `arg:<tool>.<parameter>`. */
  slot: string;
  /** The candidates' keys (for display and matching). */
  keys: readonly string[];
  /** Per candidate, its logit's terms. */
  terms: readonly (readonly Term[])[];
}

/** How a response was sampled (the protocol's `sampling`, resolved). */
export interface Settings {
  /** 0: greedy. */
  temperature: number;
  topP: number;
  /** 0: no limit. */
  topK: number;
}

export const DEFAULT_SETTINGS: Settings = { temperature: 1, topP: 1, topK: 0 };

export function isDefaultSettings(s: Settings): boolean {
  return s.temperature === 1 && s.topP === 1 && s.topK === 0;
}

const ADAM_BETA1 = 0.9;
const ADAM_BETA2 = 0.999;
const ADAM_EPSILON = 1e-8;

/**
 * The policy's JSON form, for checkpoints: θ's entries that ever changed, with Adam's moments, and
 * the document frequencies behind the features' IDF values, so training resumes exactly.
 */
export const PolicyStateSchema = z.object({
  size: z.number().int().positive(),
  adamStep: z.number().int().nonnegative(),
  /** Contexts counted for IDF. */
  documents: z.number().int().nonnegative(),
  /** [feature hash, contexts it occurred in] */
  frequencies: z.array(z.tuple([z.number().int().nonnegative(), z.number().int().positive()])),
  /** [index, θ, Adam m, Adam v] */
  entries: z.array(z.tuple([z.number().int().nonnegative(), z.number(), z.number(), z.number()])),
});
export type PolicyState = z.infer<typeof PolicyStateSchema>;

/**
 * The parameters: θ, the optimizer's state, and the document frequencies that give each context
 * feature its value, idf = log((1 + contexts) / (1 + contexts with the feature)). The frequencies
 * are counted from each trained batch's contexts when the update is made and are part of the
 * version, so a version's sampler and its training see identical feature values. Words every
 * context shares (a template's, a system prompt's) weigh 0 and cannot drown the one word that tells
 * contexts apart. A copy can be updated while the original keeps serving.
 */
export class Parameters {
  readonly theta: Float64Array;
  private documents = 0;
  private readonly frequencies = new Map<number, number>();
  private readonly m: Float64Array;
  private readonly v: Float64Array;
  private adamStep = 0;
  /** Entries that ever had a gradient: all an optimizer step can change. */
  private readonly live: Set<number>;

  constructor(size: number, state?: PolicyState) {
    this.theta = new Float64Array(size);
    this.m = new Float64Array(size);
    this.v = new Float64Array(size);
    this.live = new Set();
    if (state) this.load(state);
  }

  get size(): number {
    return this.theta.length;
  }

  clone(): Parameters {
    const copy = new Parameters(0);
    Object.assign(copy, {
      theta: this.theta.slice(),
      m: this.m.slice(),
      v: this.v.slice(),
      adamStep: this.adamStep,
      live: new Set(this.live),
      documents: this.documents,
      frequencies: new Map(this.frequencies),
    });
    return copy;
  }

  /** A term's multiplier: 1 for constant terms, the feature's IDF otherwise. */
  value(feature: number): number {
    if (feature === CONSTANT) return 1;
    return Math.log((1 + this.documents) / (1 + (this.frequencies.get(feature) ?? 0)));
  }

  /** Counts one context's features (each once) for IDF. */
  countDocument(features: Iterable<number>): void {
    this.documents++;
    for (const f of new Set(features)) this.frequencies.set(f, (this.frequencies.get(f) ?? 0) + 1);
  }

  logits(point: ChoicePoint): Float64Array {
    return Float64Array.from(point.terms, (terms) => terms.reduce((sum, t) => sum + this.theta[t.index]! * this.value(t.feature), 0));
  }

  /** One optimizer step on a sparse gradient (index → ∂loss/∂θ). */
  step(gradient: ReadonlyMap<number, number>, optimizer: OptimizerKind, lr: number): void {
    for (const index of gradient.keys()) this.live.add(index);
    if (optimizer === "sgd") {
      for (const [i, g] of gradient) this.theta[i]! -= lr * g;
      return;
    }
    this.adamStep++;
    const c1 = 1 - ADAM_BETA1 ** this.adamStep;
    const c2 = 1 - ADAM_BETA2 ** this.adamStep;
    // Dense Adam restricted to live entries: an entry never touched has zero moments and gradient,
    // so Adam would not move it; touched ones keep moving on their momentum, as in dense Adam.
    for (const i of this.live) {
      const g = gradient.get(i) ?? 0;
      this.m[i] = ADAM_BETA1 * this.m[i]! + (1 - ADAM_BETA1) * g;
      this.v[i] = ADAM_BETA2 * this.v[i]! + (1 - ADAM_BETA2) * g * g;
      this.theta[i]! -= (lr * (this.m[i]! / c1)) / (Math.sqrt(this.v[i]! / c2) + ADAM_EPSILON);
    }
  }

  exportState(): PolicyState {
    const entries = [...this.live].sort((a, b) => a - b).map((i): [number, number, number, number] => [i, this.theta[i]!, this.m[i]!, this.v[i]!]);
    const frequencies = [...this.frequencies].sort((a, b) => a[0] - b[0]);
    return { size: this.size, adamStep: this.adamStep, documents: this.documents, frequencies, entries };
  }

  private load(state: PolicyState): void {
    const problem = policyStateProblem(state, this.size);
    if (problem !== undefined) throw new RangeError(problem);
    this.adamStep = state.adamStep;
    this.documents = state.documents;
    for (const [f, count] of state.frequencies) this.frequencies.set(f, count);
    for (const [i, theta, m, v] of state.entries) {
      this.theta[i] = theta;
      this.m[i] = m;
      this.v[i] = v;
      this.live.add(i);
    }
  }
}

/** Why `state` cannot be loaded into parameters of `size` entries, or undefined when it can. */
export function policyStateProblem(state: PolicyState, size: number): string | undefined {
  if (state.size !== size) return `the state has ${state.size} parameters, not ${size}`;
  const bad = state.entries.findIndex(([i]) => i >= size);
  return bad === -1 ? undefined : `entry ${bad} of the state is outside the ${size} parameters`;
}

// ---------------------------------------------------------------------------------------------
// The sampler's distribution and its gradient
// ---------------------------------------------------------------------------------------------

/**
 * The distribution the sampler draws from at a choice point: logits / temperature, then top-k, then
 * top-p (the smallest set of most likely candidates whose mass reaches it), renormalized — vLLM's
 * order. Excluded candidates get −∞; temperature 0 is greedy (the argmax gets logprob 0).
 */
export function processedLogProbs(logits: Float64Array, settings: Settings): Float64Array {
  const n = logits.length;
  if (settings.temperature === 0) {
    const best = argmax(logits);
    return Float64Array.from({ length: n }, (_, i) => (i === best ? 0 : -Infinity));
  }
  const scaled = logSoftmax(logits.map((x) => x / settings.temperature));
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scaled[b]! - scaled[a]! || a - b);
  const keep = settings.topK > 0 ? Math.min(settings.topK, n) : n;
  const kept: number[] = [];
  let mass = 0;
  for (const i of order.slice(0, keep)) {
    kept.push(i);
    mass += Math.exp(scaled[i]!);
    if (mass >= settings.topP) break;
  }
  const out = new Float64Array(n).fill(-Infinity);
  const logMass = Math.log(kept.reduce((sum, i) => sum + Math.exp(scaled[i]!), 0));
  for (const i of kept) out[i] = scaled[i]! - logMass;
  return out;
}

/**
 * ∂ log p̃(chosen) / ∂ logits for the processed distribution p̃: (onehot − p̃)/temperature on the
 * kept candidates, 0 elsewhere (the kept set is piecewise constant in the logits).
 */
export function processedLogProbGradient(processed: Float64Array, chosen: number, settings: Settings): Float64Array {
  const g = new Float64Array(processed.length);
  if (settings.temperature === 0) return g;
  processed.forEach((lp, j) => {
    if (lp !== -Infinity) g[j] = ((j === chosen ? 1 : 0) - Math.exp(lp)) / settings.temperature;
  });
  return g;
}

/** Entropy of softmax(logits / T) (T = 1 when greedy) and its gradient with respect to the logits. */
export function entropyAndGradient(logits: Float64Array, settings: Settings): { entropy: number; gradient: Float64Array } {
  const t = settings.temperature > 0 ? settings.temperature : 1;
  const lp = logSoftmax(logits.map((x) => x / t));
  const entropy = -lp.reduce((sum, l) => sum + Math.exp(l) * l, 0);
  return { entropy, gradient: lp.map((l) => (-Math.exp(l) * (l + entropy)) / t) };
}

export function logSoftmax(logits: Float64Array): Float64Array {
  const max = logits.reduce((a, b) => Math.max(a, b), -Infinity);
  const logSum = max + Math.log(logits.reduce((sum, x) => sum + Math.exp(x - max), 0));
  return logits.map((x) => x - logSum);
}

/** A candidate index drawn from a processed distribution (greedy picks its single kept candidate). */
export function sampleFrom(processed: Float64Array, random: SeededRandom): number {
  let u = random.next();
  let last = 0;
  for (let i = 0; i < processed.length; i++) {
    if (processed[i] === -Infinity) continue;
    last = i;
    u -= Math.exp(processed[i]!);
    if (u < 0) return i;
  }
  return last;
}

function argmax(values: Float64Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

// ---------------------------------------------------------------------------------------------
// Hashing
// ---------------------------------------------------------------------------------------------

/** FNV-1a of a string. */
export function hashString(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

/** Two hashes combined (murmur3's finalizer), into [0, size). */
export function combine(a: number, b: number, size: number): number {
  let h = (Math.imul(a, 0x9e3779b1) ^ b) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) % size;
}
