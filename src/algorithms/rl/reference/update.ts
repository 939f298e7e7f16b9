/**
 * One policy update of the reference backend: decoupled PPO-clip with clip-higher, truncated
 * importance sampling for stale samples and an entropy bonus, over the batch's choice tokens
 * (forced tokens have probability 1 under every parameter and carry no gradient).
 *
 *   loss = Σ_t w_t · [ −min(r_t·A_t, clip(r_t, 1 − ε_low, 1 + ε_high)·A_t) · ρ_t − β·H_t ] / Σ_t w_t
 *   r_t = π_θ(t) / π_prox(t),   ρ_t = min(π_prox(t) / μ(t), tis_cap)
 *
 * over the choice tokens t. w_t is the sample's `token_weight` (summed over tokens, never averaged
 * per sample, so a rollout weighs the same merged or split); the divisor is one constant per step,
 * the weight of the step's choice tokens, because forced tokens have no loss and would otherwise
 * shrink the step in proportion to how much tool-call syntax the responses hold. π are the *processed* probabilities under the sample's sampling settings (what
 * the sampler really drew from), π_prox the pre-update policy (recomputed here), μ the behaviour
 * policy that sampled. With one pass over fresh samples r = ρ = 1 and the gradient is REINFORCE's
 * with the trainer's group baseline; with more passes the clip bites (PPO).
 *
 * The same machinery makes the supervised step (`objective: "nll"`, for SFT): next-token
 * cross-entropy on the choice tokens, loss = −Σ_t w_t · log π_θ(t) / Σ_t w_t (plus the entropy
 * bonus), with no advantage, ratio, clip or importance weight — the tokens are targets, whoever
 * sampled them.
 */
import type { PlacedChoice } from "./grammar.js";
import {
  type OptimizerKind,
  type Parameters,
  type Settings,
  entropyAndGradient,
  isDefaultSettings,
  logSoftmax,
  processedLogProbGradient,
  processedLogProbs,
} from "./policy.js";

/** A response token that carries one or more choices. */
export interface TrainToken {
  choices: readonly PlacedChoice[];
  settings: Settings;
  /** The logprob the sampling engine recorded for the token; null when unknown. */
  recorded: number | null;
  advantage: number;
  weight: number;
  policyVersion: number | string | undefined;
}

export interface UpdateSettings {
  optimizer: OptimizerKind;
  learningRate: number;
  entropyCoef: number;
  clipLow: number;
  clipHigh: number;
  epochs: number;
  tisCap: number;
  /** The gradient is scaled down to this norm when longer (before the optimizer step). */
  maxGradNorm: number;
  logprobsMode: "raw" | "processed";
  /** The version serving now: samples from it were drawn by exactly the pre-update policy. */
  currentVersion: number;
  /** `policy_gradient` (the default): the clipped objective above; `nll`: next-token cross-entropy (supervised). */
  objective?: "policy_gradient" | "nll";
}

export interface UpdateMetrics {
  [name: string]: number | null;
  loss: number;
  mean_ratio: number;
  clip_fraction: number;
  /** Gradient norm of the first pass, before clipping. */
  grad_norm: number;
  /** Share of passes whose gradient was scaled down to `maxGradNorm`. */
  grad_clipped_fraction: number;
  entropy: number;
  approx_kl: number;
  /** Largest |recorded − recomputed| logprob over tokens sampled by the current version: ~0 when ratios are exact. */
  max_behaviour_gap: number;
  stale_tokens: number;
  /** Stale tokens with raw logprobs under non-default settings: their behaviour probability is unknown, the proximal one stands in. */
  inexact_behaviour_tokens: number;
  /** Weighted share of tokens whose importance weight hit `tis_cap`. */
  tis_capped_fraction: number;
}

/** Tokens between two yields to the event loop, so the endpoint keeps answering during an update. */
const TOKENS_PER_SLICE = 64;

