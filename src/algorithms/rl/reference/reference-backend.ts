/**
 * The reference training backend: a small policy that really learns by policy gradient, on the
 * CPU, in-process, behind a real OpenAI-compatible endpoint with exact token ids and logprobs.
 * It lets the whole RL loop — agents sampling through the gateway, transitions with token ids,
 * clipped policy-gradient updates, new policy versions, checkpoints and restores — run end to end
 * in tests and the demo, in seconds and without a GPU or the network.
 *
 * Responses follow a grammar (grammar.ts): an answer among the actions, or a tool call whose tool
 * and argument value the policy chooses. The policy is log-linear over hashed features (policy.ts).
 * Supervised steps (`supervise`, for SFT) learn by next-token cross-entropy at the same choice
 * points, from token samples or from chat samples rendered with the policy's own chat template.
 */
import { readFile, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { ConflictError, TracetrainError, ValidationError, type ValidationIssue, parseOrThrow } from "../../../types/index.js";
import {
  type BackendInfo,
  type CheckpointRequest,
  CheckpointRequestSchema,
  type CheckpointResponse,
  type EndpointsResponse,
  type Hyperparameters,
  PROTOCOL,
  type RestoreRequest,
  RestoreRequestSchema,
  type RestoreResponse,
  type SuperviseChatSample,
  type SuperviseRequest,
  SuperviseRequestSchema,
  type TrainRequest,
  TrainRequestSchema,
  type TrainResponse,
  type TrainSample,
  type SuperviseSample,
  type PolicyVersion,
  trainedTokenCount,
} from "../protocol.js";
import { type StepRequest, type StepChunkAssembler, SuperviseChunkAssembler, TrainChunkAssembler } from "../train-chunks.js";
import type { TrainingBackend } from "../training-backend.js";
import { type RequestMessage, RequestMessageSchema, encodeAssistantMessage, encodeChat, isKnownToken, tokenize } from "./chat-template.js";
import { type Action, type Context, Grammar } from "./grammar.js";
import { Parameters, PolicyStateSchema, type Settings, policyStateProblem } from "./policy.js";
import { type ReferenceServer, type ServedModel, startReferenceServer } from "./server.js";
import { type TrainToken, type UpdateMetrics, type UpdateSettings, updatePolicy } from "./update.js";

export const REFERENCE_STATE_FORMAT = "tracetrain-reference/2";

/** Everything needed to bring a policy back: what {@link ReferenceBackend.state} returns and `restore` takes. */
export const ReferenceStateSchema = z.object({
  format: z.literal(REFERENCE_STATE_FORMAT),
  actions: z.array(z.string()).min(1),
  policyVersion: z.number().int().nonnegative(),
  /** The last train step applied; steps up to it are refused after a restore too. */
  lastStep: z.number().int().nonnegative().nullable(),
  policy: PolicyStateSchema,
});
export type ReferenceState = z.infer<typeof ReferenceStateSchema>;

export const ReferenceBackendOptionsSchema = z.strictObject({
  /** What the policy can answer, and the values it gives a tool parameter without an `enum`: phrases of one or more o200k tokens. */
  actions: z.array(z.string().min(1)).min(1).max(4096),
  /** Seeds sampling for requests without their own `seed` (default 0). */
  seed: z.number().int().default(0),
  /**
   * Plain SGD (the default) or Adam. Measured on the demo task (4 seeds, 12 steps): SGD reached
   * validation 1.0 in all four; Adam (0.05 to 0.2) stayed between 0.5 and 0.63, its per-parameter
   * normalization turning the zero-mean noise of early advantages into full-size steps.
   */
  optimizer: z.enum(["sgd", "adam"]).default("sgd"),
  /** Default 5 for SGD, 0.1 for Adam (measured over seeds on the demo task and the learning tests). */
  learningRate: z.number().positive().max(1000).optional(),
  /** Clip range below 1: a ratio under 1 − clipLow stops pushing a negative advantage (default 0.2). */
  clipLow: z.number().positive().max(1).default(0.2),
  /** Clip range above 1 ("clip-higher", DAPO): a ratio over 1 + clipHigh stops pushing a positive advantage (default 0.28). */
  clipHigh: z.number().positive().max(10).default(0.28),
  /** Weight of the entropy bonus (default 0.001). */
  entropyCoef: z.number().min(0).max(10).default(0.001),
  /** Cap of the truncated importance weight π_old/μ of stale samples (default 2). */
  tisCap: z.number().min(1).max(1000).default(2),
  /**
   * Longest gradient an update applies; a longer one is scaled down to it (default 1 for SGD, no
   * limit for Adam, whose steps are normalized anyway). It keeps one lucky one-token rollout —
   * whose token carries its whole rollout's weight — from moving the policy by several logits.
   */
  maxGradNorm: z.number().positive().optional(),
  /** Passes over each batch per update (default 1: REINFORCE with the trainer's group baseline; more: PPO-clip). */
  epochs: z.number().int().min(1).max(100).default(1),
  /** Entries of the hashed parameter vector; default 262144, or the restored state's. */
  featureBuckets: z.number().int().min(16).max(1 << 24).optional(),
  /** What the endpoint reports as logprobs: `processed` (default), the distribution sampled from; `raw`, the policy's at temperature 1. */
  logprobsMode: z.enum(["raw", "processed"]).default("processed"),
  /** The model name the endpoint serves (default "tracetrain-reference"). */
  model: z.string().min(1).max(256).default("tracetrain-reference"),
  /** The endpoint's name in `endpoints()` (default "reference"). */
  name: z.string().min(1).max(256).default("reference"),
  /** The interface the policy endpoint listens on (default "127.0.0.1"). */
  host: z.string().min(1).default("127.0.0.1"),
  /** Default 0: a free port. */
  port: z.number().int().min(0).max(65535).default(0),
  /** A state from {@link ReferenceBackend.state} (or a checkpoint file) to start from. */
  restore: ReferenceStateSchema.optional(),
  /** Where `checkpoint()` also writes `<checkpoint id>.json`, and where `restore` looks for checkpoints it does not hold in memory. */
  checkpointDir: z.string().min(1).optional(),
});
export type ReferenceBackendOptions = z.input<typeof ReferenceBackendOptionsSchema>;
type ResolvedOptions = z.output<typeof ReferenceBackendOptionsSchema>;

/** What a step's `hyperparameters` may set, with their ranges. */
const HyperparametersSchema = z.strictObject({
  learning_rate: z.number().positive().max(1000).optional(),
  entropy_coef: z.number().min(0).max(10).optional(),
  clip_low: z.number().positive().max(1).optional(),
  clip_high: z.number().positive().max(10).optional(),
  epochs: z.number().int().min(1).max(100).optional(),
  tis_cap: z.number().min(1).max(1000).optional(),
});
const HYPERPARAMETERS = Object.keys(HyperparametersSchema.shape);

const DEFAULT_FEATURE_BUCKETS = 1 << 18;
const DEFAULT_MAX_GRAD_NORM = { sgd: 1, adam: Infinity } as const;
const DEFAULT_LEARNING_RATE = { sgd: 5, adam: 0.1 } as const;
const CHECKPOINT_ID = /^[\w.-]+$/;

export class ReferenceBackend implements TrainingBackend {
  /** The endpoint's base URL, up to and including `/v1`. */
  readonly baseUrl: string;
  readonly model: string;
  private readonly options: ResolvedOptions;
  private readonly grammar: Grammar;
  private parameters: Parameters;
  private readonly server: ReferenceServer;
  private version: number;
  private lastStep: number | null;
  private readonly checkpoints = new Map<string, ReferenceState>();
  /** Parts of a chunked step by route; one step at a time across both (see {@link refuseApplied}). */
  private readonly chunks = { train: new TrainChunkAssembler(), supervise: new SuperviseChunkAssembler() };
  /** Updates and restores run one at a time; sampling goes on meanwhile from the parameters serving. */
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(options: ResolvedOptions, grammar: Grammar, parameters: Parameters, server: ReferenceServer) {
    this.options = options;
    this.grammar = grammar;
    this.parameters = parameters;
    this.server = server;
    this.baseUrl = server.baseUrl;
    this.model = options.model;
    this.version = options.restore?.policyVersion ?? 0;
    this.lastStep = options.restore?.lastStep ?? null;
  }

  /** Validates the options, builds (or restores) the policy and starts its endpoint. */
  static async start(input: ReferenceBackendOptions): Promise<ReferenceBackend> {
    const options = parseOrThrow(ReferenceBackendOptionsSchema, input, "reference backend options");
    const actions = resolveActions(options.actions);
    const restore = options.restore;
    const size = options.featureBuckets ?? restore?.policy.size ?? DEFAULT_FEATURE_BUCKETS;
    if (restore) checkRestorable(restore, options.actions, size, "restore");
    const grammar = new Grammar(actions, size);
    let backend: ReferenceBackend | undefined;
    const initial = new Parameters(size, restore?.policy);
    const served: ServedModel = {
      name: options.model,
      grammar,
      seed: options.seed,
      logprobsMode: options.logprobsMode,
      parameters: () => backend?.parameters ?? initial,
      policyVersion: () => backend?.version ?? 0,
    };
    const server = await startReferenceServer({ model: served, host: options.host, port: options.port });
    backend = new ReferenceBackend(options, grammar, initial, server);
    return backend;
  }

  /** The current policy version: 0 at start (or the restored one), +1 per update. */
  get policyVersion(): number {
    return this.version;
  }

  async info(): Promise<BackendInfo> {
    const { optimizer, epochs } = this.options;
    const loss = epochs === 1 ? "REINFORCE with the trainer's group baseline (one pass: the clipped ratio is 1)" : `PPO-clip over ${epochs} passes (decoupled: proximal logprobs recomputed, truncated IS for stale samples)`;
    return {
      protocol: PROTOCOL,
      model: this.model,
      policy_version: this.version,
      capabilities: {
        token_ids: true,
        logprobs: true,
        logprobs_mode: this.options.logprobsMode,
        checkpoint: true,
        restore: true,
        chunked_train: true,
        serves_while_training: true,
        supervised: true,
        supervised_chat: true,
      },
      hyperparameters: HYPERPARAMETERS,
      name: `tracetrain reference backend: log-linear policy over hashed features at choice points (answer or tool call, tool, argument) with a copy pointer, ${this.grammar.actions.length} actions; ${loss}, entropy bonus, ${optimizer}; CPU`,
    };
  }

  async endpoints(): Promise<EndpointsResponse> {
    return {
      policy_version: this.version,
      endpoints: [{ name: this.options.name, base_url: this.baseUrl, model: this.model, policy_version: this.version }],
    };
  }

  /**
   * Applies one update (or holds one part of a chunked step). The update is computed on a copy of
   * the parameters, yielding to the event loop as it goes, so the endpoint keeps sampling from the
   * current version; the new parameters are swapped in whole and the version bumped at the end.
   */
  async train(request: TrainRequest, options?: { signal?: AbortSignal }): Promise<TrainResponse> {
    options?.signal?.throwIfAborted();
    this.checkOpen();
    const batch = parseOrThrow(TrainRequestSchema, request, "train request");
    const settings = this.updateSettings(batch.hyperparameters, "train request");
    return this.exclusive(async () => {
      this.refuseApplied("train", batch.step);
      const outcome = this.assemble("train", this.chunks.train, batch);
      if (outcome.pending) return { policy_version: this.version, metrics: {}, pending: true };
      const whole = outcome.request;
      const tokens = this.learnTokens(whole.samples.map((sample, i) => trainSequence(sample, i)), "train request");
      const versionBefore = this.version;
      const { update, seconds } = await this.applyUpdate(whole.step, tokens, settings);
      return {
        policy_version: this.version,
        metrics: {
          ...update,
          choice_tokens: tokens.choices.length,
          forced_tokens: tokens.forced,
          samples: whole.samples.length,
          mean_reward: weightedMean(whole.samples, (s) => s.reward),
          mean_advantage: weightedMean(whole.samples, (s) => s.advantage),
          ...(typeof whole.policy_version === "number" ? { staleness: versionBefore - whole.policy_version } : {}),
          update_seconds: seconds,
        },
      };
    });
  }

  /**
   * Applies one supervised update — next-token cross-entropy at the choice points of the mask-1
   * tokens (forced tokens have probability 1 and carry no gradient) — or holds one part of a
   * chunked step. Chat samples are rendered with the policy's chat template; each assistant message
   * (but those with `weight: 0`) is a target and must be a response the grammar writes after the
   * messages before it. Steps share the counter of `train`; the new version is served the same way.
   * The entropy bonus is off unless the step's `entropy_coef` sets it: cross-entropy is the objective.
   */
  async supervise(request: SuperviseRequest, options?: { signal?: AbortSignal }): Promise<TrainResponse> {
    options?.signal?.throwIfAborted();
    this.checkOpen();
    const batch = parseOrThrow(SuperviseRequestSchema, request, "supervise request");
    const base = this.updateSettings(batch.hyperparameters, "supervise request");
    const settings: UpdateSettings = { ...base, entropyCoef: batch.hyperparameters?.entropy_coef === undefined ? 0 : base.entropyCoef, objective: "nll" };
    return this.exclusive(async () => {
      this.refuseApplied("supervise", batch.step);
      const outcome = this.assemble("supervise", this.chunks.supervise, batch);
      if (outcome.pending) return { policy_version: this.version, metrics: {}, pending: true };
      const whole = outcome.request;
      const samples = whole.samples ?? [];
      const chat = whole.chat ?? [];
      const sequences = [...samples.map((sample, i) => supervisedSequence(sample, i, this.version)), ...chat.flatMap((sample, i) => chatSequences(sample, i, this.version))];
      const tokens = this.learnTokens(sequences, "supervise request");
      const { update, seconds } = await this.applyUpdate(whole.step, tokens, settings);
      const rewards = [...samples, ...chat].flatMap((s) => (s.reward === undefined ? [] : [s.reward]));
      return {
        policy_version: this.version,
        metrics: {
          ...supervisedMetrics(update),
          tokens: sequences.reduce((n, q) => n + trainedTokenCount(q.mask), 0),
          choice_tokens: tokens.choices.length,
          forced_tokens: tokens.forced,
          samples: samples.length,
          chat_samples: chat.length,
          ...(rewards.length === 0 ? {} : { mean_reward: rewards.reduce((a, b) => a + b, 0) / rewards.length }),
          update_seconds: seconds,
        },
      };
    });
  }

  /** Keeps the current policy under an id (`name`, or `policy-v<version>`); with `checkpointDir`, also writes it as JSON. */
  async checkpoint(request: CheckpointRequest = {}): Promise<CheckpointResponse> {
    this.checkOpen();
    const { name } = parseOrThrow(CheckpointRequestSchema, request, "checkpoint request");
    const id = name ?? `policy-v${this.version}`;
    if (this.options.checkpointDir !== undefined && !CHECKPOINT_ID.test(id)) {
      throw new ValidationError("checkpoint request", [{ path: "name", message: "a checkpoint written to a file needs a name of letters, digits, '_', '.' and '-'" }]);
    }
    const existing = this.checkpoints.get(id);
    if (existing !== undefined && existing.policyVersion !== this.version) {
      throw new ConflictError(`checkpoint '${id}' already holds policy version ${existing.policyVersion}`, { checkpointId: id, policyVersion: existing.policyVersion });
    }
    const state = existing ?? this.state();
    this.checkpoints.set(id, state);
    const location = this.options.checkpointDir === undefined ? undefined : await this.writeCheckpoint(id, state, this.options.checkpointDir);
    return { checkpoint_id: id, policy_version: state.policyVersion, ...(location === undefined ? {} : { location }) };
  }

  /**
   * Serves a checkpoint's policy again — weights and optimizer state — from memory or from
   * `<checkpointDir>/<id>.json`. The last applied step is kept (a restore never lowers it), and
   * parts of a chunked step held so far are dropped.
   */
  async restore(request: RestoreRequest): Promise<RestoreResponse> {
    this.checkOpen();
    const { checkpoint_id: id } = parseOrThrow(RestoreRequestSchema, request, "restore request");
    return this.exclusive(async () => {
      const state = this.checkpoints.get(id) ?? (await this.readCheckpoint(id));
      this.parameters = new Parameters(this.parameters.size, state.policy);
      this.version = state.policyVersion;
      this.lastStep = maxStep(this.lastStep, state.lastStep);
      this.chunks.train.reset();
      this.chunks.supervise.reset();
      return { policy_version: this.version, last_step: this.lastStep };
    });
  }

  /** The policy's state — current, or that of a checkpoint — for `ReferenceBackend.start({ restore })`. */
  state(checkpointId?: string): ReferenceState {
    if (checkpointId !== undefined) {
      const saved = this.checkpoints.get(checkpointId);
      if (saved === undefined) throw new ValidationError("checkpoint id", [{ path: "checkpointId", message: `no checkpoint '${checkpointId}' (known: ${[...this.checkpoints.keys()].join(", ") || "none"})` }]);
      return structuredClone(saved);
    }
    return {
      format: REFERENCE_STATE_FORMAT,
      actions: this.grammar.actions.map((a) => a.text),
      policyVersion: this.version,
      lastStep: this.lastStep,
      policy: this.parameters.exportState(),
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.server.close();
  }

  private checkOpen(): void {
    if (this.closed) throw new ConflictError("the reference backend is closed");
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Hands a request to its route's assembler, after refusing it while the other route holds parts
   * of a step: train and supervised steps share one counter, so one step is assembled at a time.
   */
  private assemble<R extends StepRequest>(route: "train" | "supervise", assembler: StepChunkAssembler<R>, request: R) {
    const other = route === "train" ? this.chunks.supervise : this.chunks.train;
    if (other.pendingStep !== undefined) {
      throw new ValidationError(`${route} request`, [{ path: "chunk", message: `parts of ${route === "train" ? "supervised" : "train"} step ${other.pendingStep} are held; send its remaining parts before another step` }]);
    }
    return assembler.add(request);
  }

  /** A step number already applied, by either route, is refused: the counter is shared. */
  private refuseApplied(route: string, step: number): void {
    if (this.lastStep !== null && step <= this.lastStep) {
      throw new ConflictError(`${route} step ${step} was already applied (the last applied step is ${this.lastStep})`, { step, lastStep: this.lastStep });
    }
  }

  /**
   * Computes the update on a copy of the parameters, yielding to the event loop as it goes, so the
   * endpoint keeps sampling from the current version; the new parameters are swapped in whole and
   * the version bumped at the end.
   */
  private async applyUpdate(step: number, tokens: LearnTokens, settings: UpdateSettings): Promise<{ update: UpdateMetrics; seconds: number }> {
    const started = performance.now();
    const updated = this.parameters.clone();
    const update = await updatePolicy(updated, tokens.choices, settings);
    // The new version's feature values count this batch's contexts too.
    for (const context of tokens.contexts) updated.countDocument(context.features);
    this.checkOpen();
    this.parameters = updated;
    this.version++;
    this.lastStep = step;
    return { update, seconds: (performance.now() - started) / 1000 };
  }

  /** The update's settings: the options, overridden by the step's hyperparameters (unknown names refused, naming them). */
  private updateSettings(overrides: Hyperparameters | undefined, what: string): UpdateSettings {
    const unknown = Object.keys(overrides ?? {}).filter((name) => !HYPERPARAMETERS.includes(name));
    if (unknown.length > 0) {
      throw new ValidationError(
        what,
        unknown.map((name) => ({ path: `hyperparameters.${name}`, message: `not a hyperparameter of the reference backend (it takes ${HYPERPARAMETERS.join(", ")})` })),
      );
    }
    const step = parseOrThrow(HyperparametersSchema, overrides ?? {}, `${what} hyperparameters`);
    const o = this.options;
    return {
      optimizer: o.optimizer,
      learningRate: step.learning_rate ?? o.learningRate ?? DEFAULT_LEARNING_RATE[o.optimizer],
      entropyCoef: step.entropy_coef ?? o.entropyCoef,
      clipLow: step.clip_low ?? o.clipLow,
      clipHigh: step.clip_high ?? o.clipHigh,
      epochs: step.epochs ?? o.epochs,
      tisCap: step.tis_cap ?? o.tisCap,
      maxGradNorm: o.maxGradNorm ?? DEFAULT_MAX_GRAD_NORM[o.optimizer],
      logprobsMode: o.logprobsMode,
      currentVersion: this.version,
    };
  }

  /** The choice tokens of a batch (each run of mask-1 tokens parsed against the grammar), after checking every sequence's token ids. */
  private learnTokens(sequences: readonly LearnSequence[], what: string): LearnTokens {
    const issues: ValidationIssue[] = [];
    const choices: TrainToken[] = [];
    const contexts: Context[] = [];
    let forced = 0;
    for (const q of sequences) {
      if (q.problem !== undefined) {
        issues.push({ path: q.path("response", 0), message: q.problem });
        continue;
      }
      const unknown = [...q.promptIds, ...q.responseIds].findIndex((id) => !isKnownToken(id));
      if (unknown !== -1) {
        const inPrompt = unknown < q.promptIds.length;
        const id = inPrompt ? q.promptIds[unknown] : q.responseIds[unknown - q.promptIds.length];
        issues.push({ path: inPrompt ? q.path("prompt", unknown) : q.path("response", unknown - q.promptIds.length), message: `token id ${id} is not in the o200k_base vocabulary` });
        continue;
      }
      for (const [start, end] of generatedRuns(q.mask)) {
        const prompt = [...q.promptIds, ...q.responseIds.slice(0, start)];
        const parsed = this.grammar.parse(prompt, q.responseIds.slice(start, end));
        if ("problem" in parsed) {
          issues.push({ path: q.path("response", start), message: `${q.label}the generated tokens from here to ${end - 1} are not a response the reference policy writes after this prompt: ${parsed.problem}` });
          continue;
        }
        contexts.push(parsed.context);
        const positions = new Set(parsed.walk.choices.map((c) => c.at));
        forced += end - start - positions.size;
        for (const at of positions) {
          choices.push({
            choices: parsed.walk.choices.filter((c) => c.at === at),
            settings: q.settings,
            recorded: q.logprobs?.[start + at] ?? null,
            advantage: q.advantage,
            weight: q.weight,
            policyVersion: q.policyVersion,
          });
        }
      }
    }
    if (issues.length > 0) throw new ValidationError(what, issues.slice(0, 20));
    if (choices.length === 0 && forced === 0) throw new ValidationError(what, [{ path: "samples", message: "no response token has mask 1: there is nothing to learn from" }]);
    return { choices, forced, contexts };
  }

  private async writeCheckpoint(id: string, state: ReferenceState, dir: string): Promise<string> {
    await mkdir(dir, { recursive: true });
    const path = join(dir, `${id}.json`);
    await writeFile(path, JSON.stringify(state));
    return path;
  }

  private async readCheckpoint(id: string): Promise<ReferenceState> {
    const dir = this.options.checkpointDir;
    const known = `known: ${[...this.checkpoints.keys()].join(", ") || "none"}`;
    if (dir === undefined || !CHECKPOINT_ID.test(id)) throw new TracetrainError("not_found", `no checkpoint '${id}' (${known}${dir === undefined ? "; no checkpointDir to look in" : ""})`);
    let text: string;
    try {
      text = await readFile(join(dir, `${id}.json`), "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new TracetrainError("not_found", `no checkpoint '${id}' in memory (${known}) or in ${dir}`);
      throw error;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new ValidationError("checkpoint file", [{ path: join(dir, `${id}.json`), message: "not valid JSON" }]);
    }
    const state = parseOrThrow(ReferenceStateSchema, json, `checkpoint file ${join(dir, `${id}.json`)}`);
    checkRestorable(state, this.grammar.actions.map((a) => a.text), this.parameters.size, "checkpoint_id");
    return state;
  }
}

/** Each action's token ids; an empty or repeated action is rejected by index. */
function resolveActions(texts: readonly string[]): Action[] {
  const issues: ValidationIssue[] = [];
  const seen = new Map<string, number>();
  const actions = texts.map((text, i): Action => {
    const ids = tokenize(text);
    const key = ids.join(",");
    if (seen.has(key)) issues.push({ path: `actions[${i}]`, message: `${JSON.stringify(text)} repeats actions[${seen.get(key)}]` });
    else seen.set(key, i);
    return { text, ids };
  });
  if (issues.length > 0) throw new ValidationError("reference backend options", issues);
  return actions;
}

function checkRestorable(state: ReferenceState, actions: readonly string[], size: number, path: string): void {
  const fail = (where: string, message: string) => {
    throw new ValidationError("reference backend options", [{ path: where, message }]);
  };
  // Different actions make every other mismatch a consequence: report only the cause.
  if (state.actions.length !== actions.length || state.actions.some((a, i) => a !== actions[i])) {
    fail(`${path}.actions`, `the state was trained on actions ${JSON.stringify(state.actions)}, not ${JSON.stringify(actions)}`);
  }
  const problem = policyStateProblem(state.policy, size);
  if (problem !== undefined) fail(`${path}.policy`, problem);
}

/** [start, end) of each run of consecutive mask-1 positions: one LLM call's generated tokens. */
function generatedRuns(mask: readonly number[]): Array<[number, number]> {
  const runs: Array<[number, number]> = [];
  let start = -1;
  mask.forEach((m, i) => {
    if (m === 1 && start === -1) start = i;
    if (m !== 1 && start !== -1) {
      runs.push([start, i]);
      start = -1;
    }
  });
  if (start !== -1) runs.push([start, mask.length]);
  return runs;
}

/** A token sequence to learn from, whichever route and form brought it. */
interface LearnSequence {
  /** Where an issue is reported: `samples[3].response_ids[7]`, `chat[1].messages[4]`. */
  path: (part: "prompt" | "response", index: number) => string;
  /** Prefix of a grammar problem's message (names a chat sample). */
  label: string;
  promptIds: readonly number[];
  responseIds: readonly number[];
  /** 1 for the tokens to learn. */
  mask: readonly (0 | 1)[];
  logprobs: readonly (number | null)[] | undefined;
  settings: Settings;
  advantage: number;
  weight: number;
  policyVersion: PolicyVersion | undefined;
  /** Why the sequence cannot be learnt at all (a chat message the template cannot render). */
  problem?: string;
}

interface LearnTokens {
  choices: TrainToken[];
  forced: number;
  contexts: Context[];
}

const DEFAULT_SETTINGS: Settings = { temperature: 1, topP: 1, topK: 0 };

function tokenPath(kind: string, index: number): LearnSequence["path"] {
  return (part, at) => `${kind}[${index}].${part}_ids[${at}]`;
}

function trainSequence(sample: TrainSample, index: number): LearnSequence {
  return {
    path: tokenPath("samples", index),
    label: "",
    promptIds: sample.prompt_ids,
    responseIds: sample.response_ids,
    mask: sample.response_mask,
    logprobs: sample.logprobs,
    settings: samplingOf(sample),
    advantage: sample.advantage,
    weight: sample.token_weight,
    policyVersion: sample.policy_version,
  };
}

/**
 * A supervised token sample: its tokens are targets (advantage 1), scored at temperature 1 — the
 * policy's own distribution, not the sampler's — and never stale (no ratio is taken).
 */
function supervisedSequence(sample: SuperviseSample, index: number, current: number): LearnSequence {
  return {
    path: tokenPath("samples", index),
    label: "",
    promptIds: sample.prompt_ids,
    responseIds: sample.response_ids,
    mask: sample.loss_mask,
    logprobs: undefined,
    settings: DEFAULT_SETTINGS,
    advantage: 1,
    weight: sample.token_weight,
    policyVersion: current,
  };
}

/**
 * A chat sample's targets: one sequence per assistant message (but those with `weight: 0`), its
 * prompt the messages before it rendered with the chat template, its response the tokens the
 * policy would write for it. The sample's weight is spread evenly over its target tokens.
 */
function chatSequences(sample: SuperviseChatSample, index: number, current: number): LearnSequence[] {
  const label = `sample '${sample.rollout_id}': `;
  const messages: RequestMessage[] = [];
  const targets: Array<{ at: number; promptIds: number[]; responseIds: number[]; problem?: string }> = [];
  sample.messages.forEach((wire, at) => {
    const parsed = RequestMessageSchema.safeParse(wire);
    if (!parsed.success) {
      targets.push({ at, promptIds: [], responseIds: [], problem: `${label}the chat template cannot render this message (${parsed.error.issues[0]?.message ?? "invalid"})` });
      return;
    }
    const message = parsed.data;
    if (message.role === "assistant" && wire.weight !== 0) {
      const responseIds = encodeAssistantMessage(message);
      const promptIds = encodeChat(messages, sample.tools);
      targets.push(responseIds.length === 0 ? { at, promptIds, responseIds, problem: `${label}an assistant message without text or tool calls has nothing to learn` } : { at, promptIds, responseIds });
    }
    messages.push(message);
  });
  if (targets.length === 0) {
    return [{ ...emptyChatSequence(index, label), problem: `${label}no assistant message to learn (every one has weight 0, or there is none)` }];
  }
  const tokens = targets.reduce((n, t) => n + t.responseIds.length, 0);
  return targets.map((t) => ({
    path: () => `chat[${index}].messages[${t.at}]`,
    label,
    promptIds: t.promptIds,
    responseIds: t.responseIds,
    mask: t.responseIds.map((): 1 => 1),
    logprobs: undefined,
    settings: DEFAULT_SETTINGS,
    advantage: 1,
    weight: sample.weight / Math.max(1, tokens),
    policyVersion: current,
    ...(t.problem === undefined ? {} : { problem: t.problem }),
  }));
}

function emptyChatSequence(index: number, label: string): LearnSequence {
  return { path: () => `chat[${index}].messages`, label, promptIds: [], responseIds: [], mask: [], logprobs: undefined, settings: DEFAULT_SETTINGS, advantage: 1, weight: 1, policyVersion: undefined };
}

/** What a supervised update reports: the cross-entropy and how far the policy moved (ratios, clipping and importance weights play no part). */
function supervisedMetrics(update: UpdateMetrics): Record<string, number> {
  const { loss, grad_norm, grad_clipped_fraction, entropy, approx_kl } = update;
  return { loss, grad_norm, grad_clipped_fraction, entropy, approx_kl };
}

function samplingOf(sample: TrainSample): Settings {
  const s = sample.sampling ?? {};
  return { temperature: s.temperature ?? 1, topP: s.top_p ?? 1, topK: Math.max(0, s.top_k ?? 0) };
}

function weightedMean(samples: readonly TrainSample[], value: (s: TrainSample) => number): number {
  const weightOf = (s: TrainSample) => s.token_weight * trainedTokenCount(s.response_mask);
  const total = samples.reduce((sum, s) => sum + weightOf(s), 0);
  return samples.reduce((sum, s) => sum + weightOf(s) * value(s), 0) / total;
}

function maxStep(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.max(a, b);
}
