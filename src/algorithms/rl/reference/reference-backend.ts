/**
 * The reference training backend: a tiny policy that really learns by policy gradient, on the
 * CPU, in-process, behind a real OpenAI-compatible endpoint with exact token ids and logprobs.
 * It lets the whole RL loop — agents sampling through the gateway, transitions with token ids,
 * PPO updates, new policy versions, checkpoints — run end to end in tests and the demo, in seconds
 * and without a GPU or the network.
 *
 * Each response is one token from a fixed list of actions (see {@link ReferenceBackendOptions}).
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { ConflictError, ValidationError, type ValidationIssue } from "../../../types/index.js";
import { parseOrThrow } from "../../../types/index.js";
import {
  type BackendInfo,
  type CheckpointRequest,
  CheckpointRequestSchema,
  type CheckpointResponse,
  type EndpointsResponse,
  PROTOCOL,
  type TrainRequest,
  TrainRequestSchema,
  type TrainResponse,
  type TrainSample,
} from "../protocol.js";
import type { TrainingBackend } from "../training-backend.js";
import { isKnownToken, singleTokenId } from "./chat-template.js";
import { FeatureSpace, Policy, PolicyStateSchema, type TrainToken, policyStateProblem } from "./policy.js";
import { type Action, type ReferenceServer, type ServedModel, startReferenceServer } from "./server.js";

export const REFERENCE_STATE_FORMAT = "tracetrain-reference/1";

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

const ReferenceBackendOptionsSchema = z.strictObject({
  /** The output vocabulary: every response is exactly one of these, each exactly one o200k token. */
  actions: z.array(z.string().min(1)).min(1).max(4096),
  /** Seeds sampling for requests without their own `seed` (default 0). */
  seed: z.number().int().default(0),
  /**
   * Plain SGD (the default) or Adam. SGD learns fastest here: Adam's per-parameter normalization
   * turns the noisy gradients of parameters every context shares into full-size steps, which
   * collapses the policy onto one action early (measured on the treasure-box task).
   */
  optimizer: z.enum(["sgd", "adam"]).default("sgd"),
  /** Default 10 for SGD (the policy is log-linear and its gradients small and sparse), 0.05 for Adam. */
  learningRate: z.number().positive().max(1000).optional(),
  /** PPO's clip ε (default 0.2). */
  clip: z.number().positive().max(10).default(0.2),
  /** Passes over each batch per `train` call (default 1). */
  epochs: z.number().int().min(1).max(100).default(1),
  /** Hashed feature buckets (rows of the weight matrix); default 16384, or the restored state's. */
  featureBuckets: z.number().int().min(1).max(1 << 22).optional(),
  /** The model name the endpoint serves (default "tracetrain-reference"). */
  model: z.string().min(1).max(256).default("tracetrain-reference"),
  /** The endpoint's name in `endpoints()` (default "reference"). */
  name: z.string().min(1).max(256).default("reference"),
  host: z.string().min(1).default("127.0.0.1"),
  /** Default 0: a free port. */
  port: z.number().int().min(0).max(65535).default(0),
  /** A state from {@link ReferenceBackend.state} (or a checkpoint file) to start from. */
  restore: ReferenceStateSchema.optional(),
  /** Where `checkpoint()` also writes `<checkpoint id>.json` (default: checkpoints are kept in memory only). */
  checkpointDir: z.string().min(1).optional(),
});
export type ReferenceBackendOptions = z.input<typeof ReferenceBackendOptionsSchema>;
type ResolvedOptions = z.output<typeof ReferenceBackendOptionsSchema>;

const DEFAULT_FEATURE_BUCKETS = 1 << 14;
const DEFAULT_LEARNING_RATE = { sgd: 10, adam: 0.05 } as const;
const CHECKPOINT_ID = /^[\w.-]+$/;

export class ReferenceBackend implements TrainingBackend {
  /** The endpoint's base URL, up to and including `/v1`. */
  readonly baseUrl: string;
  readonly model: string;
  private readonly options: ResolvedOptions;
  private readonly actions: readonly Action[];
  private readonly actionIndex: ReadonlyMap<number, number>;
  private readonly policy: Policy;
  private readonly features: FeatureSpace;
  private readonly server: ReferenceServer;
  private version: number;
  private lastStep: number | null;
  private readonly checkpoints = new Map<string, ReferenceState>();
  private closed = false;