/** Updates `parameters` in place (the caller passes a copy) and reports what happened. */
export async function updatePolicy(parameters: Parameters, tokens: readonly TrainToken[], settings: UpdateSettings): Promise<UpdateMetrics> {
  const proximal = tokens.map((t) => tokenLogProb(parameters, t, "processed"));
  const behaviour = behaviourOf(parameters, tokens, proximal, settings);
  const totalWeight = tokens.reduce((sum, t) => sum + t.weight, 0) || 1;
  let first: PassMetrics | undefined;
  let clippedPasses = 0;
  for (let epoch = 0; epoch < settings.epochs; epoch++) {
    const pass = await gradientPass(parameters, tokens, proximal, behaviour.logprobs, settings);
    // Forced tokens have no loss: normalizing by the weight of the tokens that do keeps the step
    // size independent of how many forced tokens (tool-call syntax) the step's responses hold.
    for (const [i, g] of pass.gradient) pass.gradient.set(i, g / totalWeight);
    pass.gradNorm /= totalWeight;
    pass.loss /= totalWeight;
    first ??= pass;
    if (pass.gradNorm > settings.maxGradNorm) {
      const scale = settings.maxGradNorm / pass.gradNorm;
      for (const [i, g] of pass.gradient) pass.gradient.set(i, g * scale);
      clippedPasses++;
    }
    parameters.step(pass.gradient, settings.optimizer, settings.learningRate);
  }
  let kl = 0;
  tokens.forEach((t, i) => (kl += t.weight * (proximal[i]! - tokenLogProb(parameters, t, "processed"))));
  return {
    loss: first?.loss ?? 0,
    mean_ratio: (first?.ratio ?? totalWeight) / totalWeight,
    clip_fraction: (first?.clipped ?? 0) / totalWeight,
    grad_norm: first?.gradNorm ?? 0,
    grad_clipped_fraction: clippedPasses / settings.epochs,
    entropy: (first?.entropy ?? 0) / totalWeight,
    approx_kl: kl / totalWeight,
    max_behaviour_gap: behaviour.maxGap,
    stale_tokens: behaviour.stale,
    inexact_behaviour_tokens: behaviour.inexact,
    tis_capped_fraction: (first?.capped ?? 0) / totalWeight,
  };
}

/** Σ over the token's choices of the chosen candidate's logprob, processed (sampler's) or raw. */
function tokenLogProb(parameters: Parameters, token: TrainToken, mode: "raw" | "processed"): number {
  return token.choices.reduce((sum, c) => {
    const logits = parameters.logits(c.point);
    return sum + (mode === "raw" ? logSoftmax(logits) : processedLogProbs(logits, token.settings))[c.chosen]!;
  }, 0);
}

/**
 * μ per token: the recorded logprob when it is the sampler's (processed, or raw at default
 * settings); otherwise the proximal one — exact when the sample came from the current version,
 * counted as inexact when stale.
 */
function behaviourOf(parameters: Parameters, tokens: readonly TrainToken[], proximal: readonly number[], settings: UpdateSettings) {
  let maxGap = 0;
  let stale = 0;
  let inexact = 0;
  const logprobs = tokens.map((t, i) => {
    const current = t.policyVersion === settings.currentVersion;
    if (!current) stale++;
    if (t.recorded === null) return proximal[i]!;
    const recordedIsSampler = settings.logprobsMode === "processed" || isDefaultSettings(t.settings);
    if (current) {
      const recomputed = settings.logprobsMode === "processed" ? proximal[i]! : tokenLogProb(parameters, t, "raw");
      maxGap = Math.max(maxGap, Math.abs(t.recorded - recomputed));
    }
    if (recordedIsSampler) return t.recorded;
    if (!current) inexact++;
    return proximal[i]!;
  });
  return { logprobs, maxGap, stale, inexact };
}

interface PassMetrics {
  gradient: Map<number, number>;
  loss: number;
  ratio: number;
  clipped: number;
  capped: number;
  entropy: number;
  gradNorm: number;
}

