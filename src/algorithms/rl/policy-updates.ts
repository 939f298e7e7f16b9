/**
 * The trainer's side of the backend conversation: sending a step's batch — RL's `train`, or SFT's
 * supervised `supervise` — with its hyperparameters, split into chunks when the backend refuses it
 * whole as too large; restoring a checkpoint; and following the policy to its new version —
 * version, endpoints and the model name each endpoint serves it under — in the gateway.
 */
import type { Gateway, UpstreamInput } from "../../gateway/index.js";
import { ConflictError, type Logger, TracetrainError, ValidationError } from "../../types/index.js";
import { BackendError } from "./backend-errors.js";
import type { ParsedRLOptions } from "./options.js";
import {
  type Endpoint,
  type Hyperparameters,
  HyperparametersSchema,
  type ParsedBackendInfo,
  type PolicyVersion,
  type SuperviseChatSample,
  type SuperviseSample,
  type TrainChunk,
  type TrainResponse,
  type TrainSample,
} from "./protocol.js";
import type { StepRecord } from "./step-record.js";

export interface UpdateOutcome {
  metrics: StepRecord["metrics"];
  skipped?: StepRecord["skipped"];
  /** Requests the step was sent in. */
  chunks: number;
}

/** What the updates need of an algorithm's options (RL's; SFT's with `mode: "sync"`). */
export type UpdateOptions = Pick<ParsedRLOptions, "backend" | "mode" | "hyperparameters" | "restore">;

/** One item of a supervised step: a token sample or a chat sample. */
export type SupervisedItem = { tokens: SuperviseSample } | { chat: SuperviseChatSample };

export class PolicyUpdates {
  constructor(
    private readonly options: UpdateOptions,
    private readonly info: ParsedBackendInfo,
    private readonly gateway: Gateway,
    private readonly logger: Logger,
    private current: PolicyVersion,
    /** Who speaks in warnings and errors: "RL", "SFT". */
    private readonly who = "RL",
  ) {
    checkCapabilities(options, info, who);
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
    const { backend } = this.options;
    return this.update(step, samples, (base, part, chunk) => backend.train({ ...base, samples: part, ...(chunk === undefined ? {} : { chunk }) }, { signal }));
  }

  /**
   * Sends one supervised step (token and chat samples, for SFT), as {@link train} sends a train
   * step: gateway paused around it in `sync` mode, split into chunks after a 413, the new version
   * installed. The caller checks that there is something to send and that the backend can take it.
   */
  async supervise(step: number, items: SupervisedItem[], signal: AbortSignal): Promise<UpdateOutcome> {
    const { backend } = this.options;
    const supervise = backend.supervise?.bind(backend);
    if (supervise === undefined) throw new ValidationError(`${this.who} options`, [{ path: "backend", message: "this backend has no supervise() method: it cannot take supervised steps" }]);
    return this.update(step, items, (base, part, chunk) => {
      const samples = part.flatMap((item) => ("tokens" in item ? [item.tokens] : []));
      const chat = part.flatMap((item) => ("chat" in item ? [item.chat] : []));
      return supervise({ ...base, ...(samples.length > 0 ? { samples } : {}), ...(chat.length > 0 ? { chat } : {}), ...(chunk === undefined ? {} : { chunk }) }, { signal });
    });
  }

  /** Sends a step's items through `post` and follows the policy to the version it produced. */
  private async update<T>(step: number, items: readonly T[], post: Post<T>): Promise<UpdateOutcome> {
    const hyperparameters = this.hyperparametersFor(step);
    const pausing = this.options.mode === "sync";
    if (pausing) await this.gateway.pause();
    try {
      try {
        const { response, chunks } = await this.send(step, items, hyperparameters, post);
        await this.install(response.policy_version, response.endpoints);
        return { metrics: response.metrics, chunks };
      } catch (error) {
        // The backend applied this step before (a resumed run): take its current policy and go on.
        if (!(error instanceof ConflictError)) throw error;
        const current = await this.options.backend.endpoints();
        await this.install(current.policy_version, current.endpoints);
        this.logger.warn(`${this.who}: the backend had already applied step ${step}; continuing from policy ${current.policy_version}`);
        return { metrics: {}, skipped: "already applied", chunks: 0 };
      }
    } finally {
      if (pausing) this.gateway.resume();
    }
  }