  private constructor(options: ResolvedOptions, actions: readonly Action[], policy: Policy, features: FeatureSpace, server: ReferenceServer) {
    this.options = options;
    this.features = features;
    this.actions = actions;
    this.actionIndex = new Map(actions.map((a, i) => [a.tokenId, i]));
    this.policy = policy;
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
    const featureBuckets = options.featureBuckets ?? restore?.policy.featureBuckets ?? DEFAULT_FEATURE_BUCKETS;
    if (restore) checkRestorable(restore, options.actions, featureBuckets);
    const learningRate = options.learningRate ?? DEFAULT_LEARNING_RATE[options.optimizer];
    const policy = new Policy(
      { actionCount: actions.length, featureBuckets, learningRate, clip: options.clip, optimizer: options.optimizer, epochs: options.epochs },
      restore?.policy,
    );
    const features = new FeatureSpace(featureBuckets, options.actions);
    let backend: ReferenceBackend | undefined;
    const served: ServedModel = {
      name: options.model,
      actions,
      seed: options.seed,
      logProbs: (promptIds) => policy.logProbs(features.featurize(promptIds)),
      policyVersion: () => backend?.version ?? 0,
    };
    const server = await startReferenceServer({ model: served, host: options.host, port: options.port });
    backend = new ReferenceBackend(options, actions, policy, features, server);
    return backend;
  }

  /** The current policy version: 0 at start (or the restored one), +1 per `train`. */
  get policyVersion(): number {
    return this.version;
  }

  async info(): Promise<BackendInfo> {
    return {
      protocol: PROTOCOL,
      model: this.model,
      policy_version: this.version,
      capabilities: { token_ids: true, logprobs: true, checkpoint: true },
      name: `tracetrain reference backend: log-linear policy with a copy pointer over ${this.actions.length} one-token actions, PPO-clip (${this.options.optimizer}), CPU`,
    };
  }

  async endpoints(): Promise<EndpointsResponse> {
    return {
      policy_version: this.version,
      endpoints: [{ name: this.options.name, base_url: this.baseUrl, model: this.model, policy_version: this.version }],
    };
  }

