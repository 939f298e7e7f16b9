/**
 * RL's side of the backend conversation: sending a step's batch (with its hyperparameters, split
 * into chunks when the backend refuses it whole as too large: chunked-send.ts), restoring a checkpoint, and
 * following the policy to its new version — version, endpoints and the model name each endpoint
 * serves it under — in the gateway.
 */
import type { Gateway, UpstreamInput } from "../../gateway/index.js";
import { ConflictError, type Logger, ValidationError } from "../../types/index.js";
import { sendStepInChunks } from "./chunked-send.js";
import type { ParsedRLOptions } from "./options.js";
import { type Endpoint, type Hyperparameters, HyperparametersSchema, type ParsedBackendInfo, type PolicyVersion, type TrainResponse, type TrainSample } from "./protocol.js";
import type { StepRecord } from "./step-record.js";

export interface UpdateOutcome {
  metrics: StepRecord["metrics"];
  skipped?: StepRecord["skipped"];
  /** Requests the step was sent in. */
  chunks: number;
}

export class PolicyUpdates {
  constructor(
    private readonly options: ParsedRLOptions,
    private readonly info: ParsedBackendInfo,
    private readonly gateway: Gateway,
    private readonly logger: Logger,
    private current: PolicyVersion,
  ) {
    checkCapabilities(options, info);
    if (options.hyperparameters !== undefined && typeof options.hyperparameters !== "function") this.hyperparametersFor(0);
  }

  get version(): PolicyVersion {
    return this.current;
  }

  /**
   * Sends one step's update. In `sync` mode the gateway is paused around it: no call reaches the
   * endpoints while their weights change, and calls arriving meanwhile wait for the new policy. In
   * `async` mode calls go on; the backend switches versions atomically.
   */
  async train(step: number, samples: TrainSample[], signal: AbortSignal): Promise<UpdateOutcome> {
    if (samples.length === 0 || samples.every((s) => s.advantage === 0)) return { metrics: {}, skipped: "no signal", chunks: 0 };
    const hyperparameters = this.hyperparametersFor(step);
    const pausing = this.options.mode === "sync";
    if (pausing) await this.gateway.pause();
    try {
      try {
        const { response, chunks } = await this.send(step, samples, hyperparameters, signal);
        await this.install(response.policy_version, response.endpoints);
        return { metrics: response.metrics, chunks };
      } catch (error) {
        // The backend applied this step before (a resumed run): take its current policy and go on.
        if (!(error instanceof ConflictError)) throw error;
        const current = await this.options.backend.endpoints();
        await this.install(current.policy_version, current.endpoints);
        this.logger.warn(`RL: the backend had already applied step ${step}; continuing from policy ${current.policy_version}`);
        return { metrics: {}, skipped: "already applied", chunks: 0 };
      }
    } finally {
      if (pausing) this.gateway.resume();
    }
  }

  /** Serves a backend checkpoint's policy (the `restore` option). */
  async restore(checkpointId: string): Promise<void> {
    const { backend } = this.options;
    if (!backend.restore) throw new ValidationError("RL options", [{ path: "restore", message: "this backend has no restore() method" }]);
    const restored = await backend.restore({ checkpoint_id: checkpointId });
    await this.install(restored.policy_version, restored.endpoints);
  }

  /**
   * Follows the policy to `version`: the endpoints given, or (when the version changed) the ones
   * the backend lists now, each with the model name it serves the policy under.
   */
  private async install(version: PolicyVersion, endpoints: Endpoint[] | undefined): Promise<void> {
    const serving = endpoints ?? (version === this.current ? undefined : (await this.options.backend.endpoints()).endpoints);
    if (serving) await this.gateway.setUpstreams(upstreamsOf(serving, this.info.capabilities));
    this.gateway.setPolicy({ ...this.gateway.policy, policyVersion: version });
    this.current = version;
  }

  /** Sends the step whole, or in chunks after a 413 from a backend that takes them (chunked-send.ts). */
  private async send(step: number, samples: TrainSample[], hyperparameters: Hyperparameters | undefined, signal: AbortSignal): Promise<{ response: TrainResponse; chunks: number }> {
    const base = { step, policy_version: this.current, ...(hyperparameters === undefined ? {} : { hyperparameters }) };
    return sendStepInChunks({
      step,
      items: samples,
      chunkedTrain: this.info.capabilities.chunked_train,
      logger: this.logger,
      sender: "RL",
      smaller: "lower tasksPerStep or groupSize",
      send: (part, chunk) => this.options.backend.train({ ...base, samples: part, ...(chunk === undefined ? {} : { chunk }) }, { signal }),
    });
  }

  /** The step's hyperparameters, checked against the names the backend takes. */
  private hyperparametersFor(step: number): Hyperparameters | undefined {
    const option = this.options.hyperparameters;
    if (option === undefined) return undefined;
    const value: unknown = typeof option === "function" ? option(step) : option;
    const parsed = HyperparametersSchema.safeParse(value);
    if (!parsed.success) {
      throw new ValidationError("RL options", [{ path: "hyperparameters", message: `step ${step}: expected a record of numbers, strings and booleans (${parsed.error.issues[0]?.message ?? "invalid"})` }]);
    }
    const known = new Set(this.info.hyperparameters);
    const unknown = Object.keys(parsed.data).filter((name) => !known.has(name));
    if (unknown.length > 0) {
      const offered = this.info.hyperparameters.length === 0 ? "it takes none" : `it takes ${this.info.hyperparameters.join(", ")}`;
      throw new ValidationError("RL options", unknown.map((name) => ({ path: `hyperparameters.${name}`, message: `the backend does not take hyperparameter '${name}' (${offered})` })));
    }
    return parsed.data;
  }
}

/** What the options ask of the backend that it must say it can do. */
function checkCapabilities(options: ParsedRLOptions, info: ParsedBackendInfo): void {
  if (options.mode === "async" && !info.capabilities.serves_while_training) {
    throw new ValidationError("RL options", [
      { path: "mode", message: "'async' needs a backend that keeps serving while it trains (info().capabilities.serves_while_training); this one does not: use mode 'sync'" },
    ]);
  }
  if (options.restore !== undefined && (!info.capabilities.restore || options.backend.restore === undefined)) {
    throw new ValidationError("RL options", [{ path: "restore", message: "this backend cannot restore checkpoints (info().capabilities.restore is false)" }]);
  }
}

/** The gateway's upstreams for a backend's endpoints, each forwarding with its own model name. */
export function upstreamsOf(endpoints: readonly Endpoint[], capabilities: { token_ids: boolean; logprobs: boolean }): UpstreamInput[] {
  return endpoints.map((e) => ({ name: e.name, url: e.base_url, model: e.model, capabilities: { tokenIds: capabilities.token_ids, logprobs: capabilities.logprobs } }));
}