  /** Serves a backend checkpoint's policy (the `restore` option). */
  async restore(checkpointId: string): Promise<void> {
    const { backend } = this.options;
    if (!backend.restore) throw new ValidationError(`${this.who} options`, [{ path: "restore", message: "this backend has no restore() method" }]);
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

  /**
   * Sends the step whole; after a 413 from a backend that takes chunked steps, in 2, 4, 8… chunks
   * (token weights stay those of the whole step), starting over from chunk 0 with each split.
   */
  private async send<T>(step: number, items: readonly T[], hyperparameters: Hyperparameters | undefined, post: Post<T>): Promise<{ response: TrainResponse; chunks: number }> {
    const base = { step, policy_version: this.current, ...(hyperparameters === undefined ? {} : { hyperparameters }) };
    for (let count = 1; ; count *= 2) {
      count = Math.min(count, items.length);
      try {
        if (count === 1) return { response: await post(base, [...items], undefined), chunks: 1 };
        return { response: await this.sendChunks(base, items, count, post), chunks: count };
      } catch (error) {
        if (!(error instanceof BackendError && error.code === "payload_too_large")) throw error;
        if (!this.info.capabilities.chunked_train) {
          throw new TracetrainError(
            "payload_too_large",
            `the backend refused step ${step} (${items.length} samples) as too large and does not take chunked steps (capabilities.chunked_train): ${this.who === "RL" ? "lower tasksPerStep or groupSize" : "lower tasksPerRound or samplesPerTask"}, or raise the backend's request size limit`,
            { step, samples: items.length },
            { cause: error },
          );
        }
        if (count === items.length) {
          throw new TracetrainError("payload_too_large", `the backend refused a single sample of step ${step} as too large: raise its request size limit or shorten the agent's trajectories`, { step }, { cause: error });
        }
        this.logger.warn(`${this.who}: the backend refused step ${step} in ${count} request(s) as too large; sending it in ${Math.min(count * 2, items.length)} chunks`);
      }
    }
  }

  private async sendChunks<T>(base: StepBase, items: readonly T[], count: number, post: Post<T>): Promise<TrainResponse> {
    const size = Math.ceil(items.length / count);
    let response: TrainResponse | undefined;
    for (let index = 0; index < count; index++) {
      response = await post(base, items.slice(index * size, (index + 1) * size), { index, count });
    }
    return response!;
  }

  /** The step's hyperparameters, checked against the names the backend takes. */
  private hyperparametersFor(step: number): Hyperparameters | undefined {
    const option = this.options.hyperparameters;
    if (option === undefined) return undefined;
    const value: unknown = typeof option === "function" ? option(step) : option;
    const parsed = HyperparametersSchema.safeParse(value);
    if (!parsed.success) {
      throw new ValidationError(`${this.who} options`, [{ path: "hyperparameters", message: `step ${step}: expected a record of numbers, strings and booleans (${parsed.error.issues[0]?.message ?? "invalid"})` }]);
    }
    const known = new Set(this.info.hyperparameters);
    const unknown = Object.keys(parsed.data).filter((name) => !known.has(name));
    if (unknown.length > 0) {
      const offered = this.info.hyperparameters.length === 0 ? "it takes none" : `it takes ${this.info.hyperparameters.join(", ")}`;
      throw new ValidationError(`${this.who} options`, unknown.map((name) => ({ path: `hyperparameters.${name}`, message: `the backend does not take hyperparameter '${name}' (${offered})` })));
    }
    return parsed.data;
  }
}

/** What the options ask of the backend that it must say it can do. */
function checkCapabilities(options: UpdateOptions, info: ParsedBackendInfo, who: string): void {
  if (options.mode === "async" && !info.capabilities.serves_while_training) {
    throw new ValidationError(`${who} options`, [
      { path: "mode", message: "'async' needs a backend that keeps serving while it trains (info().capabilities.serves_while_training); this one does not: use mode 'sync'" },
    ]);
  }
  if (options.restore !== undefined && (!info.capabilities.restore || options.backend.restore === undefined)) {
    throw new ValidationError(`${who} options`, [{ path: "restore", message: "this backend cannot restore checkpoints (info().capabilities.restore is false)" }]);
  }
}

interface StepBase {
  step: number;
  policy_version: PolicyVersion;
  hyperparameters?: Hyperparameters;
}

/** Posts one request of a step: its items, and which chunk it is when the step is split. */
type Post<T> = (base: StepBase, part: T[], chunk: TrainChunk | undefined) => Promise<TrainResponse>;

/** The gateway's upstreams for a backend's endpoints, each forwarding with its own model name. */
export function upstreamsOf(endpoints: readonly Endpoint[], capabilities: { token_ids: boolean; logprobs: boolean }): UpstreamInput[] {
  return endpoints.map((e) => ({ name: e.name, url: e.base_url, model: e.model, capabilities: { tokenIds: capabilities.token_ids, logprobs: capabilities.logprobs } }));
}