  /**
   * Applies one PPO-clip update. The update runs synchronously, so no request is ever sampled from
   * half-updated weights, and the endpoint serves the new version as soon as this resolves.
   */
  async train(request: TrainRequest, options?: { signal?: AbortSignal }): Promise<TrainResponse> {
    options?.signal?.throwIfAborted();
    this.checkOpen();
    const batch = parseOrThrow(TrainRequestSchema, request, "train request");
    if (this.lastStep !== null && batch.step <= this.lastStep) {
      throw new ConflictError(`train step ${batch.step} was already applied (the last applied step is ${this.lastStep})`, { step: batch.step, lastStep: this.lastStep });
    }
    const tokens = this.trainTokens(batch.samples);
    const versionBefore = this.version;
    const update = this.policy.update(tokens);
    this.version++;
    this.lastStep = batch.step;
    const weightOf = (s: TrainSample) => s.token_weight * s.response_mask.reduce<number>((sum, m) => sum + m, 0);
    const totalWeight = batch.samples.reduce((sum, s) => sum + weightOf(s), 0);
    const weighted = (value: (s: TrainSample) => number) => batch.samples.reduce((sum, s) => sum + weightOf(s) * value(s), 0) / totalWeight;
    return {
      policy_version: this.version,
      metrics: {
        ...update,
        tokens: tokens.length,
        samples: batch.samples.length,
        mean_reward: weighted((s) => s.reward),
        mean_advantage: weighted((s) => s.advantage),
        ...(typeof batch.policy_version === "number" ? { staleness: versionBefore - batch.policy_version } : {}),
      },
    };
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

  /** The policy's state — current, or that of a checkpoint — for `ReferenceBackend.start({ restore })`. */
  state(checkpointId?: string): ReferenceState {
    if (checkpointId !== undefined) {
      const saved = this.checkpoints.get(checkpointId);
      if (saved === undefined) throw new ValidationError("checkpoint id", [{ path: "checkpointId", message: `no checkpoint '${checkpointId}' (known: ${[...this.checkpoints.keys()].join(", ") || "none"})` }]);
      return structuredClone(saved);
    }
    return { format: REFERENCE_STATE_FORMAT, actions: this.actions.map((a) => a.text), policyVersion: this.version, lastStep: this.lastStep, policy: this.policy.exportState() };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.server.close();
  }

  private checkOpen(): void {
    if (this.closed) throw new ConflictError("the reference backend is closed");
  }

  /** One training token per response position with mask 1, after checking every sample's token ids. */
  private trainTokens(samples: readonly TrainSample[]): TrainToken[] {
    const issues = samples.flatMap((sample, s) => this.sampleIssues(sample, s)).slice(0, 20);
    if (issues.length > 0) throw new ValidationError("train request", issues);
    const tokens = samples.flatMap((sample) => this.sampleTokens(sample));
    if (tokens.length === 0) throw new ValidationError("train request", [{ path: "samples", message: "no response token has mask 1: there is nothing to learn from" }]);
    return tokens;
  }

  /** Token ids the tokenizer does not know, and generated (mask 1) tokens that are not actions: data from another model. */
  private sampleIssues(sample: TrainSample, s: number): ValidationIssue[] {
    const issues: ValidationIssue[] = [];
    const unknown = sample.prompt_ids.findIndex((id) => !isKnownToken(id));
    if (unknown !== -1) issues.push({ path: `samples[${s}].prompt_ids[${unknown}]`, message: `token id ${sample.prompt_ids[unknown]} is not in the o200k_base vocabulary` });
    sample.response_ids.forEach((id, i) => {
      if (sample.response_mask[i] === 1 && !this.actionIndex.has(id)) {
        issues.push({ path: `samples[${s}].response_ids[${i}]`, message: `token id ${id} has mask 1 but is not one of the backend's actions` });
      } else if (!isKnownToken(id)) {
        issues.push({ path: `samples[${s}].response_ids[${i}]`, message: `token id ${id} is not in the o200k_base vocabulary` });
      }
    });
    return issues;
  }

  /** The context of response position i is the prompt and the response before it. */
  private sampleTokens(sample: TrainSample): TrainToken[] {
    const tokens: TrainToken[] = [];
    sample.response_ids.forEach((id, i) => {
      const action = this.actionIndex.get(id);
      if (sample.response_mask[i] !== 1 || action === undefined) return;
      tokens.push({
        features: this.features.featurize([...sample.prompt_ids, ...sample.response_ids.slice(0, i)]),
        action,
        oldLogprob: sample.logprobs[i] ?? null,
        advantage: sample.advantage,
        weight: sample.token_weight,
      });
    });
    return tokens;
  }

  private async writeCheckpoint(id: string, state: ReferenceState, dir: string): Promise<string> {
    await mkdir(dir, { recursive: true });
    const path = join(dir, `${id}.json`);
    await writeFile(path, JSON.stringify(state));
    return path;
  }
}

/** Each action as its single o200k token; an action that is not exactly one token, or repeats, is rejected by index. */
function resolveActions(texts: readonly string[]): Action[] {
  const issues: ValidationIssue[] = [];
  const seen = new Map<number, number>();
  const actions = texts.map((text, i): Action => {
    const tokenId = singleTokenId(text);
    if (tokenId === undefined) issues.push({ path: `actions[${i}]`, message: `${JSON.stringify(text)} is not exactly one o200k_base token` });
    else if (seen.has(tokenId)) issues.push({ path: `actions[${i}]`, message: `${JSON.stringify(text)} repeats actions[${seen.get(tokenId)}]` });
    else seen.set(tokenId, i);
    return { text, tokenId: tokenId ?? -1 };
  });
  if (issues.length > 0) throw new ValidationError("reference backend options", issues);
  return actions;
}

function checkRestorable(state: ReferenceState, actions: readonly string[], featureBuckets: number): void {
  const fail = (path: string, message: string) => {
    throw new ValidationError("reference backend options", [{ path, message }]);
  };
  // Different actions make every other mismatch a consequence: report only the cause.
  if (state.actions.length !== actions.length || state.actions.some((a, i) => a !== actions[i])) {
    fail("restore.actions", `the state was trained on actions ${JSON.stringify(state.actions)}, not ${JSON.stringify(actions)}`);
  }
  const problem = policyStateProblem(state.policy, actions.length, featureBuckets);
  if (problem !== undefined) fail("restore.policy", problem);
}