async function gradientPass(parameters: Parameters, tokens: readonly TrainToken[], proximal: readonly number[], behaviour: readonly number[], s: UpdateSettings): Promise<PassMetrics> {
  const gradient = new Map<number, number>();
  const pass: PassMetrics = { gradient, loss: 0, ratio: 0, clipped: 0, capped: 0, entropy: 0, gradNorm: 0 };
  for (let i = 0; i < tokens.length; i++) {
    if (i > 0 && i % TOKENS_PER_SLICE === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    tokenGradient(parameters, tokens[i]!, proximal[i]!, behaviour[i]!, s, pass);
  }
  let squares = 0;
  for (const g of gradient.values()) squares += g * g;
  pass.gradNorm = Math.sqrt(squares);
  return pass;
}

/** Adds one token's loss and gradient to the pass. */
function tokenGradient(parameters: Parameters, token: TrainToken, proximal: number, behaviour: number, s: UpdateSettings, pass: PassMetrics): void {
  const supervised = s.objective === "nll";
  // The pre-update policy cannot produce this token under its settings (top-p moved): no ratio exists.
  if (proximal === -Infinity && !supervised) return;
  const w = token.weight;
  const points = token.choices.map((c) => {
    const logits = parameters.logits(c.point);
    return { choice: c, logits, processed: processedLogProbs(logits, token.settings) };
  });
  const logprob = points.reduce((sum, p) => sum + p.processed[p.choice.chosen]!, 0);
  // ∂loss/∂log π of the token: its scale on each choice's log-probability gradient.
  const policyScale = supervised ? crossEntropyTerm(w, logprob, pass) : clippedTerm(token, logprob, proximal, behaviour, s, pass);
  for (const p of points) {
    const terms = p.choice.point.terms;
    const valueOf = parameters.termValues(p.choice.point);
    const { entropy, gradient: dEntropy } = entropyAndGradient(p.logits, token.settings);
    pass.entropy += w * entropy;
    pass.loss -= w * s.entropyCoef * entropy;
    // ∂loss/∂logits: policyScale·∂logπ − w·β·∂H
    const dLog = policyScale === 0 ? undefined : processedLogProbGradient(p.processed, p.choice.chosen, token.settings);
    terms.forEach((candidateTerms, j) => {
      const g = (dLog === undefined ? 0 : policyScale * dLog[j]!) - w * s.entropyCoef * dEntropy[j]!;
      if (g === 0) return;
      for (const t of candidateTerms) {
        const value = valueOf(t.feature);
        if (value !== 0) pass.gradient.set(t.index, (pass.gradient.get(t.index) ?? 0) + g * value);
      }
    });
  }
}

/** The clipped policy-gradient term of one token: adds its loss, returns −w·ρ·A·r (0 when clipped or impossible now). */
function clippedTerm(token: TrainToken, logprob: number, proximal: number, behaviour: number, s: UpdateSettings, pass: PassMetrics): number {
  const w = token.weight;
  const a = token.advantage;
  const r = Math.exp(logprob - proximal);
  const rawRho = Math.exp(proximal - behaviour);
  const rho = Math.min(rawRho, s.tisCap);
  if (rawRho > s.tisCap) pass.capped += w;
  const clippedRatio = Math.min(Math.max(r, 1 - s.clipLow), 1 + s.clipHigh);
  pass.loss -= w * rho * Math.min(r * a, clippedRatio * a);
  pass.ratio += w * r;
  // Past the clip range, on the side the advantage pushes towards, the min picks the constant term.
  const clipped = (a > 0 && r > 1 + s.clipHigh) || (a < 0 && r < 1 - s.clipLow);
  if (clipped) pass.clipped += w;
  return clipped || logprob === -Infinity ? 0 : -w * rho * a * r;
}

/**
 * The cross-entropy term of one token: adds −w·log π, returns −w. No ratio, clip or importance
 * weight: a target is learnt however far the policy has already moved towards it.
 */
function crossEntropyTerm(w: number, logprob: number, pass: PassMetrics): number {
  pass.loss -= w * logprob;
  pass.ratio += w;
  return -w;
}
