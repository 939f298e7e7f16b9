/**
 * Reassembling a step sent in parts (`chunk`): a backend with `capabilities.chunked_train` holds
 * the parts of one step, in order, and updates on the whole batch when the last part arrives — the
 * update is the same as if the step had come in one request. The same rules hold for both routes
 * that carry a step, `/v2/train` and `/v2/supervise`: only what a part carries differs.
 */
import { isDeepStrictEqual } from "node:util";
import { ValidationError } from "../../types/index.js";
import type { Hyperparameters, PolicyVersion, SuperviseRequest, TrainChunk, TrainRequest } from "./protocol.js";

/** What every request carrying a step has: the fields the parts of one step must agree on. */
export interface StepRequest {
  step: number;
  policy_version: PolicyVersion;
  hyperparameters?: Hyperparameters | undefined;
  chunk?: TrainChunk | undefined;
}

/** What a part of a step leads to: hold it, or update on the whole step. */
export type ChunkOutcome<R extends StepRequest = TrainRequest> = { pending: true } | { pending: false; request: R };

/**
 * Collects the parts of one step at a time; any inconsistency is refused naming the field, and the
 * held parts are kept. `append` adds a later part's samples to the step held so far.
 */
export class StepChunkAssembler<R extends StepRequest> {
  private held: { whole: R; count: number; next: number } | undefined;

  constructor(
    private readonly append: (held: R, part: R) => R,
    /** Names the request in errors ("train request", "supervise request"). */
    private readonly what: string,
  ) {}

  /** The step whose parts are held, if any. */
  get pendingStep(): number | undefined {
    return this.held?.whole.step;
  }

  /**
   * Takes a request: a request without `chunk` is a whole step (refused while another step's parts
   * are held); a part is held until the last one, which returns the whole step (without `chunk`).
   */
  add(request: R): ChunkOutcome<R> {
    const { chunk } = request;
    const held = this.held;
    if (chunk === undefined) {
      if (held !== undefined) this.refuse("chunk", `step ${held.whole.step} was sent in ${held.count} parts and only ${held.next} arrived; send its part ${held.next} before another step`);
      return { pending: false, request };
    }
    // A part 0 starts its step over: the sender re-split it (after a 413), so parts held from an
    // unfinished step are dropped.
    if (held === undefined || chunk.index === 0) {
      if (chunk.index !== 0) this.refuse("chunk.index", `expected part 0 of step ${request.step} first, got part ${chunk.index} of ${chunk.count}`);
      const { chunk: _chunk, ...whole } = request;
      this.held = { whole: whole as R, count: chunk.count, next: 1 };
    } else {
      this.checkPart(held.whole, held.count, held.next, request, chunk);
      held.whole = this.append(held.whole, request);
      held.next++;
    }
    const current = this.held!;
    if (current.next < current.count) return { pending: true };
    this.held = undefined;
    return { pending: false, request: current.whole };
  }

  /** Drops held parts (a restore makes them meaningless). */
  reset(): void {
    this.held = undefined;
  }

  private checkPart(first: R, count: number, next: number, part: R, chunk: TrainChunk): void {
    if (part.step !== first.step) this.refuse("step", `parts of step ${first.step} are held (${next} of ${count}); got a part of step ${part.step}`);
    if (chunk.count !== count) this.refuse("chunk.count", `step ${first.step} was announced in ${count} parts, this part says ${chunk.count}`);
    if (chunk.index !== next) this.refuse("chunk.index", `expected part ${next} of step ${first.step}, got part ${chunk.index}`);
    if (part.policy_version !== first.policy_version) this.refuse("policy_version", `part 0 of step ${first.step} said policy version ${first.policy_version}, this part says ${part.policy_version}`);
    if (part.hyperparameters !== undefined && !isDeepStrictEqual(part.hyperparameters, first.hyperparameters)) {
      this.refuse("hyperparameters", `a step's parts must carry the same hyperparameters as its part 0 (or none)`);
    }
  }

  private refuse(path: string, message: string): never {
    throw new ValidationError(this.what, [{ path, message }]);
  }
}

/** The parts of one `/v2/train` step. */
export class TrainChunkAssembler extends StepChunkAssembler<TrainRequest> {
  constructor() {
    super((held, part) => ({ ...held, samples: [...held.samples, ...part.samples] }), "train request");
  }
}

/** The parts of one `/v2/supervise` step: token samples and chat samples are each kept in order. */
export class SuperviseChunkAssembler extends StepChunkAssembler<SuperviseRequest> {
  constructor() {
    super((held, part) => {
      const samples = [...(held.samples ?? []), ...(part.samples ?? [])];
      const chat = [...(held.chat ?? []), ...(part.chat ?? [])];
      const { samples: _s, chat: _c, ...rest } = held;
      return { ...rest, ...(samples.length > 0 ? { samples } : {}), ...(chat.length > 0 ? { chat } : {}) };
    }, "supervise request");
  }
}
